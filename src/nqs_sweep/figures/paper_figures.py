"""The paper's figure set: each figure is drawn from its studies' aggregate tables and returns
the table it was drawn from (saved beside the figure, so every plotted number can be read back).

Every function takes a mapping of input names to tables and the output paths, and copes with
missing points: a diverged or failed point is marked with an x where its energy would be drawn
(its table row is kept), and a figure with nothing to draw says so. Relative errors are
|E - E_ref| / |E_ref| with E_ref exact (Lanczos, free fermions) or published (the tables'
reference_method column says which).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nqs_sweep.figures.plots import FLOOR, _case, colors_for, empty_figure, plot_qgt_rank, save_figure, sweep_coupling
from nqs_sweep.tables.columns import COUPLING_COLUMNS

Tables = dict[str, pd.DataFrame]
SMOOTH = 10  # iterations in the running means of the sampling-health panels


def _couplings(row: pd.Series, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{c}={row[c]:g}" for c in COUPLING_COLUMNS if c in row and pd.notna(row[c]) and c not in skip)


def _size(lattice: str, L: int) -> str:
    return f"{L}×{L}" if lattice == "square" else f"L={L}"


def _case_label(row: pd.Series) -> str:
    return f"{row['model']} {row['lattice']} {_size(row['lattice'], row['L'])}, {_couplings(row, ('J', 'J1'))}".rstrip(", ")


def _panels(n: int, ncols: int = 3, size: tuple[float, float] = (3.8, 3.0)):
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def _with_reference(energies: pd.DataFrame) -> pd.DataFrame:
    """Points with a reference energy, finished or not (unfinished ones are marked, not dropped)."""
    if energies.empty:
        return energies
    return energies[energies["exact_energy"].notna()].copy()


def _mark_unfinished(ax, rows: pd.DataFrame, x: str, color) -> pd.DataFrame:
    """A diverged or failed point has no energy: an x at the top of the panel, at its abscissa.
    Returns the finished rows."""
    lost = rows[rows["energy"].isna()]
    if len(lost):
        ax.plot(
            lost[x], [0.97] * len(lost), "x", color=color, ms=7, mew=1.5, transform=ax.get_xaxis_transform(), label="diverged"
        )
    return rows[rows["energy"].notna()]


def _relative_errors(ax, rows: pd.DataFrame, x: str, **style) -> None:
    """Relative errors against x, with the Monte Carlo error bar / |E_ref|."""
    ax.errorbar(
        rows[x], np.maximum(rows["rel_error"], FLOOR), yerr=rows["energy_error"] / rows["exact_energy"].abs(), capsize=2, **style
    )


def accuracy_vs_width(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 1 (Carleo & Troyer 2017, Fig. 3 style): relative error of the RBM ground state
    against hidden-unit density α, a panel per model and coupling, a line per size."""
    df = _with_reference(tables["energies"])
    if df.empty:
        empty_figure(outputs, "No finished points with a reference energy yet.")
        return df
    coupling = sweep_coupling(df)
    cases = sorted(df.groupby(["model", "lattice", coupling], dropna=False).groups.keys(), key=str)
    fig, axes = _panels(len(cases))
    colors = colors_for(df["L"])
    for ax, (model, lattice, cval) in zip(axes, cases):
        for L, g in _case(df, coupling, model, lattice, cval).groupby("L"):
            g = _mark_unfinished(ax, g.sort_values("alpha"), "alpha", colors[L])
            _relative_errors(ax, g, "alpha", marker="o", ms=4, color=colors[L], label=_size(lattice, L))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden-unit density α")
        ax.set_ylabel("relative error |E−E₀|/|E₀|")
        ax.set_title(f"{model} {lattice}" + ("" if pd.isna(cval) else f", {coupling}={cval:g}"), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)
    return df


def _network(row: pd.Series) -> str:
    """A family of networks: one line in figure 2, along which only the width changes."""
    depth = f" {row['layers']} layers" if row["layers"] > 1 else ""
    symmetry = f" ({row['symmetries']})" if row["symmetries"] != "none" else ""
    return f"{row['ansatz']}{depth}{symmetry}"


