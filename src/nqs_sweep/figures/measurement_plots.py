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

    labels = df.apply(label, axis=1)
    if "spec_hash" in df:  # points the label does not tell apart (a setting outside it): by hash
        shared = labels.groupby(labels).transform(lambda g: df.loc[g.index, "spec_hash"].nunique() > 1)
        labels = labels.where(~shared, labels + " [" + df["spec_hash"].str[:6] + "]")
    return labels


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


def plot_entanglement_growth(dyn: pd.DataFrame, outputs: list[str | Path]) -> None:
    """S2(t) of the largest measured region along each quench (a line per network, its Monte Carlo
    error as a band), the exact growth dashed; below, |S2 − exact| on a log scale. A volume-law
    growth a network cannot carry shows as its line falling below the exact one."""
    import numpy as np

    rows = dyn[dyn["measurement"] == "renyi2"] if "measurement" in dyn else dyn.iloc[:0]
    if rows.empty:
        return empty_figure(outputs, "No quench measures renyi2.")
    rows = named_networks(rows)
    largest = rows["x"].max()
    rows = rows[rows["x"] == largest].assign(curve=_curves(rows[rows["x"] == largest]))
    fig, (ax, low) = plt.subplots(2, 1, figsize=(6, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    colors = colors_for(rows["curve"])
    exact_drawn: list = []
    for curve, g in rows.groupby("curve", sort=True):
        g = g.sort_values("time")
        ax.plot(g["time"], g["value"], "o-", ms=3, color=colors[curve], label=curve)
        ax.fill_between(g["time"], g["value"] - g["error"], g["value"] + g["error"], color=colors[curve], alpha=0.25, lw=0)
        if g["exact_value"].notna().any():
            exact = g["exact_value"].to_numpy()
            # one dashed line per distinct exact growth (quenches of other sizes or couplings have their own)
            if not any(len(e) == len(exact) and np.allclose(e, exact, equal_nan=True) for e in exact_drawn):
                ax.plot(g["time"], exact, "k--", lw=1.2, label="exact" if not exact_drawn else None)
                exact_drawn.append(exact)
            low.semilogy(g["time"], np.maximum((g["value"] - g["exact_value"]).abs(), 1e-8), "o-", ms=3, color=colors[curve])
    region = rows["observable"].iloc[0].split(": ")[1]
    ax.set(ylabel=f"S2 ({region}), nats", title=f"entanglement growth, |A| = {largest:g}")
    low.set(xlabel="time t (units of 1/J)", ylabel="|S2 − exact|")
    ax.legend(fontsize=7)
    for a in (ax, low):
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, outputs)
