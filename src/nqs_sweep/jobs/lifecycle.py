"""The run lifecycle every job kind shares: its directory, its files, and its loop.

A run directory holds, for every kind of job (a ground state, a quench, the kinds to come):

  run_spec.yaml      the resolved spec (what the run is; written at every start)
  run.log            what the run printed
  checkpoint.npz     the state after the last checkpoint (atomic; with the spec hash and run time)
  <result>.partial.parquet   rows so far of each result table (resume state)
  <result>.parquet   the result tables, written at the end
  summary.parquet    one row, written last: its presence means the run is over
  error.txt          the traceback of a failed attempt
  run.lock           held while a process runs in the directory (its host and pid)

A kind adds its result tables and extra files (:class:`RunFiles`) and a loop body; this module
owns the names, the spec check (a directory holding another spec's run is never overwritten
unless asked), stale clearing, failure records, resume and the loop skeleton with its
progress, checkpoint and divergence hooks, the lock that keeps a second process out of a running
directory, and the signal handling that turns SIGTERM (a batch system's time limit) or SIGINT
into a checkpoint and a recorded ``interrupted`` status. A damaged resume file (checkpoint,
partial table, summary) is moved aside as ``<name>.damaged`` and the run starts afresh instead
of failing the same way on every retry.

A workflow engine that deletes the declared outputs of an interrupted job (Snakemake's
--rerun-incomplete) leaves the checkpoint and the partial tables in place, so the job
continues from its checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nqs_sweep.jobs import checkpoint
from nqs_sweep.jobs.progress import Progress
from nqs_sweep.jobs.rundir import LOCK, holder, lock_state
from nqs_sweep.tables.columns import provenance, write_table

CHECKPOINT = "checkpoint.npz"
SUMMARY = "summary.parquet"
RUN_SPEC = "run_spec.yaml"
LOG = "run.log"
ERROR = "error.txt"
# The exit code of a run stopped by a signal after its checkpoint: EX_TEMPFAIL of sysexits.h,
# "try again later", which a batch system's requeue or the workflow's retries then do.
EXIT_INTERRUPTED = 75


class RunConflict(RuntimeError):
    """The output directory holds a run of a different spec, or a live run."""


class Interrupted(RuntimeError):
    """A signal stopped the run after a checkpoint; the next attempt resumes from it."""

    def __init__(self, signame: str, iteration: int):
        self.signame, self.iteration = signame, iteration
        super().__init__(f"stopped by {signame} after unit {iteration}, checkpoint written; rerun to resume")


@dataclass(frozen=True)
class RunFiles:
    """What a job kind keeps besides the common files.

    ``partials``: each result table and its partial (resume) file; ``extras``: other files of
    the run, cleared with it when its spec changes; ``hashed``: tables with a ``spec_hash``
    column that name the run too (a cached reference); ``what``: the run in messages."""

    what: str
    partials: dict[str, str]
    extras: tuple[str, ...] = ()
    hashed: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (CHECKPOINT, *self.partials.values(), *self.partials, SUMMARY, *self.hashed, RUN_SPEC, *self.extras, ERROR)


def _checkpoint_hash(path: Path) -> str:
    with np.load(path, allow_pickle=False) as data:
        return str(json.loads(str(data[checkpoint.META]))["spec_hash"])


def _table_hash(path: Path) -> str:
    return str(pd.read_parquet(path, columns=["spec_hash"]).iloc[0]["spec_hash"])


def quarantine_damaged(out: Path, files: RunFiles) -> list[str]:
    """Move aside (as <name>.damaged) every run file that cannot be read, and with a damaged
    checkpoint or partial table all the resume files, so the run starts afresh; returns the
    names moved. An unreadable file would otherwise fail every retry in the same way."""
    out = Path(out)
    readers: dict[str, Callable[[Path], Any]] = {CHECKPOINT: _checkpoint_hash, SUMMARY: _table_hash}
    readers.update({name: _table_hash for name in files.hashed})
    readers.update({name: pd.read_parquet for name in files.partials.values()})
    damaged = []
    for name, read in readers.items():
        path = out / name
        if not path.exists():
            continue
        try:
            if path.is_dir():
                raise IsADirectoryError(path)
            read(path)
        except Exception:  # any way of being unreadable: truncated, random bytes, not JSON, a directory
            damaged.append(name)
    if damaged and any(name == CHECKPOINT or name in files.partials.values() for name in damaged):
        damaged = sorted({*damaged, *(n for n in (CHECKPOINT, *files.partials.values()) if (out / n).exists())})
    for name in damaged:
        os.replace(out / name, out / f"{name}.damaged")
    return damaged


def _stored_hashes(out: Path, files: RunFiles) -> list[str]:
    quarantine_damaged(out, files)
    hashes = []
    if (out / SUMMARY).exists():
        hashes.append(_table_hash(out / SUMMARY))
    if (out / CHECKPOINT).exists():
        hashes.append(_checkpoint_hash(out / CHECKPOINT))
    for name in files.hashed:
        if (out / name).exists():
            hashes.append(_table_hash(out / name))
    return hashes


def status(out: Path, spec_hash: str, files: RunFiles) -> str | None:
    """'complete' if out holds this spec's finished run, 'partial' if it holds a checkpoint or a
    failed attempt (retried, from its checkpoint if there is one), else None.

    Raises RunConflict when another process runs in out, or when out holds files of another spec
    (checked before compute, so a mistaken --out never overwrites another run's results)."""
    out = Path(out)
    check_not_in_use(out, files.what)
    other = [h for h in _stored_hashes(out, files) if h != spec_hash]
    if other:
        raise RunConflict(
            f"{out} holds a run of another {files.what} (hash {other[0]}, this {files.what} {spec_hash}); use another --out"
        )
    if (out / SUMMARY).exists():
        unfinished = pd.read_parquet(out / SUMMARY, columns=["status"]).iloc[0]["status"] in ("failed", "interrupted")
        return "partial" if unfinished else "complete"
    return "partial" if (out / CHECKPOINT).exists() else None


def clear_stale(out: Path, spec_hash: str, files: RunFiles) -> bool:
    """Remove the files of another spec's run from out (its point's spec changed); True if any.
    A directory another process runs in is never cleared (RunConflict)."""
    out = Path(out)
    check_not_in_use(out, files.what)
    try:
        status(out, spec_hash, files)
        return False
    except RunConflict:
        for name in files.all:
            (out / name).unlink(missing_ok=True)
        return True


def record_failure(out: Path, files: RunFiles, coords: dict[str, Any], row: dict[str, Any]) -> None:
    """A failed run still leaves its result tables (the rows so far) and a summary row: the
    coordinates, then row (the kind's NaN columns, status 'failed' and the error message), then
    the provenance."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    empty = pd.DataFrame([coords]).iloc[:0]
    for result, partial in files.partials.items():
        if not (out / result).exists():
            write_table(pd.read_parquet(out / partial) if (out / partial).exists() else empty, out / result)
    write_table(pd.DataFrame([{**coords, **row, **provenance()}]), out / SUMMARY)


def check_not_in_use(out: Path, what: str) -> None:
    """RunConflict if another live process holds out/run.lock (checked first, so a running
    directory is reported as in use whatever its files say). A lock whose process no longer runs
    on this host is stale and removed; on another host the owner cannot be checked, and the
    message says which file to remove."""
    path = Path(out) / LOCK
    state, owner = lock_state(out)
    if state == "stale":
        path.unlink(missing_ok=True)
    if state != "held":
        return
    raise RunConflict(
        f"{out} is in use by another {what} run ({holder(owner)}; {LOCK}). Wait for it, or remove {path} if that process is gone"
    )


@contextmanager
def locked(out: Path, what: str) -> Iterator[None]:
    """Hold out/run.lock for the life of a run (check_not_in_use says who else may hold it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK
    check_not_in_use(out, what)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:  # taken between the check and here
        check_not_in_use(out, what)
        raise RunConflict(f"{out} is in use by another {what} run ({LOCK})") from None
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, f)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def signals_deferred() -> Iterator[list[str]]:
    """SIGTERM and SIGINT set a flag (the list yielded holds the signal's name) instead of killing
    the process, so the loop finishes its unit and checkpoints; a second SIGINT stops at once.
    Outside the main thread (a notebook's worker) nothing is installed."""
    import threading

    caught: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if caught and signum == signal.SIGINT:
            raise KeyboardInterrupt
        caught.append(name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def session(out: Path, what: str) -> Iterator[list[str]]:
    """What every run holds for its life: the directory's lock, and SIGTERM/SIGINT deferred to
    the end of a unit (the list yielded: the signals caught, for ``drive``)."""
    with locked(out, what), signals_deferred() as caught:
        yield caught


def run_logger(out: Path) -> logging.Logger:
    log = logging.getLogger(f"nqs_sweep.run.{out.resolve()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        fh = logging.FileHandler(out / LOG)
        fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(fh)
    return log


def start_run(out: Path, raw_spec: dict) -> logging.Logger:
    """The run directory, its logger, and run_spec.yaml (always the current resolved spec)."""
    out.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(raw_spec, sort_keys=False).encode()
    checkpoint.atomic_write_bytes(out / RUN_SPEC, lambda f: f.write(text))
    return run_logger(out)


class Clock:
    """The run's time: what earlier attempts ran (from the checkpoint) plus this attempt's."""

    def __init__(self, previous_s: float = 0.0):
        self.previous_s = previous_s
        self._start = time.perf_counter()

    def __call__(self) -> float:
        return self.previous_s + time.perf_counter() - self._start


def resume(out: Path, template: Any) -> tuple[Any, float]:
    """(state, run time so far) from out's checkpoint, or (template, 0) without one."""
    if not (out / CHECKPOINT).exists():
        return template, 0.0
    state, meta = checkpoint.load(out / CHECKPOINT, template)
    return state, meta["runtime_s"]


def save_checkpoint(out: Path, state: Any, spec_hash: str, clock: Clock) -> None:
    checkpoint.save(out / CHECKPOINT, state, {"spec_hash": spec_hash, "runtime_s": clock()})


def partial_rows(path: Path, coords: dict[str, Any], column: str, before: int) -> list[dict]:
    """The rows of a partial table written before the checkpoint (column < before), without the
    coordinate columns: rows past it were written by a killed attempt, which the resumed run
    redoes."""
    if not path.exists():
        return []
    df = pd.read_parquet(path)
    return df[df[column] < before][[c for c in df.columns if c not in coords]].to_dict("records")


def drive(
    state: Any,
    *,
    done: Callable[[Any], int],
    total: int,
    unit: Callable[[Any], tuple[Any, str, bool]],
    save: Callable[[Any], None],
    every: int,
    label: str,
    show_progress: bool,
    caught: list[str],
) -> tuple[Any, bool]:
    """The loop every run kind shares: ``unit(state) -> (state, progress text, stop)`` until
    ``done(state)`` reaches ``total``, a checkpoint (``save``) every ``every`` units and at the
    end, progress on the terminal or in the log. A unit that reports stop (divergence) ends the
    loop before its checkpoint; returns (state, stopped). SIGTERM or SIGINT during a unit: the
    unit finishes, a checkpoint is written and Interrupted is raised. ``caught``: the list of the
    signals_deferred the run entered before its set-up (compilation), so a signal then is seen
    here too.
    """
    progress = Progress(total, done(state), label=label) if show_progress else None
    try:
        while done(state) < total:
            state, text, stop = unit(state)
            if stop:
                return state, True
            k = done(state)
            if progress:
                progress.update(k, text)
            if k % every == 0 or k == total or caught:
                save(state)
            if caught:
                raise Interrupted(caught[0], k)
    finally:
        if progress:  # a live bar on a terminal: stopped however the loop ends
            progress.close()
    return state, False
