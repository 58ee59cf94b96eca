"""Join per-point tables into study tables, with exact references attached.

energies.parquet    one row per point: the summary, plus exact energy and relative error
convergence.parquet every point's history, with the relative error per iteration
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nqs_sweep.tables import varbench
from nqs_sweep.tables.columns import COUPLING_COLUMNS

# What an exact reference is keyed by (tables.model_coordinates).
REFERENCE_KEYS = ["model", *COUPLING_COLUMNS, "lattice", "L", "pbc", "sector", "symmetry"]


# Coordinates added after results existed, with the value the earlier points had.
LATER_COORDINATES = {"parametrization": "direct", "readout": "symmetric", "range": 0, "kernel": 0, "patch": 0, "heads": 0}
# Reference keys added after references existed (in point tables and exact tables alike).
LATER_REFERENCE_KEYS = {"symmetry": "none"}


def _read_all(paths: list[str | Path]) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column, earlier in LATER_COORDINATES.items():
        if column in df:
            df[column] = df[column].fillna(earlier)
        elif "spec_hash" in df:
            df[column] = earlier
    for column, earlier in LATER_REFERENCE_KEYS.items():
        if "model" in df:
            df[column] = df[column].fillna(earlier) if column in df else earlier
    return df


# What a point takes from its reference: the energy, how it was obtained (lanczos,
# free_fermions, published) and its uncertainty (zero for the computed ones).
REFERENCE_COLUMNS = {"exact_energy": "exact_energy", "method": "reference_method", "exact_energy_error": "exact_energy_error"}


def _join_exact(df: pd.DataFrame, exact: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    df = df.drop(columns=list(REFERENCE_COLUMNS.values()), errors="ignore")
    if exact.empty:
        df["exact_energy"], df["reference_method"], df["exact_energy_error"] = np.nan, None, np.nan
        return df
    ref = exact.drop_duplicates(REFERENCE_KEYS).copy()
    ref["method"] = ref["method"] if "method" in ref else "unknown"
    ref["exact_energy_error"] = ref["exact_energy_error"].fillna(0.0) if "exact_energy_error" in ref else 0.0
    keys = _reference_key(df)
    by_key = ref.set_index(_reference_key(ref).to_numpy())
    for source, column in REFERENCE_COLUMNS.items():
        df[column] = keys.map(by_key[source])
    df["exact_energy"] = df["exact_energy"].astype(float)
    df["exact_energy_error"] = df["exact_energy_error"].astype(float)
    return df


def _reference_key(frame: pd.DataFrame) -> pd.Series:
    # NaN couplings (those a model does not have) must match each other in the join,
    # which a merge on NaN keys does not promise.
    text = frame[REFERENCE_KEYS].apply(lambda col: col.map(lambda v: "nan" if pd.isna(v) else repr(v)))
    return text.agg("|".join, axis=1)


def _with_relative_error(tables: list[str | Path], exacts: list[str | Path]) -> pd.DataFrame:
    df = _join_exact(_read_all(tables), _read_all(exacts))
    if not df.empty:
        df["rel_error"] = (df["energy"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
        if "energy_lanczos" in df:  # points with lanczos_samples (NaN for the others)
            df["rel_error_lanczos"] = (df["energy_lanczos"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
    return df


def energies_table(summaries: list[str | Path], exacts: list[str | Path]) -> pd.DataFrame:
    """One row per point with its exact reference and, where the varbench table lists its system,
    the published energies (nqs_sweep.tables.varbench)."""
    df = _with_relative_error(summaries, exacts)
    if not df.empty:
        df["exact_energy_per_site"] = df["exact_energy"] / df["n_sites"]
        df = varbench.join(df)
    return df


def with_variants(df: pd.DataFrame, variants: dict[str, str]) -> pd.DataFrame:
    """A ``variant`` column: per spec hash, the settings that set a point apart from the study's
    defaults at its coordinates (nqs_sweep.study.point_variant), '' for none."""
    if df.empty or "spec_hash" not in df:
        return df
    return df.assign(variant=df["spec_hash"].map(dict(variants)).fillna("").astype(str))


# The report's energies table (energies.tsv): what a reader compares, in this order; the Parquet
# table keeps every column.
_READABLE = ["model", *COUPLING_COLUMNS, "lattice", "L", "symmetry", "ansatz", "alpha", "seed", "variant", "n_params",
             "energy", "energy_error", "exact_energy", "reference_method", "rel_error", "v_score",
             "energy_lanczos", "energy_lanczos_error", "rel_error_lanczos", "status"]  # fmt: skip


def readable_energies(energies: pd.DataFrame) -> pd.DataFrame:
    """The energies table for a person: its main columns (those present; couplings only where
    some point has one), one row per point, sorted by its coordinates."""
    cols = [c for c in _READABLE if c in energies and not (c in COUPLING_COLUMNS and energies[c].isna().all())]
    if "variant" in cols and not energies["variant"].astype(bool).any():
        cols.remove("variant")
    keys = [c for c in ("model", *COUPLING_COLUMNS, "lattice", "L", "ansatz", "alpha", "seed") if c in cols]
    return energies[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def convergence_table(histories: list[str | Path], exacts: list[str | Path]) -> pd.DataFrame:
    df = _with_relative_error(histories, exacts)
    if not df.empty:
        df["energy_per_site"] = df["energy"] / df["n_sites"]
    return df


def spectra_table(spectra: list[str | Path]) -> pd.DataFrame:
    """Every point's QGT eigenvalues (long form)."""
    return _read_all(spectra)


def qgt_rank_table(spectra: pd.DataFrame, energies: pd.DataFrame) -> pd.DataFrame:
    """One row per point: QGT ranks and sizes, with the point's energy error joined on spec_hash."""
    if spectra.empty:
        return spectra
    rank_cols = [c for c in spectra.columns if c.startswith("rank_")]
    per_point = spectra.groupby("spec_hash", sort=False).first().reset_index()
    per_point = per_point.drop(columns=["index", "eigenvalue"], errors="ignore")
    keep = ["spec_hash", "energy", "energy_error", "exact_energy", "rel_error"]
    if not energies.empty:
        per_point = per_point.merge(energies[[c for c in keep if c in energies]], on="spec_hash", how="left")
    return per_point[[c for c in per_point.columns if c not in rank_cols] + rank_cols]


def qgt_history_table(histories: list[str | Path], exacts: list[str | Path]) -> pd.DataFrame:
    """One row per (point, iteration) of the spectra along the optimisation: ranks, energy,
    infidelity, and the relative error against the point's reference."""
    df = _read_all(histories)
    if df.empty:
        return df
    per = df.drop(columns=["index", "eigenvalue"]).groupby(["spec_hash", "iteration"], sort=False).first().reset_index()
    per = _join_exact(per, _read_all(exacts))
    per["rel_error"] = (per["energy"] - per["exact_energy"]).abs() / per["exact_energy"].abs()
    return per


def sampling_efficiency_table(tables: list[str | Path]) -> pd.DataFrame:
    """Every point's sampling measurements, one row per (point, sampler drawn with)."""
    return _read_all(tables)