def ansatz_minima(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 2: relative error against parameter count for each family of networks on the
    frustrated J1-J2 model, a panel per size. Where a family stops improving as it grows, its
    line flattens: more parameters no longer buy accuracy."""
    df = _with_reference(tables["energies"])
    if df.empty:
        empty_figure(outputs, "No finished points with a reference energy yet.")
        return df
    df["network"] = df.apply(_network, axis=1)
    cases = sorted(df.groupby(["model", "lattice", "L"]).groups.keys(), key=str)
    fig, axes = _panels(len(cases), ncols=2, size=(4.8, 3.6))
    colors = colors_for(df["network"])
    markers = dict(zip(sorted(df["network"].unique()), "os^Dvp*"))
    for ax, (model, lattice, L) in zip(axes, cases):
        sel = df[(df["model"] == model) & (df["lattice"] == lattice) & (df["L"] == L)]
        for net, g in sel.groupby("network"):
            g = _mark_unfinished(ax, g.sort_values("n_real_params"), "n_real_params", colors[net])
            _relative_errors(ax, g, "n_real_params", marker=markers[net], ms=5, color=colors[net], label=net)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels collide
        ax.set_yscale("log")
        ax.set_xlabel("number of real parameters")
        ax.set_ylabel("relative error |E−E₀|/|E₀|")
        ax.set_title(_case_label(sel.iloc[0]), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)
    return df


def sign_problem(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 3: the same network and budget across J2, with and without the Marshall sign rule.
    Left: relative error where a reference exists; right: the V-score N·Var(E)/E² (Wu et al.
    2024), which needs no reference, for every point."""
    df = tables["energies"].copy()
    if df.empty:
        empty_figure(outputs, "No points yet.")
        return df
    df["sign_rule"] = np.where(df["marshall_sign"], "Marshall sign rule", "no sign rule")
    fig, (ax_err, ax_v) = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"Marshall sign rule": ("o", "-"), "no sign rule": ("s", "--")}
    colors = colors_for(df["L"])
    for (L, rule), g in df.groupby(["L", "sign_rule"]):
        g = g.sort_values("J2")
        marker, ls = styles[rule]
        size = _size(g["lattice"].iloc[0], L)
        done = _mark_unfinished(ax_err, g, "J2", colors[L])
        ref = done[done["exact_energy"].notna()]
        _relative_errors(ax_err, ref, "J2", marker=marker, ls=ls, ms=5, color=colors[L], label=f"{size}, {rule}")
        ax_v.plot(
            done["J2"], np.maximum(done["v_score"], FLOOR), marker=marker, ls=ls, ms=5, color=colors[L], label=f"{size}, {rule}"
        )
    first = df.iloc[0]
    net = f"{first['ansatz']} α={first['alpha']:g}, {first['dtype']}"
    for ax, label in ((ax_err, "relative error |E−E₀|/|E₀|"), (ax_v, "V-score N·Var(E)/E²")):
        ax.set_yscale("log")
        ax.set_xlabel("J2 / J1")
        ax.set_ylabel(label)
        ax.axvspan(0.4, 0.6, color="0.9", zorder=0)  # the frustrated regime around J2 = 0.5
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    ax_err.set_title(f"J1-J2, {net}: error", fontsize=9)
    ax_v.set_title(f"J1-J2, {net}: V-score", fontsize=9)
    fig.tight_layout()
    save_figure(fig, outputs)
    return df


