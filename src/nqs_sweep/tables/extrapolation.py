"""Zero-variance extrapolation: the energy of a family of networks at zero energy variance.

zero_variance.parquet  one row per family: the points of a study that differ only in the size of
                       their network (alpha, layers, features, plug-in kwargs) and in their seed,
                       with the weighted linear fit E = E0 + b σ² over their finished points, its
                       error, and E0 against the family's reference beside the best point's energy

As a variational state approaches an eigenstate, both its energy error and its variance
σ² = ⟨H²⟩ − ⟨H⟩² go to zero, linearly in each other to first order; a width or depth sweep
therefore extrapolates to σ² = 0. The extrapolated E0 is an estimate, not a variational bound:
it can fall below the exact energy, and the table keeps the best point beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nqs_sweep.tables.ensembles import FINISHED, ensemble_keys

# Coordinates a width or depth sweep varies inside one family (with the seed and spec hash).
SIZE_COORDINATES = ("alpha", "layers", "features", "kwargs")

CARRIED = ("exact_energy", "reference_method")

COLUMNS = [
    "n_points",
    "n_sizes",
    "n_params_min",
    "n_params_max",
    "energy_extrapolated",
    "energy_extrapolated_error",
    "slope",
    "slope_error",
    "chi2_dof",
    "rel_error_extrapolated",
    "best_energy",
    "best_energy_error",
    "best_variance",
    "best_spec_hash",
    "rel_error_best",
    "note",
]


# The size settings as the variant column writes them (study.point_variant: 'ansatz_layers~3').
_SIZE_VARIANTS = tuple(f"ansatz_{c}" for c in SIZE_COORDINATES)


def family_variant(variant: str) -> str:
    """A point's variant without its size settings: a depth or plug-in kwargs sweep writes its
    layers, features or kwargs there, and they must not set its points apart."""
    parts = str(variant or "").split("/")
    return "/".join(p for p in parts if p and not p.startswith(_SIZE_VARIANTS))


def family_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that set families apart: every coordinate but the network's size and the seed
    (the variant without its size settings, family_variant)."""
    return [c for c in ensemble_keys(frame) if c not in SIZE_COORDINATES]


def with_family_variants(energies: pd.DataFrame) -> pd.DataFrame:
    """The table with each variant replaced by its family_variant."""
    return energies.assign(variant=energies["variant"].map(family_variant)) if "variant" in energies else energies


def linear_fit(variance: np.ndarray, energy: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """Weighted least squares of energy = E0 + b variance (weights 1/error²).

    The covariance is the fit's own, (Aᵀ W A)⁻¹, scaled by the reduced χ² when that exceeds 1 (three
    points or more): scatter beyond the error bars, which a curved family shows, widens the error
    instead of being hidden by tiny Monte Carlo errors. Two points give the line through them and
    the error their error bars propagate (chi2_dof NaN)."""
    x, y = np.asarray(variance, float), np.asarray(energy, float)
    sigma = np.asarray(error, float)
    # a point without a usable error bar weighs as the least certain of the others
    usable = np.isfinite(sigma) & (sigma > 0)
    sigma = np.where(usable, sigma, sigma[usable].max() if usable.any() else 1.0)
    w = 1.0 / sigma**2
    a = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(a.T @ (w[:, None] * a))
    e0, slope = cov @ (a.T @ (w * y))
    dof = len(x) - 2
    chi2_dof = float(np.sum(w * (y - e0 - slope * x) ** 2) / dof) if dof > 0 else float("nan")
    if dof > 0 and chi2_dof > 1:
        cov = cov * chi2_dof
    return {
        "energy_extrapolated": float(e0),
        "energy_extrapolated_error": float(np.sqrt(cov[0, 0])),
        "slope": float(slope),
        "slope_error": float(np.sqrt(cov[1, 1])),
        "chi2_dof": chi2_dof,
    }


def _one_family(rows: pd.DataFrame) -> dict:
    energy = pd.to_numeric(rows["energy"], errors="coerce").astype(float)
    variance = pd.to_numeric(rows["variance"], errors="coerce").astype(float)
    ok = rows[energy.notna() & np.isfinite(energy) & np.isfinite(variance) & rows["status"].isin(FINISHED)]
    first = rows.iloc[0]
    out = {c: first[c] for c in CARRIED if c in rows}
    out.update(dict.fromkeys(COLUMNS, np.nan))
    sizes = [c for c in SIZE_COORDINATES if c in ok]
    n_sizes = len(ok[sizes].astype(str).drop_duplicates()) if sizes and len(ok) else len(ok)
    out.update(n_points=len(ok), n_sizes=n_sizes, best_spec_hash=None, note="")
    if "n_params" in ok and len(ok):
        out.update(n_params_min=int(ok["n_params"].min()), n_params_max=int(ok["n_params"].max()))
    if not len(ok):
        out["note"] = "no finished point"
        return out
    best = ok.loc[ok["energy"].astype(float).idxmin()]
    exact = float(first["exact_energy"]) if "exact_energy" in rows and pd.notna(first["exact_energy"]) else np.nan
    out.update(
        best_energy=float(best["energy"]),
        best_energy_error=float(best["energy_error"]),
        best_variance=float(best["variance"]),
        best_spec_hash=best.get("spec_hash"),
        rel_error_best=abs(float(best["energy"]) - exact) / abs(exact) if np.isfinite(exact) and exact else np.nan,
    )
    if ok["variance"].astype(float).nunique() < 2:
        out["note"] = "fewer than two distinct variances: no fit"
        return out
    fit = linear_fit(ok["variance"].to_numpy(), ok["energy"].to_numpy(), ok["energy_error"].to_numpy())
    out.update(fit)
    if np.isfinite(exact) and exact:
        out["rel_error_extrapolated"] = abs(fit["energy_extrapolated"] - exact) / abs(exact)
    if n_sizes == 1:
        out["note"] = "one network size: a fit over its seeds only"
    if n_sizes == 2:
        out["note"] = "two network sizes: a line through them, no check of its linearity"
    # The energy of a family approaching the ground state falls with its variance; a slope not
    # clearly above zero means points at their Monte Carlo noise floor, or not converged.
    if fit["slope"] - 2 * fit["slope_error"] <= 0:
        out["note"] = "; ".join(filter(None, [out["note"], "slope not above zero by 2 errors: no approach to be extrapolated"]))
    return out


def zero_variance_extrapolation(energies: pd.DataFrame) -> pd.DataFrame:
    """One row per family of the energies table (family_keys): its coordinates, the number of
    finished points, the fit of E against σ² (linear_fit) and its relative error against the
    family's reference, and the best point (lowest energy) with its relative error."""
    keys = family_keys(energies)
    if energies.empty or "variance" not in energies:
        return pd.DataFrame(columns=[*keys, *CARRIED, *COLUMNS])
    energies = with_family_variants(energies)
    rows = []
    # dropna=False: a coupling the model does not have is NaN in every one of its points
    for key, group in energies.groupby(keys, dropna=False, sort=True) if keys else [((), energies)]:
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), **_one_family(group)})
    return pd.DataFrame(rows)
