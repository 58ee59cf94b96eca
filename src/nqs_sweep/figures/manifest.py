"""A figure's manifest: what drew it and from what, so a reader can tell whether two copies of a
figure came from the same computation.

Two parts. The points: every spec hash the figure's studies computed, with where each ran
(device), at which git revision, its status and run time. The drawing: package versions, git
revision (and whether the tree had uncommitted changes), platform, the SHA-256 of every input
table and output file, and the wall time of the drawing itself.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGES = ("nqs_sweep", "jax", "jaxlib", "optax", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "snakemake")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The revision, and whether tracked files outside results/ differ from it: the committed
    figures themselves are rewritten by every drawing and say nothing about the code."""
    revision = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top,exclude)results")
    return {"revision": revision or "unknown", "uncommitted_changes": bool(status) if status is not None else None}


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.fillna("unknown").value_counts().sort_index().items()}


def points_record(runs: pd.DataFrame) -> dict[str, Any]:
    """The computations behind a figure, from its studies' per-run summary tables (energies,
    quenches): one entry per run, and totals."""
    if runs.empty:
        return {"n_runs": 0, "runs": []}
    cols = [c for c in ("study", "spec_hash", "status", "device", "git_revision", "runtime_s") if c in runs]
    table = runs[cols].sort_values([c for c in ("study", "spec_hash") if c in cols])
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in table.to_dict("records")]
    runtime = pd.to_numeric(runs.get("runtime_s"), errors="coerce")
    return {
        "n_runs": len(runs),
        "status": _counts(runs["status"]) if "status" in runs else {},
        "devices": _counts(runs["device"]) if "device" in runs else {},
        "git_revisions": _counts(runs["git_revision"]) if "git_revision" in runs else {},
        "runtime_s_total": float(runtime.sum()) if runtime is not None else None,
        "runtime_s_max": float(runtime.max()) if runtime is not None and runtime.notna().any() else None,
        "runs": records,
    }


def figure_manifest(
    figure: str,
    description: str,
    inputs: dict[str, str | Path],
    outputs: list[str | Path],
    runs: pd.DataFrame,
    draw_time_s: float,
    scale: str,
) -> dict[str, Any]:
    """The manifest of one figure: `runs` are the per-run summary rows of its studies, `inputs`
    the tables and code it was drawn from, `outputs` the files written."""
    return {
        "figure": figure,
        "description": description,
        "scale": scale,
        "points": points_record(runs),
        "drawing": {
            "git": git_state(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": {p: _version(p) for p in PACKAGES},
            "wall_time_s": draw_time_s,
        },
        "inputs": {name: {"path": str(path), "sha256": sha256(path)} for name, path in inputs.items()},
        "outputs": {Path(path).name: sha256(path) for path in outputs},
    }