def qgt_rank(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 4: QGT rank against width with the error on the same axes (the QGT issue's figure)."""
    plot_qgt_rank(tables["qgt_rank"], outputs)
    return tables["qgt_rank"]


def quench_dynamics(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 5: ⟨σˣ⟩(t) after the quench, t-VMC with its Monte Carlo band against exact dynamics,
    a line per width; below, the absolute error growing with time (log scale)."""
    dyn = tables["dynamics"]
    df = dyn[(dyn["observable"] == "sx") & dyn["value"].notna()].copy() if not dyn.empty else dyn
    if df.empty:
        empty_figure(outputs, "No quench trajectories yet.")
        return df
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True, height_ratios=(3, 2))
    colors = colors_for(df["alpha"])
    for (alpha, sampler, n_samples), g in df.groupby(["alpha", "sampler", "n_samples"]):
        g = g.sort_values("time")
        label = f"α={alpha:g}, " + ("exact sampler" if sampler == "exact" else f"{sampler} {n_samples}")
        ls = "-" if sampler == "exact" else ":"
        top.plot(g["time"], g["value"], ls, color=colors[alpha], lw=1.4, label=f"t-VMC {label}")
        top.fill_between(g["time"], g["value"] - g["error"], g["value"] + g["error"], color=colors[alpha], alpha=0.25, lw=0)
        bottom.semilogy(g["time"], np.maximum(g["abs_error"], FLOOR), ls, color=colors[alpha], lw=1.2, label=label)
    exact = df[df["exact_value"].notna()].drop_duplicates("time").sort_values("time")
    if len(exact):
        top.plot(exact["time"], exact["exact_value"], "k--", lw=1, label="exact")
    row = df.iloc[0]
    top.set_title(
        f"{row['model']} {row['lattice']} L={row['L']}: quench h={row['initial_h']:g} → {row['h']:g}, {row['integrator']}, "
        f"{row['regularization']}",
        fontsize=9,
    )
    top.set_ylabel("⟨σˣ⟩ per site")
    bottom.set_ylabel("|t-VMC − exact|")
    bottom.set_xlabel("time t (units of 1/J)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)
    return df


def sampling_health(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 6: Markov-chain diagnostics over the optimisation of the widest finished network at
    the largest size of each case: split R̂ and the integrated autocorrelation time τ (running
    means), and the energy error bar with the autocorrelation correction against without it
    (for the case with the longest autocorrelation), and their ratio for every case."""
    conv, energies = tables["convergence"], tables["energies"]
    # A diverged run's last iterations (error bars of 1e13) say nothing about sampling health.
    finished = set(energies.loc[energies["energy"].notna(), "spec_hash"]) if not energies.empty else set()
    df = conv[conv["spec_hash"].isin(finished) & conv["energy"].notna() & conv["r_hat"].notna()] if not conv.empty else conv
    if df.empty:
        empty_figure(outputs, "No Markov-chain optimisation histories yet.")
        return df
    keys = ["model", "lattice", *[c for c in COUPLING_COLUMNS if c in df]]
    picked = []
    for _, g in df.groupby(keys, dropna=False):
        runs = g.drop_duplicates("spec_hash").sort_values(
            ["L", "alpha", "seed", "spec_hash"], ascending=[False, False, True, True]
        )
        picked.append(g[g["spec_hash"] == runs["spec_hash"].iloc[0]])  # one run per case, also with several seeds
    df = pd.concat(picked, ignore_index=True)
    df["case"] = df.apply(lambda r: f"{_case_label(r)}, α={r['alpha']:g}", axis=1)
    df["error_inflation"] = df["energy_error"] / df["energy_error_naive"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    (ax_r, ax_t), (ax_e, ax_i) = axes
    colors = colors_for(df["case"])
    worst = df.groupby("case")["tau_corr"].mean().fillna(-1.0).idxmax()
    for case, g in df.groupby("case"):
        g = g.sort_values("iteration")
        c = colors[case]
        for ax, col in ((ax_r, "r_hat"), (ax_t, "tau_corr"), (ax_i, "error_inflation")):
            ax.plot(g["iteration"], g[col], color=c, lw=0.4, alpha=0.3)
            ax.plot(g["iteration"], g[col].rolling(SMOOTH, min_periods=1).mean(), color=c, lw=1.3, label=case)
        if case == worst:
            ax_e.semilogy(g["iteration"], g["energy_error"], color=c, lw=1, label="with autocorrelation (σ√(1+2τ)/√n)")
            ax_e.semilogy(g["iteration"], g["energy_error_naive"], color=c, lw=1, ls=":", label="naive (σ/√n)")
            ax_e.set_title(f"energy error bar: {case}", fontsize=8)
    ax_r.axhline(1.0, color="k", lw=0.8)
    ax_r.axhline(1.01, color="k", lw=0.8, ls=":")  # a common threshold for converged chains
    ax_r.set_ylabel("split R̂")
    ax_t.set_ylabel("integrated autocorrelation time τ (samples)")
    ax_e.set_ylabel("energy error bar")
    ax_i.set_ylabel("error bar inflation (corrected / naive)")
    ax_r.legend(fontsize=6)
    ax_e.legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(alpha=0.3, which="both")
    for ax in axes[1]:
        ax.set_xlabel("iteration")
    fig.tight_layout()
    save_figure(fig, outputs)
    return df


def _width_label(row: pd.Series) -> str:
    return f"{row['ansatz']} α={row['alpha']:g}"


def entanglement(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 7: Rényi-2 entanglement of the quench study. Left, S2 of the initial ground state
    against the block size |A| (the area law: it saturates) for each width, exact dashed. Right,
    S2(t) of the largest block after the quench (the volume-law growth a network must follow),
    Monte Carlo band, exact dashed; below it, |S2 − exact| on a log scale."""
    meas, dyn = tables["measurements"], tables["dynamics"]
    ground = meas[meas["measurement"] == "renyi2"] if not meas.empty else meas
    growth = dyn[dyn["measurement"] == "renyi2"] if "measurement" in dyn and not dyn.empty else dyn.iloc[:0]
    if ground.empty and growth.empty:
        empty_figure(outputs, "No Rényi-2 measurements yet (the quench study's measurements: renyi2).")
        return pd.concat([ground, growth], ignore_index=True)
    fig = plt.figure(figsize=(11, 5.5))
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 2))
    ax_g = fig.add_subplot(grid[:, 0])
    ax_t = fig.add_subplot(grid[0, 1])
    ax_e = fig.add_subplot(grid[1, 1], sharex=ax_t)
    labels = pd.concat([ground, growth], ignore_index=True).apply(_width_label, axis=1)
    colors = colors_for(labels)
    drawn = []
    if not ground.empty:
        ground = ground.assign(curve=ground.apply(_width_label, axis=1), panel="ground_state")
        for i, (curve, g) in enumerate(ground.groupby("curve", sort=True)):
            g = g.sort_values("x")
            shift = 0.06 * (i - (ground["curve"].nunique() - 1) / 2)  # overlapping markers side by side
            ok = g["value"].notna()
            ax_g.errorbar(g["x"][ok] + shift, g["value"][ok], yerr=g["error"][ok], fmt="o", ms=4, capsize=2,
                          color=colors[curve], label=f"VMC {curve}")  # fmt: skip
        exact = ground[ground["exact"].notna()].drop_duplicates("x").sort_values("x")
        if len(exact):
            ax_g.plot(exact["x"], exact["exact"], "k--", lw=1, label="exact ground state")
        row = ground.iloc[0]
        ax_g.set_title(f"ground state {row['model']} {row['lattice']} L={row['L']}, {_couplings(row)}".rstrip(", "), fontsize=9)
        ax_g.set(xlabel="block size |A| (sites)", ylabel="S2(A) (nats)")
        ax_g.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax_g.legend(fontsize=7)
        drawn.append(ground)
    else:
        ax_g.text(0.5, 0.5, "no ground-state S2", ha="center", va="center", transform=ax_g.transAxes)
    if not growth.empty:
        largest = growth["x"].max()
        growth = growth[growth["x"] == largest]
        growth = growth.assign(curve=growth.apply(_width_label, axis=1), panel="quench")
        for curve, g in growth.groupby("curve", sort=True):
            g = g.sort_values("time")
            c = colors[curve]
            ax_t.plot(g["time"], g["value"], "-", color=c, lw=1.4, label=f"t-VMC {curve}")
            ax_t.fill_between(g["time"], g["value"] - g["error"], g["value"] + g["error"], color=c, alpha=0.25, lw=0)
            # where t-VMC equals exact (t = 0, the same initial state) there is no error to draw on a log axis
            gap = (g["value"] - g["exact_value"]).abs()
            ax_e.semilogy(g["time"], gap.where(gap > FLOOR), "-", color=c, lw=1.2)
        exact = growth[growth["exact_value"].notna()].drop_duplicates("time").sort_values("time")
        if len(exact):
            ax_t.plot(exact["time"], exact["exact_value"], "k--", lw=1, label="exact")
        ax_t.set_ylabel(f"S2, |A| = {largest:g} (nats)")
        ax_t.set_title(f"after the quench to {_couplings(growth.iloc[0])}".rstrip(), fontsize=9)
        ax_e.set(xlabel="time t (units of 1/J)", ylabel="|S2 − exact|")
        ax_t.legend(fontsize=7)
        drawn.append(growth)
    else:
        ax_t.text(0.5, 0.5, "no S2 along a quench", ha="center", va="center", transform=ax_t.transAxes)
    for ax in (ax_g, ax_t, ax_e):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, outputs)
    return pd.concat(drawn, ignore_index=True)


def area_law_bound(row: pd.Series) -> float:
    """The largest S2 a short-range RBM (rbm_local) can have on a block of a periodic chain, in
    nats: each of the two cuts is crossed only by factors of the 2R sites on either side, so at most
    2^(2R) Schmidt values per cut (Deng, Li and Das Sarma), whatever the number of units. NaN for
    other networks and lattices (no such bound drawn)."""
    reach = row.get("range", 0)
    if row.get("ansatz") != "rbm_local" or row.get("lattice") != "chain" or not reach or pd.isna(reach):
        return float("nan")
    return 4 * int(reach) * float(np.log(2))


def _connectivity_label(row: pd.Series) -> str:
    reach = row.get("range", 0)
    name = f"{row['ansatz']} R={int(reach)}" if row["ansatz"] == "rbm_local" and pd.notna(reach) else row["ansatz"]
    params = row.get("n_params", float("nan"))
    return f"{name} α={row['alpha']:g}" + ("" if pd.isna(params) else f", {int(params)} params")


def volume_law(tables: Tables, outputs: list[str | Path]) -> pd.DataFrame:
    """Figure 8: volume-law entanglement on long-range against local networks at equal parameters.
    Left, S2(t) of the largest block after the quench, a line per network, exact dashed, and each
    short-range network's area-law bound 4R ln 2 dotted. Right, S2 against the block size |A| when
    the exact S2 of the largest block peaks: the exact state's volume law against each network's.
    n_params comes from the quenches table."""
    dyn, quenches = tables["dynamics"], tables["quenches"]
    s2 = dyn[dyn["measurement"] == "renyi2"] if "measurement" in dyn and not dyn.empty else dyn.iloc[:0]
    if s2.empty:
        empty_figure(outputs, "No Rényi-2 along a quench yet (the volume-law study's measurements: renyi2).")
        return s2
    s2 = s2.drop(columns=["n_params"], errors="ignore")
    if not quenches.empty and "n_params" in quenches:
        s2 = s2.merge(quenches[["spec_hash", "n_params"]].drop_duplicates("spec_hash"), on="spec_hash", how="left")
    s2 = s2.assign(curve=s2.apply(_connectivity_label, axis=1), area_law_bound=s2.apply(area_law_bound, axis=1))
    colors = colors_for(s2["curve"])
    fig, (ax_t, ax_a) = plt.subplots(1, 2, figsize=(11, 4.5))
    largest = s2["x"].max()
    growth = s2[s2["x"] == largest].assign(panel="time")
    # the right panel's time: where the exact S2 of the largest block peaks (the most entangled
    # state of the run), among the times every network reached (a failed one stops early); the
    # latest of those without an exact reference
    reached = growth[growth["time"] <= s2.groupby("curve")["time"].max().min() + 1e-12]
    peak = reached.dropna(subset=["exact_value"])
    t_star = float(peak.loc[peak["exact_value"].idxmax(), "time"]) if len(peak) else float(reached["time"].max())
    blocks = s2[np.isclose(s2["time"], t_star)].assign(panel="blocks")
    for curve, g in growth.groupby("curve", sort=True):
        g = g.sort_values("time")
        ax_t.plot(g["time"], g["value"], "-", color=colors[curve], lw=1.4, label=curve)
        ax_t.fill_between(g["time"], g["value"] - g["error"], g["value"] + g["error"], color=colors[curve], alpha=0.25, lw=0)
    for curve, g in blocks.groupby("curve", sort=True):
        g = g.sort_values("x")
        ax_a.plot(g["x"], g["value"], "o-", ms=4, color=colors[curve], lw=1.2, label=curve)
    for ax, rows, x in ((ax_t, growth, "time"), (ax_a, blocks, "x")):
        exact = rows[rows["exact_value"].notna()].drop_duplicates(x).sort_values(x)
        if len(exact):
            ax.plot(exact[x], exact["exact_value"], "k--", lw=1, label="exact")
    sizes = np.arange(1, int(largest) + 1)
    ax_a.plot(sizes, sizes * np.log(2), color="0.6", lw=0.8, label="|A| ln 2 (largest possible)")
    top = 1.15 * float(np.nanmax(blocks[["value", "exact_value"]].to_numpy(dtype=float), initial=0.0))
    for ax, rows in ((ax_t, growth), (ax_a, blocks)):
        for i, (bound, g) in enumerate(rows[rows["area_law_bound"].notna()].groupby("area_law_bound")):
            ax.axhline(bound, color="0.4", ls=":", lw=1.2 + 0.6 * i, label=f"area-law bound 4R ln 2, R={int(g['range'].iloc[0])}")
    row = s2.iloc[0]
    ax_t.set_title(
        f"{row['model']} {row['lattice']} L={row['L']}, quench to {_couplings(row)}: |A| = {largest:g}".rstrip(), fontsize=9
    )
    ax_t.set(xlabel="time t (units of 1/J)", ylabel="S2(A) (nats)")
    ax_a.set_title(f"S2 against block size at t = {t_star:g} (the exact half-chain S2 at its peak)", fontsize=9)
    ax_a.set(xlabel="block size |A| (sites)", ylabel="S2(A) (nats)")
    ax_a.set_ylim(0, max(top, 0.1))  # the bounds and |A| ln 2 may lie above: the legend names them
    ax_a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for ax in (ax_t, ax_a):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)
    return pd.concat([growth, blocks], ignore_index=True)


FIGURES: dict[str, Callable[[Tables, list[str | Path]], pd.DataFrame]] = {
    "accuracy_vs_width": accuracy_vs_width,
    "ansatz_minima": ansatz_minima,
    "sign_problem": sign_problem,
    "qgt_rank": qgt_rank,
    "quench_dynamics": quench_dynamics,
    "sampling_health": sampling_health,
    "entanglement": entanglement,
    "volume_law": volume_law,
}
