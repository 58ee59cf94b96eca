"""Study figures, each drawn from one aggregate table and saved as PNG and PDF.

Energies are in units of the coupling scale J (dimensionless); relative errors are
|E - E_exact| / |E_exact|. Every function copes with missing points (failed or
diverged runs, or no exact reference): it draws what exists and says what does not.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nqs_sweep.models import NETWORKS  # noqa: E402
from nqs_sweep.tables.columns import COUPLING_COLUMNS  # noqa: E402

FLOOR = 1e-12  # relative errors below this are drawn at the floor of the log axis
SMOOTH = 10  # iterations in the running mean of the convergence figure


def sweep_coupling(df: pd.DataFrame) -> str:
    """The coupling the study varies most (h for an Ising field sweep)."""
    best, n_best = None, -1
    for c in COUPLING_COLUMNS:
        if c in df and df[c].notna().any():
            n = df[c].nunique(dropna=True)
            if n > n_best:
                best, n_best = c, n
    return best or "J"


def _eq(column: pd.Series, value) -> pd.Series:
    """column == value, where NaN equals NaN (a model without the swept coupling)."""
    return column.isna() if pd.isna(value) else column == value


def _case(df: pd.DataFrame, coupling: str, model, lattice, cval, L=None) -> pd.DataFrame:
    """The rows of one panel: a model on a lattice at one value of the swept coupling (and one L)."""
    rows = (df["model"] == model) & (df["lattice"] == lattice) & _eq(df[coupling], cval)
    return df[rows & (df["L"] == L)] if L is not None else df[rows]


def _title(model, lattice, coupling: str, cval, L=None) -> str:
    size = f" L={L}" if L is not None else ""
    return f"{model} {lattice}{size}" + ("" if pd.isna(cval) else f", {coupling}={cval:g}")


def named_networks(df: pd.DataFrame) -> pd.DataFrame:
    """The table with networks that share an ansatz name told apart in the ansatz column, so
    figures that group by ansatz draw them as their own lines: separate amplitude and phase
    networks ('rbm amp/phase'), approximately symmetric ones ('gcnn dense readout'), and, where
    the table mixes them, real and complex parameters, runs with and without the sign rule, and
    networks in different symmetry sectors (the sector's label, 'no sector' for none), and points
    set apart by a setting outside the coordinates (the table's variant column, e.g.
    'optimizer_learning_rate=0.02'), so that no line joins different runs."""
    if df.empty:
        return df
    name = df["ansatz"].astype(str)
    if "parametrization" in df:
        name = name.where(df["parametrization"] != "amplitude_phase", name + " amp/phase")
    if "readout" in df:
        name = name.where(df["readout"] != "dense", name + " dense readout")
    if "range" in df:  # rbm_local's reach is part of what the network is
        reach = pd.to_numeric(df["range"], errors="coerce").fillna(0).astype(int)
        name = name.where(reach <= 0, name + " R=" + reach.astype(str))
    if "kernel" in df and df["kernel"].nunique() > 1:
        kernel = pd.to_numeric(df["kernel"], errors="coerce").fillna(0).astype(int)
        name = name.where(kernel <= 0, name + " kernel " + kernel.astype(str))
    for field in ("patch", "heads"):  # the transformer's shape, where a study varies it
        if field in df and df[field].nunique() > 1:
            value = pd.to_numeric(df[field], errors="coerce").fillna(0).astype(int)
            name = name.where(value <= 0, name + f" {field} " + value.astype(str))
    if "dtype" in df and df["dtype"].nunique() > 1:
        name = name + df["dtype"].map(lambda d: " complex" if str(d).startswith("complex") else "")
    if "marshall_sign" in df and df["marshall_sign"].nunique() > 1:
        name = name + df["marshall_sign"].map(lambda m: "" if m else ", no sign rule")
    if "sign_prior" in df and df["sign_prior"].fillna("none").nunique() > 1:
        name = name + df["sign_prior"].fillna("none").map(
            lambda p: "" if p == "none" else ", trained Z2 pair product" if p == "z2_pair_product" else f", {p} signs"
        )
    if "sampler_power" in df and df["sampler_power"].fillna(2.0).nunique() > 1:
        name = name + df["sampler_power"].fillna(2.0).map(lambda p: "" if p == 2 else f", |ψ|^{p:g} samples")
    if "variant" in df and df["variant"].fillna("").nunique() > 1:  # settings outside the coordinates
        name = name + df["variant"].fillna("").map(lambda v: f", {v.replace('~', '=').replace('/', ', ')}" if v else "")
    if "symmetry" in df and df["symmetry"].fillna("none").nunique() > 1:
        name = name + df["symmetry"].fillna("none").map(lambda s: ", no sector" if s == "none" else f", {s}")
    return df.assign(ansatz=name) if not name.equals(df["ansatz"]) else df


def _cases(df: pd.DataFrame, coupling: str) -> list[tuple]:
    return sorted(df.groupby(["model", "lattice", coupling], dropna=False).groups.keys(), key=str)


# No dates or versions in the files, so the same tables draw byte-identical figures.
_REPRODUCIBLE = {".pdf": {"CreationDate": None, "ModDate": None, "Producer": None}, ".png": {"Software": None}}


def save_figure(fig, outputs: list[str | Path]) -> None:
    for out in outputs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=130, bbox_inches="tight", metadata=_REPRODUCIBLE.get(Path(out).suffix, {}))
    plt.close(fig)


def empty_figure(outputs, message: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.axis("off")
    save_figure(fig, outputs)


def colors_for(values) -> dict:
    values = sorted(set(values))
    cmap = plt.get_cmap("viridis")
    # up to 0.75 of viridis: its yellow end is hard to read on white
    return {v: cmap(i / max(len(values) - 1, 1) * 0.75) for i, v in enumerate(values)}


def over_seeds(rows: pd.DataFrame, by: str | list[str], columns: list[str]) -> pd.DataFrame:
    """Per value of ``by``: each column's mean over the rows there (the seeds of a point, failed ones
    already left out), its minimum (``<column>_lo``) and maximum (``<column>_hi``), and ``n_seeds``.
    The statistics of tables.ensembles.seed_ensembles, for the rows a line of a figure draws."""
    stats = {}
    for c in columns:
        stats.update({c: (c, "mean"), f"{c}_lo": (c, "min"), f"{c}_hi": (c, "max")})
    stats["n_seeds"] = ("seed", "nunique") if "seed" in rows else (columns[0], "size")
    return rows.groupby(by, as_index=False).agg(**stats).sort_values(by)


def seed_statistic(n_seeds: pd.Series, spread: str = "band") -> str:
    """What a line drawn from over_seeds shows, for its label: '' where every point has one seed (the
    figure is drawn as without seeds), else e.g. 'mean of 3 seeds, band: min–max'."""
    n = n_seeds[n_seeds > 0]
    if n.empty or n.max() <= 1:
        return ""
    count = f"{n.max()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    return f"mean of {count} seeds, {spread}: min–max"


def seed_band(ax, x, stats: pd.DataFrame, column: str, color, floor: float | None = None) -> None:
    """The min–max band over seeds of ``column`` (from over_seeds), where some point has more than one."""
    if (stats["n_seeds"] > 1).any():
        lo, hi = stats[f"{column}_lo"], stats[f"{column}_hi"]
        if floor is not None:
            lo, hi = np.maximum(lo, floor), np.maximum(hi, floor)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)


def _seed_note(sel: pd.DataFrame) -> str:
    """', seed 0 of 3' for a panel that draws one seed of several; '' for one seed."""
    n = sel["seed"].nunique() if "seed" in sel else 1
    return f", seed {sel['seed'].min()} of {n}" if n > 1 else ""


def plot_convergence(conv: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Relative error against iteration: a panel per (model, coupling) and L, a line per width
    (the running mean over SMOOTH iterations; single iterations faint behind it)."""
    conv = named_networks(conv)
    if conv.empty or conv["exact_energy"].isna().all():
        return empty_figure(outputs, "No convergence data with an exact reference yet.")
    conv = conv[conv["exact_energy"].notna()]
    coupling = sweep_coupling(conv)
    cases = _cases(conv, coupling)
    sizes = sorted(conv["L"].unique())
    fig, axes = plt.subplots(len(cases), len(sizes), figsize=(3.6 * len(sizes), 2.8 * len(cases)), squeeze=False, sharex=True)
    colors = colors_for(conv["alpha"])
    for r, (model, lattice, cval) in enumerate(cases):
        for c, L in enumerate(sizes):
            ax = axes[r, c]
            sel = _case(conv, coupling, model, lattice, cval, L)
            for (ansatz, alpha, seed), g in sel.groupby(["ansatz", "alpha", "seed"]):
                g = g.sort_values("iteration")
                label = f"{ansatz} α={alpha:g}" + (f" s{seed}" if conv["seed"].nunique() > 1 else "")
                # Single-iteration energies scatter by their Monte Carlo error: draw them faintly,
                # and the error of a running mean (window SMOOTH) as the line to read.
                ax.semilogy(g["iteration"], np.maximum(g["rel_error"], FLOOR), color=colors[alpha], lw=0.5, alpha=0.25)
                smooth = g["energy"].rolling(SMOOTH, min_periods=1).mean()
                rel = (smooth - g["exact_energy"]).abs() / g["exact_energy"].abs()
                ax.semilogy(g["iteration"], np.maximum(rel, FLOOR), color=colors[alpha], lw=1.3, label=label)
            ax.set_title(_title(model, lattice, coupling, cval, L), fontsize=9)
            if r == len(cases) - 1:
                ax.set_xlabel("iteration")
            if c == 0:
                ax.set_ylabel("relative error |E−E₀|/|E₀|")
            if len(sel) == 0:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
            ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), bbox_to_anchor=(0.5, 1.02), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    save_figure(fig, outputs)


