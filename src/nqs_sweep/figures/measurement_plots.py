"""Figures of the measurements table (nqs_sweep.measure): one panel per measurement and
component, Monte Carlo markers with error bars per point, the exact ground state as a line.

S2 against subsystem size is the area-law question: a line that saturates with the block size
is an area law (a gapped chain, up to a logarithm at criticality), one that grows linearly a
volume law.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from nqs_sweep.figures.plots import colors_for, empty_figure, named_networks, save_figure
from nqs_sweep.tables.columns import COUPLING_COLUMNS

AXES = {
    "correlations": ("distance r", "C(r)"),
    "structure_factor": ("momentum index", "S(q)"),
    "staggered_magnetisation": ("", "⟨m_s²⟩"),
    "dimers": ("distance r", "connected dimer correlation"),
    "pauli": ("string", "⟨P⟩"),
    "renyi2": ("subsystem size |A|", "S2 (nats)"),
}


def _panel(row: pd.Series) -> str:
    """correlations split by component (the argument's first word: zz, xx, yy)."""
    if row["measurement"] == "correlations":
        return f"correlations {row['argument'].split()[0]}"
    return row["measurement"]


def _curves(df: pd.DataFrame) -> pd.Series:
    """A line per point: model, couplings that vary, L, network and width, seed where several."""
    varying = [c for c in COUPLING_COLUMNS if c in df and df[c].nunique(dropna=True) > 1]
    seeds = "seed" in df and df["seed"].nunique() > 1

    def label(row) -> str:
        couplings = "".join(f" {c}={row[c]:g}" for c in varying if pd.notna(row[c]))
        seed = f" s{row['seed']}" if seeds else ""
        return f"{row['model']}{couplings} {row['lattice']} L={row['L']} {row['ansatz']} α={row['alpha']:g}{seed}"

    return df.apply(label, axis=1)


def plot_measurements(df: pd.DataFrame, outputs: list[str | Path]) -> None:
    if df.empty:
        return empty_figure(outputs, "No measurements yet.")
    df = named_networks(df)
    df = df.assign(panel=df.apply(_panel, axis=1), curve=_curves(df))
    panels = list(dict.fromkeys(df["panel"]))
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    colors = colors_for(df["curve"])
    for ax, panel in zip(axes.flat, panels):
        sel = df[df["panel"] == panel]
        measurement = sel["measurement"].iloc[0]
        for curve, g in sel.groupby("curve", sort=True):
            g = g.sort_values("x")
            ok = g["value"].notna()
            color = colors[curve]
            ax.errorbar(g["x"][ok], g["value"][ok], yerr=g["error"][ok], fmt="o", ms=4, capsize=2, color=color, label=curve)
            if g["exact"].notna().any():
                ax.plot(g["x"], g["exact"], "-", lw=1, color=colors[curve], alpha=0.7)
            if (~ok).any():  # flagged rows: where the estimator could not resolve the value
                ax.plot(g["x"][~ok], [0] * int((~ok).sum()), "x", color=colors[curve], ms=6)
        xlabel, ylabel = AXES.get(measurement, ("", measurement))
        if measurement == "pauli":
            ticks = sel.drop_duplicates("x").sort_values("x")
            ax.set_xticks(ticks["x"], ticks["argument"], rotation=30)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=panel)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, title="markers: Monte Carlo ± error; lines: exact", title_fontsize=7)
    fig.tight_layout()
    save_figure(fig, outputs)
