"""Checkpoints: the leaves of a state pytree in an .npz file, written atomically.

No pickles: arrays only (``allow_pickle=False``), plus a JSON metadata string.
The loader needs a template state of the same structure (built from the spec),
so a checkpoint cannot smuggle code and a mismatched one fails loudly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

META = "__meta__"


def atomic_write_bytes(path: Path, write) -> None:
    """Call write(file) on a temporary sibling, fsync, then rename over path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(path: str | Path, state: Any, meta: dict) -> None:
    leaves = jax.tree_util.tree_leaves(state)
    arrays = {f"leaf_{i:04d}": np.asarray(jax.device_get(leaf)) for i, leaf in enumerate(leaves)}
    arrays[META] = np.array(json.dumps(meta))
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))


def load(path: str | Path, template: Any) -> tuple[Any, dict]:
    """Restore a state shaped like ``template``; returns (state, meta)."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data[META]))
        stored = sorted(k for k in data.files if k != META)
        if len(stored) != len(leaves):
            raise ValueError(f"checkpoint {path} has {len(stored)} arrays, the state needs {len(leaves)}")
        restored = []
        for key, leaf in zip(stored, leaves):
            # The header first: a damaged or foreign file may declare any shape, and reading the
            # array would allocate it before the comparison could refuse it.
            shape, dtype = _declared(data, key)
            if shape != np.shape(leaf) or dtype != np.asarray(leaf).dtype:
                raise ValueError(
                    f"checkpoint {path}: {key} is {shape} {dtype}, expected {np.shape(leaf)} {np.asarray(leaf).dtype}"
                )
            restored.append(jax.numpy.asarray(data[key]))
    return jax.tree_util.tree_unflatten(treedef, restored), meta


def _declared(data: np.lib.npyio.NpzFile, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) an .npz member declares in its .npy header, without reading its data."""
    with data.zip.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return tuple(shape), np.dtype(dtype)