def plot_error_vs_width(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Final relative error against width α and against parameter count, a line per L.
    Hollow markers: runs not flagged converged; red crosses: runs whose sampling is flagged (the
    summary's health column: R̂, τ, acceptance). Error bars: the Monte Carlo error / |E₀|. With
    several seeds per point the line is their mean and a band their min–max (the legend says so);
    failed and diverged seeds are left out."""
    energies = named_networks(energies)
    df = energies[energies["exact_energy"].notna() & energies["energy"].notna()] if not energies.empty else energies
    if df.empty:
        return empty_figure(outputs, "No finished points with an exact reference yet.")
    coupling = sweep_coupling(df)
    cases = _cases(df, coupling)
    fig, axes = plt.subplots(len(cases), 2, figsize=(9, 2.9 * len(cases)), squeeze=False)
    # a colour per line: per size, and per network where a size has several
    colors = colors_for(zip(df["L"], df["ansatz"]))
    for r, (model, lattice, cval) in enumerate(cases):
        sel = _case(df, coupling, model, lattice, cval)
        for c, x in enumerate(["alpha", "n_params"]):
            ax = axes[r, c]
            for (L, ansatz), g in sel.groupby(["L", "ansatz"]):
                g = (
                    g.groupby(x, as_index=False)
                    .agg(
                        rel_error=("rel_error", "mean"),
                        rel_error_lo=("rel_error", "min"),
                        rel_error_hi=("rel_error", "max"),
                        n_seeds=("seed", "nunique") if "seed" in g else ("rel_error", "size"),
                        err=("energy_error", "mean"),
                        e0=("exact_energy", "first"),
                        conv=("status", lambda s: (s == "converged").all()),
                        flagged=("health", lambda s: (s.fillna("") != "").any())
                        if "health" in g
                        else ("status", lambda s: False),
                    )
                    .sort_values(x)
                )
                y = np.maximum(g["rel_error"], FLOOR)
                statistic = seed_statistic(g["n_seeds"])
                seed_band(ax, g[x], g, "rel_error", colors[L, ansatz], floor=FLOOR)
                ax.errorbar(
                    g[x],
                    y,
                    yerr=g["err"] / g["e0"].abs(),
                    color=colors[L, ansatz],
                    marker="o",
                    ms=4,
                    capsize=2,
                    lw=1,
                    label=f"L={L} {ansatz}" + (f", {statistic}" if statistic else ""),
                    mfc="none" if not g["conv"].all() else colors[L, ansatz],
                )
                bad = g["flagged"].astype(bool).to_numpy()
                if bad.any():
                    ax.scatter(g[x][bad], y[bad], marker="x", s=40, color="red", zorder=3, label="sampling flagged")
            ax.set_xscale("log", base=2 if x == "alpha" else 10)
            ax.set_yscale("log")
            ax.set_xlabel("hidden-unit density α" if x == "alpha" else "number of parameters")
            ax.set_ylabel("relative error |E−E₀|/|E₀|")
            ax.set_title(_title(model, lattice, coupling, cval), fontsize=9)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)


def plot_energy_vs_coupling(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Energy per site against the swept coupling: exact references as lines, VMC as markers with the
    Monte Carlo error bar; with several seeds per point, a marker for their mean with the min–max over
    seeds as its bar (the legend says so), failed and diverged seeds left out."""
    energies = named_networks(energies)
    df = energies[energies["energy"].notna()] if not energies.empty else energies
    if df.empty:
        return empty_figure(outputs, "No finished points yet.")
    coupling = sweep_coupling(df)
    groups = sorted(df.groupby(["model", "lattice"]).groups.keys())
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    colors = colors_for(df["L"])
    markers = dict(zip(sorted(df["alpha"].unique()), "os^Dvp*hX"))
    for ax, (model, lattice) in zip(axes[0], groups):
        sel = df[(df["model"] == model) & (df["lattice"] == lattice)]
        for L, g in sel.groupby("L"):
            ex = g.dropna(subset=["exact_energy"]).groupby(coupling)["exact_energy_per_site"].first().sort_index()
            if len(ex):
                ax.plot(ex.index, ex.values, "-", color=colors[L], lw=1.2, label=f"exact L={L}")
            for alpha, ga in g.groupby("alpha"):
                seeds = over_seeds(ga, [coupling, "ansatz"], ["energy_per_site"])
                statistic = seed_statistic(seeds["n_seeds"], spread="bars")
                if statistic:
                    mean = seeds["energy_per_site"]
                    ax.errorbar(
                        seeds[coupling],
                        mean,
                        yerr=[mean - seeds["energy_per_site_lo"], seeds["energy_per_site_hi"] - mean],
                        fmt=markers.get(alpha, "o"),
                        color=colors[L],
                        mfc="none",
                        ms=5,
                        capsize=2,
                        label=f"VMC L={L} α={alpha:g}, {statistic}",
                    )
                    continue
                ax.errorbar(
                    ga[coupling],
                    ga["energy_per_site"],
                    yerr=ga["energy_error"] / ga["n_sites"],
                    fmt=markers.get(alpha, "o"),
                    color=colors[L],
                    mfc="none",
                    ms=5,
                    capsize=2,
                    label=f"VMC L={L} α={alpha:g}",
                )
        ax.set_xlabel(f"coupling {coupling} (units of J)")
        ax.set_ylabel("energy per site E/N (units of J)")
        ax.set_title(f"{model} {lattice}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_figure(fig, outputs)


# Ranks in blues; the error (red) and infidelity (orange) on the twin axis stay distinct.
RANK_STYLE = {"rank_rel_1e-10": ("-", "navy"), "rank_rel_1e-6": ("--", "tab:blue"), "rank_abs_1e-5": (":", "tab:cyan")}


def _qgt_panels(table: pd.DataFrame, outputs, message: str):
    """(rows with a spectrum, swept coupling, cases, fig, axes): two panels per (model, lattice,
    L, coupling) case; None, with a figure that says ``message``, when no row has a spectrum."""
    table = named_networks(table)
    df = table[table["source"] != "none"] if not table.empty else table
    if df.empty:
        empty_figure(outputs, message)
        return None
    coupling = sweep_coupling(df)
    cases = sorted(df.groupby(["model", "lattice", "L", coupling], dropna=False).groups.keys(), key=str)
    fig, axes = plt.subplots(len(cases), 2, figsize=(10, 3.4 * len(cases)), squeeze=False)
    return df, coupling, cases, fig, axes


def plot_qgt_rank(ranks: pd.DataFrame, outputs: list[str | Path]) -> None:
    """QGT rank against width and against the number of real parameters, with the Hilbert
    dimension as a horizontal line; the relative energy error and infidelity on a second axis.
    With several seeds per point each line is their mean and a band their min–max (the axis
    labels say so)."""
    panels = _qgt_panels(ranks, outputs, "No QGT spectra yet.")
    if panels is None:
        return
    df, coupling, cases, fig, axes = panels
    for r, (model, lattice, L, cval) in enumerate(cases):
        sel = _case(df, coupling, model, lattice, cval, L)
        for c, x in enumerate(["alpha", "n_real_params"]):
            ax = axes[r, c]
            for (ansatz,), g in sel.groupby(["ansatz"]):
                g = over_seeds(g, x, list(RANK_STYLE))
                for col, (ls, color) in RANK_STYLE.items():
                    seed_band(ax, g[x], g, col, color)
                    ax.plot(g[x], g[col], ls, color=color, marker="o", ms=3, label=f"{ansatz} {col.replace('rank_', 'rank ')}")
            dim = sel["hilbert_dim"].iloc[0]
            ax.axhline(dim, color="k", lw=0.8, ls="-.", label=f"Hilbert dim {dim}")
            ax.set_xscale("log", base=2 if x == "alpha" else 10)
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels collide
            ax.set_xlabel("hidden-unit density α" if x == "alpha" else "number of real parameters")
            g = over_seeds(sel, x, ["rel_error", "infidelity"])
            statistic = seed_statistic(g["n_seeds"])
            ax.set_ylabel("QGT rank" + (f"\n({statistic})" if statistic else ""))
            ax.set_title(_title(model, lattice, coupling, cval, L), fontsize=9)
            ax.grid(alpha=0.3, which="both")
            twin = ax.twinx()
            if g["rel_error"].notna().any():
                seed_band(twin, g[x], g, "rel_error", "tab:red", floor=FLOOR)
                twin.plot(g[x], np.maximum(g["rel_error"], FLOOR), "s-", color="tab:red", ms=3, lw=1, label="rel. energy error")
            if g["infidelity"].notna().any():
                seed_band(twin, g[x], g, "infidelity", "tab:orange", floor=FLOOR)
                twin.plot(g[x], np.maximum(g["infidelity"], FLOOR), "^-", color="tab:orange", ms=3, lw=1, label="infidelity")
            twin.set_yscale("log")
            twin.set_ylabel("relative error, infidelity" + (f"\n({statistic})" if statistic else ""), color="tab:red")
            if r == 0 and c == 0:
                h1, l1 = ax.get_legend_handles_labels()
                h2, l2 = twin.get_legend_handles_labels()
                ax.legend(h1 + h2, l1 + l2, fontsize=6, loc="lower right")
    fig.tight_layout()
    save_figure(fig, outputs)


def plot_qgt_history(history: pd.DataFrame, outputs: list[str | Path]) -> None:
    """QGT rank along the optimisation (left; the Hilbert dimension dash-dotted) next to the relative
    energy error and the infidelity (right), a colour per width, first seed: does the error stop
    falling when the rank stops growing?"""
    panels = _qgt_panels(history, outputs, "No QGT spectra along the optimisation yet.")
    if panels is None:
        return
    df, coupling, cases, fig, axes = panels
    colors = colors_for(df["alpha"])
    for r, (model, lattice, L, cval) in enumerate(cases):
        sel = _case(df, coupling, model, lattice, cval, L)
        note = _seed_note(sel)
        sel = sel[sel["seed"] == sel["seed"].min()]
        left, right = axes[r]
        for (ansatz, alpha), g in sel.groupby(["ansatz", "alpha"]):
            g = g.sort_values("iteration")
            label = f"{ansatz} α={alpha:g}"
            left.plot(g["iteration"], g["rank_rel_1e-6"], "o-", color=colors[alpha], ms=3, label=label)
            if g["rel_error"].notna().any():
                right.semilogy(g["iteration"], np.maximum(g["rel_error"], FLOOR), "o-", color=colors[alpha], ms=3, label=label)
            if g["infidelity"].notna().any():
                right.semilogy(g["iteration"], np.maximum(g["infidelity"], FLOOR), ":", color=colors[alpha], lw=1)
        dim = sel["hilbert_dim"].iloc[0]
        left.axhline(dim, color="k", lw=0.8, ls="-.", label=f"Hilbert dim {dim}")
        left.set_yscale("log")
        left.set_ylabel("QGT rank (relative cut 1e-6)")
        right.set_ylabel("rel. energy error (—), infidelity (···)")
        for ax in (left, right):
            ax.set_xlabel("iteration")
            ax.set_title(_title(model, lattice, coupling, cval, L) + note, fontsize=9)
            ax.grid(alpha=0.3, which="both")
        if r == 0:
            left.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    save_figure(fig, outputs)


def plot_spectra(spectra: pd.DataFrame, outputs: list[str | Path]) -> None:
    """QGT eigenvalues in descending order, one line per width (first seed)."""
    spectra = named_networks(spectra)
    df = spectra[spectra["eigenvalue"].notna()] if not spectra.empty else spectra
    if df.empty:
        return empty_figure(outputs, "No QGT spectra yet.")
    coupling = sweep_coupling(df)
    cases = sorted(df.groupby(["model", "lattice", "L", coupling], dropna=False).groups.keys(), key=str)
    fig, axes = plt.subplots(1, len(cases), figsize=(5 * len(cases), 3.8), squeeze=False)
    colors = colors_for(df["alpha"])
    for ax, (model, lattice, L, cval) in zip(axes[0], cases):
        sel = _case(df, coupling, model, lattice, cval, L)
        note = _seed_note(sel)
        sel = sel[sel["seed"] == sel["seed"].min()]
        for (ansatz, alpha), g in sel.groupby(["ansatz", "alpha"]):
            ax.semilogy(
                g["index"] + 1, np.maximum(g["eigenvalue"], FLOOR**2), color=colors[alpha], lw=1, label=f"{ansatz} α={alpha:g}"
            )
        ax.axvline(sel["hilbert_dim"].iloc[0], color="k", lw=0.8, ls="-.", label="Hilbert dim")
        ax.set_xscale("log")
        ax.set_xlabel("eigenvalue index k (descending)")
        ax.set_ylabel("QGT eigenvalue λ_k")
        ax.set_title(_title(model, lattice, coupling, cval, L) + note, fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, outputs)


OBSERVABLE_LABELS = {"sx": "⟨σˣ⟩ per site", "sz": "⟨σᶻ⟩ per site", "zz_nn": "⟨σᶻσᶻ⟩ nearest neighbours", "energy": "energy"}


def _quench_title(row: pd.Series) -> str:
    couplings = ", ".join(f"{c}={row[c]:g}" for c in COUPLING_COLUMNS if c in row and pd.notna(row[c]))
    start = (
        "from the ground state at "
        + ", ".join(f"{c}={row[f'initial_{c}']:g}" for c in COUPLING_COLUMNS if pd.notna(row.get(f"initial_{c}")))
        if row["initial"] == "ground_state"
        else f"from the {row['initial'].replace('product_', '+')} product state"
    )
    return (
        f"{row['model']} {row['lattice']} L={row['L']}, {couplings}, {start}\n"
        f"{row['ansatz']} α={row['alpha']:g}, "
        + ("exact sampler" if row["sampler"] == "exact" else f"{row['sampler']} ({row['n_samples']} samples)")
        + f", {row['integrator']}, "
        f"{row['regularization']}; {row['dynamics']} time"
    )


def plot_quench(dyn: pd.DataFrame, steps: pd.DataFrame, outputs: list[str | Path]) -> None:
    """One quench: each observable against time (t-VMC with its error band, exact dashed), and
    below, the absolute error of each observable and the TDVP residual of every step."""
    dyn = named_networks(dyn)
    if dyn.empty:
        empty_figure(outputs, "no trajectory (the quench failed before its first measurement)")
        return
    names = [n for n in OBSERVABLE_LABELS if n in set(dyn["observable"])]
    labels = dict(OBSERVABLE_LABELS)
    if "measurement" in dyn and (dyn["measurement"] == "renyi2").any():  # S2(t) of the largest region
        largest = dyn[dyn["measurement"] == "renyi2"].sort_values("x").iloc[-1]
        names.append(largest["observable"])
        labels[largest["observable"]] = f"S2 ({largest['observable'].split(': ')[1]}), nats"
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6.2), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [2, 1]})  # fmt: skip
    time_unit = "time t (units of 1/J)" if dyn["dynamics"].iloc[0] == "real" else "imaginary time τ (units of 1/J)"
    for k, name in enumerate(names):
        d = dyn[dyn["observable"] == name].sort_values("time")
        ax, low = axes[0, k], axes[1, k]
        ax.plot(d["time"], d["value"], "o-", ms=3, color="C0", label="t-VMC")
        ax.fill_between(d["time"], d["value"] - d["error"], d["value"] + d["error"], color="C0", alpha=0.3, lw=0)
        if d["exact_value"].notna().any():
            ax.plot(d["time"], d["exact_value"], "k--", lw=1.2, label="exact")
            low.semilogy(d["time"], np.maximum(d["abs_error"], FLOOR), "o-", ms=3, color="C3", label="|t-VMC − exact|")
        ax.set_ylabel(labels[name])
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.legend(fontsize=8)
        if not steps.empty:
            st = steps.sort_values("time")
            low.semilogy(
                st["time"] + st["dt"], np.maximum(st["residual"], FLOOR), "-", lw=1, color="C2", label="TDVP residual r²"
            )
        low.set_xlabel(time_unit)
        low.legend(fontsize=8)
        low.grid(alpha=0.3, which="both")
    fig.suptitle(_quench_title(dyn.iloc[0]), fontsize=9)
    fig.tight_layout()
    save_figure(fig, outputs)


