"""A run directory that this process cannot write: detected, and moved aside so the point starts
afresh. Kept apart from the lifecycle (no numpy, pandas or JAX) because the workflow's spec
writers call it too, in every Snakemake start-up."""

from __future__ import annotations

import os
from pathlib import Path


def writable(path: Path) -> bool:
    """Whether this process may create files in the directory path: os.access answers for this
    user and for a read-only file system alike."""
    return os.access(path, os.W_OK | os.X_OK)


def move_aside_if_unwritable(out: Path) -> Path | None:
    """An existing run directory this process cannot write is renamed <name>.unwritable[-k] beside
    it (a rename in one parent needs only the parent's write permission), so the point starts
    afresh instead of failing the same way on every retry. Returns where it went (None: nothing
    to do); OSError where even the rename fails (a mount point, an immutable directory)."""
    if not out.is_dir() or writable(out):
        return None
    k, aside = 1, out.with_name(f"{out.name}.unwritable")
    while aside.exists():
        k += 1
        aside = out.with_name(f"{out.name}.unwritable-{k}")
    out.rename(aside)
    return aside
