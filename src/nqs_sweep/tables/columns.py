"""Parquet tables: point coordinates, the history logger, provenance, atomic writes.

Every table carries the point's coordinates as columns, so ``pd.concat`` of any
set of them is a valid table (design.md).
"""

from __future__ import annotations

import io
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from nqs_sweep import threads
from nqs_sweep.jobs.checkpoint import atomic_write_bytes
from nqs_sweep.mc.devices import peak_memory_mb
from nqs_sweep.spec import PointSpec, coupling_names

# The couplings of the built-in models: every table has these columns (NaN where a model lacks
# one); a model registered later adds its own couplings as further columns of its points.
COUPLING_COLUMNS = coupling_names()


def model_coordinates(spec: PointSpec) -> dict[str, Any]:
    """What an exact reference depends on: model, couplings, lattice, sector, and the symmetry
    sector the point's network is in ("none" for none; models.projection)."""
    from nqs_sweep.models.projection import plan

    couplings = dict(spec.model.couplings)
    return {
        "model": spec.model.name,
        **{k: couplings.get(k, float("nan")) for k in COUPLING_COLUMNS},
        **{k: v for k, v in couplings.items() if k not in COUPLING_COLUMNS},
        "lattice": spec.lattice.kind,
        "L": spec.lattice.L,
        "pbc": spec.lattice.pbc,
        "n_sites": spec.n_sites,
        "sector": spec.sector,
        "symmetry": plan(spec).label(spec.lattice.L),
    }


def coordinates(spec: PointSpec) -> dict[str, Any]:
    return {
        "study": spec.study,
        **model_coordinates(spec),
        "ansatz": spec.ansatz.name,
        "alpha": spec.ansatz.alpha,
        "layers": spec.ansatz.layers,
        # widths of every layer, e.g. "8" or "16,8" (a string: one column type for every ansatz)
        "features": ",".join(str(f) for f in spec.ansatz.features),
        "symmetries": spec.ansatz.symmetries,
        "parametrization": spec.ansatz.parametrization,
        "readout": spec.ansatz.readout,
        # rbm_local's reach and the convolutions' window: sweep axes of their own (0: not used)
        "range": spec.ansatz.range,
        "kernel": spec.ansatz.kernel,
        "patch": spec.ansatz.patch,
        "heads": spec.ansatz.heads,
        "activation": spec.ansatz.activation,
        "dtype": spec.ansatz.dtype,
        "sampler": spec.sampler.kind,
        "n_samples": spec.sampler.n_samples,
        "sampler_power": spec.sampler.power,
        "optimizer": spec.optimizer.kind,
        "marshall_sign": spec.marshall_sign,
        "sign_prior": spec.sign_prior,
        "seed": spec.seed,
        "spec_hash": spec.spec_hash,
        # a plug-in network: what it is and with which arguments (absent for the built-in ones,
        # whose tables keep the columns they always had)
        **(
            {"alpha": float("nan"), "module": spec.ansatz.module, "kwargs": json.dumps(spec.ansatz.kwargs_dict, sort_keys=True)}
            if spec.ansatz.module
            else {}
        ),
    }


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(Path(path), lambda f: f.write(buf.getvalue()))


class HistoryLogger:
    """Collects one row per iteration; flushed to Parquet at checkpoints and at the end."""

    def __init__(self, coords: dict[str, Any], rows: list[dict] | None = None):
        self.coords = coords
        self.rows: list[dict] = rows or []

    def __call__(self, step: int, metrics: dict[str, float]) -> None:
        self.rows.append({"iteration": step, **metrics})

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        for k, v in self.coords.items():
            df[k] = v
        return df

    def flush(self, path: str | Path) -> None:
        write_table(self.frame(), path)

    @classmethod
    def resume(cls, coords: dict[str, Any], path: Path, before_iteration: int) -> HistoryLogger:
        """Rows of an earlier run up to (not including) the checkpointed iteration."""
        if not path.exists():
            return cls(coords)
        df = pd.read_parquet(path)
        df = df[df["iteration"] < before_iteration]
        keep = [c for c in df.columns if c not in coords]
        return cls(coords, df[keep].to_dict("records"))


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict[str, str | int | None]:
    import jax

    versions = {f"version_{p}": metadata.version(p) for p in ("jax", "jaxlib", "optax", "numpy")}
    dev = jax.devices()[0]
    return {
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}".rstrip(":"),
        "peak_memory_mb": peak_memory_mb(),
        "git_revision": _git_revision(),
        "version_nqs_sweep": metadata.version("nqs_sweep") if _installed() else "unknown",
        **versions,
        **threads.summary_columns(),
    }


def _installed() -> bool:
    try:
        metadata.version("nqs_sweep")
        return True
    except metadata.PackageNotFoundError:
        return False