def plot_dynamics_error(summary: pd.DataFrame, dyn: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Error at fixed times (half-way and the end) against the width α and against the number
    of samples, for the first observable of each quench (⟨σˣ⟩ when measured)."""
    dyn = named_networks(dyn)
    ok = dyn[dyn["exact_value"].notna()] if not dyn.empty else dyn
    if ok.empty:
        empty_figure(outputs, "no quench with an exact reference")
        return
    name = "sx" if (ok["observable"] == "sx").any() else ok["observable"].iloc[0]
    ok = ok[ok["observable"] == name]
    t_end = ok.groupby("spec_hash")["time"].transform("max")
    rows = []
    for (_, t_max), g in ok.assign(t_end=t_end).groupby(["spec_hash", "t_end"]):
        for frac in (0.5, 1.0):
            at = g.iloc[(g["time"] - frac * t_max).abs().argmin()]
            rows.append({**at.to_dict(), "frac": frac})
    pts = pd.DataFrame(rows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for frac, marker in ((0.5, "s"), (1.0, "o")):
        sel = pts[pts["frac"] == frac]
        # one line per physical case, network and sampling; never averaged across models, sizes or networks
        physical = ["model", "L", "integrator", "n_samples", "sampler"]
        several_cases = sel.groupby(physical).ngroups > 1
        several_networks = sel["ansatz"].nunique() > 1
        for (model, L, integ, ns, sampler, net), g in sel.groupby([*physical, "ansatz"]):
            g = g.groupby("alpha")["abs_error"].mean().sort_index()
            case = f"{model} L={L}, {integ}, " if several_cases else ""
            case += f"{net}, " if several_networks else ""
            label = case + f"{sampler}" + ("" if sampler == "exact" else f" {ns}") + f", t = {frac:g}·t_final"
            left.loglog(g.index, np.maximum(g.values, FLOOR), marker + "-", label=label)
        mc = sel[sel["sampler"] != "exact"]
        for (net, alpha), g in mc.groupby(["ansatz", "alpha"]):
            g = g.groupby("n_samples")["abs_error"].mean().sort_index()
            network = f"{net} " if several_networks else ""
            right.loglog(g.index, np.maximum(g.values, FLOOR), marker + "-", label=f"{network}α={alpha:g}, t = {frac:g}·t_final")
    left.set_xlabel("hidden-unit density α")
    right.set_xlabel("samples per step")
    for ax in (left, right):
        ax.set_ylabel(f"|error| of {OBSERVABLE_LABELS[name]}")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if not right.lines:
        right.text(0.5, 0.5, "no Monte Carlo quenches", ha="center", va="center", transform=right.transAxes)
    left.set_title("error against width")
    right.set_title("error against number of samples")
    save_figure(fig, outputs)


SAMPLER_COLORS = {"metropolis": "tab:blue", "direct": "tab:orange"}


def _network_label(row) -> str:
    """'rbm α=2' for networks sized by density, 'arnn [8,8]' (features per layer) for the others."""
    if getattr(NETWORKS.get(row.ansatz.split()[0]), "deep", False) and "features" in row._fields:  # the name may carry a variant
        return f"{row.ansatz} [{row.features}]"
    return f"{row.ansatz} α={row.alpha:g}"


def plot_sampling_efficiency(df: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Effective samples per second (n / ((1 + 2 τ_corr) t_draw)) and τ_corr of the energy,
    per point and per sampler drawn with: grouped bars, one group per point, values written on them."""
    df = named_networks(df)
    if not df.empty:
        df = df[df["status"].isin(["converged", "not_converged"])]
    if df.empty:
        return empty_figure(outputs, "No sampling measurements yet.")
    coupling = sweep_coupling(df)
    df = df.assign(
        point=[
            f"{_title(r.model, r.lattice, coupling, getattr(r, coupling), r.L)}\n{_network_label(r)}, trained with {r.sampler}"
            for r in df.itertuples()
        ]
    )
    points = list(dict.fromkeys(df.sort_values(["model", "lattice", "L", "ansatz", "alpha"])["point"]))
    samplers = [s for s in SAMPLER_COLORS if s in set(df["draw_sampler"])]
    width = 0.8 / len(samplers)
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 2.4 * len(points)), 4.4))
    for k, sampler in enumerate(samplers):
        g = df[df["draw_sampler"] == sampler].groupby("point").mean(numeric_only=True)
        x = [points.index(p) + (k - (len(samplers) - 1) / 2) * width for p in g.index]
        for ax, col, fmt in ((axes[0], "effective_samples_per_s", "{:.2g}"), (axes[1], "tau_corr", "{:.2f}")):
            bars = ax.bar(x, g[col], width, color=SAMPLER_COLORS[sampler], label=f"drawn with {sampler}")
            ax.bar_label(bars, labels=[fmt.format(v) for v in g[col]], fontsize=7, padding=1)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("effective samples / s  [n / ((1 + 2τ) t_draw)]")
    axes[1].set_ylabel("τ_corr of the local energy (0 = independent)")
    axes[1].set_ylim(0, max(0.5, 1.3 * float(df["tau_corr"].max())))
    device = ", ".join(sorted(set(df["device"])))
    for ax in axes:
        ax.set_xticks(range(len(points)))
        ax.set_xticklabels(points, fontsize=7, rotation=20, ha="right")
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_title(f"sampling efficiency on each point's final state ({device})", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(samplers), fontsize=8, bbox_to_anchor=(0.5, 1.06))
    fig.tight_layout()
    save_figure(fig, outputs)


