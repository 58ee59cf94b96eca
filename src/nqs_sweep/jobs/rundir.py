"""A run directory that this process cannot write: detected, and moved aside so the point starts
afresh. Kept apart from the lifecycle (no numpy, pandas or JAX) because the workflow's spec
writers call it too, in every Snakemake start-up. The lock file's owner check lives here for the
same reason: a directory a live process runs in is never moved."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path

LOCK = "run.lock"


def writable(path: Path) -> bool:
    """Whether this process may create files in the directory path: os.access answers for this
    user and for a read-only file system alike."""
    return os.access(path, os.W_OK | os.X_OK)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def lock_state(out: Path) -> tuple[str, dict]:
    """(state, owner) of out/run.lock: 'free' (no lock), 'own' (this process's), 'stale' (its
    process is gone from this host) or 'held'. A lock being written or damaged names no one we
    can check, and is held; so is one from another host, whose process cannot be checked."""
    path = Path(out) / LOCK
    if not path.exists():
        return "free", {}
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return "held", {}
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        if owner["pid"] == os.getpid():
            return "own", owner
        if not alive(owner["pid"]):
            return "stale", owner
    return "held", owner


def holder(owner: dict) -> str:
    return f"process {owner.get('pid', '?')} on {owner.get('host', '?')}"


def move_aside_if_unwritable(out: Path, keep: tuple[str, ...] = ()) -> Path | None:
    """An existing run directory this process cannot write is renamed <name>.unwritable[-k] beside
    it (a rename in one parent needs only the parent's write permission) and a fresh, empty one
    made in its place, so the point starts afresh instead of failing the same way on every retry.
    ``keep``: names of files copied back into the fresh directory, with their times (a workflow's
    spec file, which is the job's input). Says so on stderr and returns where it went; None when
    there is nothing to do (missing, or writable: also when another process moved it first).
    OSError where a live process holds its lock, or where even the rename fails (a mount point,
    an immutable directory, a sticky shared parent)."""
    if not out.is_dir() or writable(out):
        return None
    state, owner = lock_state(out)
    if state == "held":
        raise OSError(f"{out} is in use by {holder(owner)} ({LOCK})")
    k, aside = 1, out.with_name(f"{out.name}.unwritable")
    while aside.exists():
        k += 1
        aside = out.with_name(f"{out.name}.unwritable-{k}")
    out.rename(aside)
    out.mkdir()
    for name in keep:
        if (aside / name).is_file():
            shutil.copy2(aside / name, out / name)
    print(f"nqs-sweep: {out} was not writable; moved aside to {aside.name}, the point starts afresh", file=sys.stderr)
    return aside
