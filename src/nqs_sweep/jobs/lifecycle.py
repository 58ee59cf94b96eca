"""The run lifecycle every job kind shares: its directory, its files, and its loop.

A run directory holds, for every kind of job (a ground state, a quench, the kinds to come):

  run_spec.yaml      the resolved spec (what the run is; written at every start)
  run.log            what the run printed
  checkpoint.npz     the state after the last checkpoint (atomic; with the spec hash and run time)
  <result>.partial.parquet   rows so far of each result table (resume state)
  <result>.parquet   the result tables, written at the end
  summary.parquet    one row, written last: its presence means the run is over
  error.txt          the traceback of a failed attempt

A kind adds its result tables and extra files (:class:`RunFiles`) and a loop body; this module
owns the names, the spec check (a directory holding another spec's run is never overwritten
unless asked), stale clearing, failure records, resume and the loop skeleton with its
progress, checkpoint and divergence hooks. Signals, locks and retries belong here too.

A workflow engine that deletes the declared outputs of an interrupted job (Snakemake's
--rerun-incomplete) leaves the checkpoint and the partial tables in place, so the job
continues from its checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nqs_sweep.jobs import checkpoint
from nqs_sweep.jobs.progress import Progress
from nqs_sweep.tables.columns import provenance, write_table

CHECKPOINT = "checkpoint.npz"
SUMMARY = "summary.parquet"
RUN_SPEC = "run_spec.yaml"
LOG = "run.log"
ERROR = "error.txt"


class RunConflict(RuntimeError):
    """The output directory holds a run of a different spec."""


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


def _stored_hashes(out: Path, files: RunFiles) -> list[str]:
    hashes = []
    if (out / SUMMARY).exists():
        hashes.append(str(pd.read_parquet(out / SUMMARY, columns=["spec_hash"]).iloc[0]["spec_hash"]))
    if (out / CHECKPOINT).exists():
        with np.load(out / CHECKPOINT, allow_pickle=False) as data:
            hashes.append(json.loads(str(data[checkpoint.META]))["spec_hash"])
    for name in files.hashed:
        if (out / name).exists():
            hashes.append(str(pd.read_parquet(out / name, columns=["spec_hash"]).iloc[0]["spec_hash"]))
    return hashes


def status(out: Path, spec_hash: str, files: RunFiles) -> str | None:
    """'complete' if out holds this spec's finished run, 'partial' if it holds a checkpoint or a
    failed attempt (retried, from its checkpoint if there is one), else None.

    Raises RunConflict when out holds files of another spec (checked before compute, so a
    mistaken --out never overwrites another run's results)."""
    out = Path(out)
    other = [h for h in _stored_hashes(out, files) if h != spec_hash]
    if other:
        raise RunConflict(
            f"{out} holds a run of another {files.what} (hash {other[0]}, this {files.what} {spec_hash}); use another --out"
        )
    if (out / SUMMARY).exists():
        failed = pd.read_parquet(out / SUMMARY, columns=["status"]).iloc[0]["status"] == "failed"
        return "partial" if failed else "complete"
    return "partial" if (out / CHECKPOINT).exists() else None


def clear_stale(out: Path, spec_hash: str, files: RunFiles) -> bool:
    """Remove the files of another spec's run from out (its point's spec changed); True if any."""
    out = Path(out)
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
) -> tuple[Any, bool]:
    """The loop every run kind shares: ``unit(state) -> (state, progress text, stop)`` until
    ``done(state)`` reaches ``total``, a checkpoint (``save``) every ``every`` units and at the
    end, progress on the terminal or in the log. A unit that reports stop (divergence) ends the
    loop before its checkpoint; returns (state, stopped)."""
    progress = Progress(total, done(state), label=label) if show_progress else None
    while done(state) < total:
        state, text, stop = unit(state)
        if stop:
            return state, True
        k = done(state)
        if progress:
            progress.update(k, text)
        if k % every == 0 or k == total:
            save(state)
    return state, False
