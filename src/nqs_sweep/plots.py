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

from nqs_sweep.tables import COUPLING_COLUMNS  # noqa: E402

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


def _cases(df: pd.DataFrame, coupling: str) -> list[tuple]:
    return sorted(df.groupby(["model", "lattice", coupling], dropna=False).groups.keys(), key=str)


def _save(fig, outputs: list[str | Path]) -> None:
    for out in outputs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _empty(outputs, message: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.axis("off")
    _save(fig, outputs)


def _colors(values) -> dict:
    values = sorted(set(values))
    cmap = plt.get_cmap("viridis")
    return {v: cmap(i / max(len(values) - 1, 1) * 0.9) for i, v in enumerate(values)}


def plot_convergence(conv: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Relative error against iteration: a panel per (model, coupling) and L, a line per width
    (the running mean over SMOOTH iterations; single iterations faint behind it)."""
    if conv.empty or conv["exact_energy"].isna().all():
        return _empty(outputs, "No convergence data with an exact reference yet.")
    conv = conv[conv["exact_energy"].notna()]
    coupling = sweep_coupling(conv)
    cases = _cases(conv, coupling)
    sizes = sorted(conv["L"].unique())
    fig, axes = plt.subplots(len(cases), len(sizes), figsize=(3.6 * len(sizes), 2.8 * len(cases)), squeeze=False, sharex=True)
    colors = _colors(conv["alpha"])
    for r, (model, lattice, cval) in enumerate(cases):
        for c, L in enumerate(sizes):
            ax = axes[r, c]
            sel = conv[(conv["model"] == model) & (conv["lattice"] == lattice) & (conv[coupling] == cval) & (conv["L"] == L)]
            for (ansatz, alpha, seed), g in sel.groupby(["ansatz", "alpha", "seed"]):
                g = g.sort_values("iteration")
                label = f"{ansatz} α={alpha:g}" + (f" s{seed}" if conv["seed"].nunique() > 1 else "")
                # Single-iteration energies scatter by their Monte Carlo error: draw them faintly,
                # and the error of a running mean (window SMOOTH) as the line to read.
                ax.semilogy(g["iteration"], np.maximum(g["rel_error"], FLOOR), color=colors[alpha], lw=0.5, alpha=0.25)
                smooth = g["energy"].rolling(SMOOTH, min_periods=1).mean()
                rel = (smooth - g["exact_energy"]).abs() / g["exact_energy"].abs()
                ax.semilogy(g["iteration"], np.maximum(rel, FLOOR), color=colors[alpha], lw=1.3, label=label)
            ax.set_title(f"{model} {lattice} L={L}, {coupling}={cval:g}", fontsize=9)
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
    _save(fig, outputs)


def plot_error_vs_width(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Final relative error against width α and against parameter count, a line per L.
    Hollow markers: runs not flagged converged. Error bars: the Monte Carlo error / |E₀|."""
    df = energies[energies["exact_energy"].notna() & energies["energy"].notna()] if not energies.empty else energies
    if df.empty:
        return _empty(outputs, "No finished points with an exact reference yet.")
    coupling = sweep_coupling(df)
    cases = _cases(df, coupling)
    fig, axes = plt.subplots(len(cases), 2, figsize=(9, 2.9 * len(cases)), squeeze=False)
    colors = _colors(df["L"])
    for r, (model, lattice, cval) in enumerate(cases):
        sel = df[(df["model"] == model) & (df["lattice"] == lattice) & (df[coupling] == cval)]
        for c, x in enumerate(["alpha", "n_params"]):
            ax = axes[r, c]
            for (L, ansatz), g in sel.groupby(["L", "ansatz"]):
                g = (
                    g.groupby(x, as_index=False)
                    .agg(
                        rel_error=("rel_error", "mean"),
                        err=("energy_error", "mean"),
                        e0=("exact_energy", "first"),
                        conv=("status", lambda s: (s == "converged").all()),
                    )
                    .sort_values(x)
                )
                y = np.maximum(g["rel_error"], FLOOR)
                ax.errorbar(
                    g[x],
                    y,
                    yerr=g["err"] / g["e0"].abs(),
                    color=colors[L],
                    marker="o",
                    ms=4,
                    capsize=2,
                    lw=1,
                    label=f"L={L} {ansatz}",
                    mfc="none" if not g["conv"].all() else colors[L],
                )
            ax.set_xscale("log", base=2 if x == "alpha" else 10)
            ax.set_yscale("log")
            ax.set_xlabel("hidden-unit density α" if x == "alpha" else "number of parameters")
            ax.set_ylabel("relative error |E−E₀|/|E₀|")
            ax.set_title(f"{model} {lattice}, {coupling}={cval:g}", fontsize=9)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, outputs)


def plot_energy_vs_coupling(energies: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Energy per site against the swept coupling: exact references as lines, VMC as markers."""
    df = energies[energies["energy"].notna()] if not energies.empty else energies
    if df.empty:
        return _empty(outputs, "No finished points yet.")
    coupling = sweep_coupling(df)
    groups = sorted(df.groupby(["model", "lattice"]).groups.keys())
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    colors = _colors(df["L"])
    markers = dict(zip(sorted(df["alpha"].unique()), "os^Dvp*hX"))
    for ax, (model, lattice) in zip(axes[0], groups):
        sel = df[(df["model"] == model) & (df["lattice"] == lattice)]
        for L, g in sel.groupby("L"):
            ex = g.dropna(subset=["exact_energy"]).groupby(coupling)["exact_energy_per_site"].first().sort_index()
            if len(ex):
                ax.plot(ex.index, ex.values, "-", color=colors[L], lw=1.2, label=f"exact L={L}")
            for alpha, ga in g.groupby("alpha"):
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
    _save(fig, outputs)