def plot_zero_variance(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Energy against its variance, a panel per family of networks that differ only in size and
    seed (tables.extrapolation): the points with their Monte Carlo error bars, the weighted linear
    fit E = E0 + b σ² drawn to σ² = 0, the extrapolated E0 with its error there, and the reference
    as a dashed line. Families with fewer than two distinct variances are left out."""
    from nqs_sweep.tables.extrapolation import family_keys, with_family_variants, zero_variance_extrapolation

    table = zero_variance_extrapolation(energies) if not energies.empty else pd.DataFrame()
    fits = table[table["energy_extrapolated"].notna() & (table["n_sizes"] > 1)] if not table.empty else table
    if fits.empty:
        return empty_figure(outputs, "No family of two or more network sizes with finished points yet.")
    keys = family_keys(energies)
    energies = with_family_variants(energies)
    coupling = sweep_coupling(energies)
    ncols = min(3, len(fits))
    nrows = -(-len(fits) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.flat[len(fits) :]:
        ax.axis("off")
    for ax, (_, fit) in zip(axes.flat, fits.iterrows()):
        rows = energies
        for k in keys:
            rows = rows[_eq(rows[k], fit[k])]
        rows = rows[rows["status"].isin(("converged", "not_converged")) & rows["energy"].notna()]
        color = colors_for([0])[0]
        ax.errorbar(rows["variance"], rows["energy"], yerr=rows["energy_error"], fmt="o", ms=4, capsize=2, color=color)
        x = np.linspace(0.0, float(rows["variance"].max()) * 1.05, 50)
        ax.plot(x, fit["energy_extrapolated"] + fit["slope"] * x, color=color, lw=1, label="linear fit")
        ax.errorbar(
            [0.0], [fit["energy_extrapolated"]], yerr=[fit["energy_extrapolated_error"]], fmt="s", ms=5, capsize=3,
            color="crimson", label=f"E0 = {fit['energy_extrapolated']:.6g} ± {fit['energy_extrapolated_error']:.1g}",
        )  # fmt: skip
        if pd.notna(fit.get("exact_energy")):
            ax.axhline(fit["exact_energy"], color="0.3", ls="--", lw=1, label=f"reference ({fit.get('reference_method')})")
        ax.set_xlabel("variance σ² of the energy")
        ax.set_ylabel("energy E")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        title = _title(fit["model"], fit["lattice"], coupling, fit.get(coupling, np.nan), fit["L"])
        flat = "" if fit["slope"] - 2 * fit["slope_error"] > 0 else " (slope not > 0: no approach)"
        ax.set_title(f"{title}\n{fit['ansatz']}, {int(fit['n_points'])} points{flat}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)


_FAMILY_MARKERS = {"neural_network": "o", "tensor_network": "s", "physical_ansatz": "^", "circuit": "D", "other": "v"}


def plot_varbench(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """The varbench chart for every system of the study the table lists: relative error against
    V-score, the published methods in grey (a marker per method family) and this study's finished
    points in colour, one colour per network. The relative errors are against the exact energy (the
    point's own reference; the table's exact row for the published ones)."""
    from nqs_sweep.tables import varbench

    listed = energies[energies["varbench_file"].notna()] if "varbench_file" in energies else energies.iloc[:0]
    if listed.empty:
        return empty_figure(outputs, "No point of this study is on a system the varbench table lists.")
    listed = named_networks(listed)
    files = sorted(listed["varbench_file"].unique())
    fig, axes = plt.subplots(1, len(files), figsize=(4.6 * len(files), 3.6), squeeze=False)
    colors = colors_for(listed["ansatz"])
    for ax, name in zip(axes[0], files):
        ours = listed[listed["varbench_file"] == name]
        published = varbench.rows_for(ours.iloc[0])
        published = published[np.isfinite(published["v_score"]) & np.isfinite(published["rel_error"])]
        for fam, rows in published.groupby("family"):
            ax.scatter(rows["v_score"], np.maximum(rows["rel_error"], FLOOR), marker=_FAMILY_MARKERS.get(fam, "v"),
                       facecolors="none", edgecolors="0.45", s=28, label=f"varbench: {fam.replace('_', ' ')}")  # fmt: skip
        reference = ours["exact_energy"].fillna(ours["varbench_exact"])
        rel = (ours["energy"] - reference).abs() / reference.abs()
        done = ours.assign(rel=rel)[ours["status"].isin(("converged", "not_converged")) & rel.notna() & (ours["v_score"] > 0)]
        for ansatz, rows in done.groupby("ansatz"):
            ax.scatter(rows["v_score"], np.maximum(rows["rel"], FLOOR), color=colors[ansatz], s=22, label=f"this study: {ansatz}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("V-score  N·Var(E)/E²")
        ax.set_ylabel("relative error |E−E₀|/|E₀|")
        ax.set_title(name.removesuffix(".md"), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, outputs)
