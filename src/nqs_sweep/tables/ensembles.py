"""Seed ensembles: the points of a study that differ only in their seed, as one row each.

seed_ensembles.parquet  one row per group of points equal in every coordinate but the seed: how
                        many seeds, how many failed, and the mean, spread and best of N of the
                        energy and of the relative error
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nqs_sweep.spec import coupling_names

# The coordinates of tables.columns.coordinates other than the couplings (which follow the model
# registry), the seed and the spec hash; `variant` (tables.aggregate.with_variants) sets points
# apart as a coordinate does. A test keeps this list equal to coordinates(spec)'s keys.
POINT_COORDINATES = (
    "study",
    "model",
    "lattice",
    "L",
    "pbc",
    "n_sites",
    "sector",
    "symmetry",
    "ansatz",
    "alpha",
    "layers",
    "features",
    "symmetries",
    "parametrization",
    "readout",
    "range",
    "kernel",
    "patch",
    "heads",
    "activation",
    "dtype",
    "sampler",
    "n_samples",
    "sampler_power",
    "optimizer",
    "marshall_sign",
    "sign_prior",
    "module",
    "kwargs",
    "variant",
)

# Equal for every seed of a point (they follow from its coordinates): carried from the first seed.
CARRIED = ("n_params", "n_real_params", "exact_energy", "exact_energy_per_site", "reference_method")

# A seed enters the statistics only with a finite energy and one of these statuses; failed,
# diverged and interrupted ones are counted in n_failed instead.
FINISHED = ("converged", "not_converged")

STATISTICS = [
    "n_seeds",
    "n_failed",
    "seeds",
    "energy_mean",
    "energy_std",
    "energy_min",
    "energy_max",
    "energy_error_mean",
    "best_seed",
    "best_spec_hash",
    "best_energy_error",
    "rel_error_mean",
    "rel_error_std",
    "rel_error_min",
    "rel_error_max",
]


def ensemble_keys(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` that set seed ensembles apart: every coordinate but seed and spec hash,
    couplings included (those of a model registered later too)."""
    after_model = POINT_COORDINATES.index("model") + 1
    names = [*POINT_COORDINATES[:after_model], *coupling_names(), *POINT_COORDINATES[after_model:]]
    return [c for c in names if c in frame.columns]


def _finished(frame: pd.DataFrame) -> pd.Series:
    energy = pd.to_numeric(frame["energy"], errors="coerce") if "energy" in frame else pd.Series(np.nan, index=frame.index)
    status = frame["status"] if "status" in frame else pd.Series("converged", index=frame.index)
    return np.isfinite(energy.astype(float)) & status.isin(FINISHED)


def _one_ensemble(rows: pd.DataFrame) -> dict:
    rows = rows.sort_values("seed", kind="stable")  # equal energies: the lowest seed is the best
    ok = rows[_finished(rows)]
    energy = ok["energy"].astype(float)
    rel = ok["rel_error"].astype(float) if "rel_error" in ok else pd.Series(np.nan, index=ok.index)
    rel = rel[np.isfinite(rel)]
    best = ok.iloc[int(np.argmin(energy.to_numpy()))] if len(ok) else None
    first = rows.iloc[0]
    return {
        **{c: first[c] for c in CARRIED if c in rows},
        "n_seeds": len(rows),
        "n_failed": int(len(rows) - len(ok)),
        "seeds": ",".join(str(s) for s in sorted(rows["seed"].unique())),
        "energy_mean": energy.mean() if len(ok) else np.nan,
        "energy_std": energy.std(ddof=1) if len(ok) > 1 else np.nan,
        "energy_min": energy.min() if len(ok) else np.nan,
        "energy_max": energy.max() if len(ok) else np.nan,
        "energy_error_mean": ok["energy_error"].astype(float).mean() if len(ok) and "energy_error" in ok else np.nan,
        "best_seed": best["seed"] if best is not None else pd.NA,
        "best_spec_hash": best["spec_hash"] if best is not None and "spec_hash" in ok else None,
        "best_energy_error": float(best["energy_error"]) if best is not None and "energy_error" in ok else np.nan,
        # NaN without a reference: a relative error needs one for every seed it averages
        "rel_error_mean": rel.mean() if len(rel) else np.nan,
        "rel_error_std": rel.std(ddof=1) if len(rel) > 1 else np.nan,
        "rel_error_min": rel.min() if len(rel) else np.nan,
        "rel_error_max": rel.max() if len(rel) else np.nan,
    }


def seed_ensembles(energies: pd.DataFrame) -> pd.DataFrame:
    """One row per group of points that differ only in their seed (the energies table's rows grouped
    by ensemble_keys): the group's coordinates, n_seeds and n_failed (failed, diverged or interrupted
    seeds, left out of every statistic), the mean, sample standard deviation (ddof 1; NaN for one
    finished seed), minimum and maximum of the energy and of the relative error, the mean Monte Carlo
    error bar, and the best of N: the seed with the lowest energy, its spec hash and error bar."""
    if energies.empty or "seed" not in energies:
        return pd.DataFrame(columns=[*ensemble_keys(energies), *CARRIED, *STATISTICS])
    keys = ensemble_keys(energies)
    rows = []
    # dropna=False: a coupling the model does not have is NaN in every one of its points
    for key, group in energies.groupby(keys, dropna=False, sort=True) if keys else [((), energies)]:
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), **_one_ensemble(group)})
    df = pd.DataFrame(rows)
    df["best_seed"] = df["best_seed"].astype("Int64")
    return df
