"""Points of a sweep share compiled programs: a new coupling must not recompile.

Each point runs in a fresh process; the CLI keeps every compiled program in JAX's persistent
cache. A point that differs from a finished one only in a coupling (traced values) must find
all of its programs there and add none; a point of another size must add its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def _run_point(tmp: Path, cache: Path, spec: dict, name: str, **changes) -> set[str]:
    spec = yaml.safe_load(yaml.safe_dump(spec))
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        spec[section][key] = value
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    # the CLI's own cache settings, whatever the parent process has
    dropped = ("NQS_SWEEP_JAX_CACHE", "JAX_ENABLE_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_MAX_SIZE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_PERSISTENT_CACHE") and k not in dropped}
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    cmd = [sys.executable, "-m", "nqs_sweep.cli", "vmc", "--threads", "1", "--spec", str(path), "--out", str(tmp / name)]
    proc = subprocess.run([*cmd, "--exact", "none", "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {p.name for p in cache.iterdir()}


@pytest.mark.slow
def test_a_new_coupling_compiles_nothing_and_a_new_size_compiles_its_own(tmp_path, tiny_point):
    cache = tmp_path / "cache"
    first = _run_point(tmp_path, cache, tiny_point, "h05")
    assert len(first) > 10  # the step, the evaluation and the small programs around them
    assert _run_point(tmp_path, cache, tiny_point, "h15", model__h=1.5) == first
    bigger = _run_point(tmp_path, cache, tiny_point, "L6", lattice__L=6)
    assert bigger > first
