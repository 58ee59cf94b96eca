"""The ``nqs-sweep`` command line: vmc, tvmc, exact, qgt, sampling, threads, validate.

A layer over the Python API (nqs_sweep.api) and the run lifecycle: argument checks, exit
codes and printed lines.

Exit codes: 0 done (including a run that diverged: that is a result), 1 the run
failed (recorded in summary.parquet with status 'failed'; 0 with --record-failures),
2 bad input (nothing is computed and nothing is written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

import pandas as pd

from nqs_sweep import threads
from nqs_sweep.api import AUTO_EXACT_DYNAMICS_MAX_DIM, auto_reference, check_exact_feasible, exact_reference
from nqs_sweep.jobs.rundir import move_aside_if_unwritable, writable
from nqs_sweep.physics import hilbert
from nqs_sweep.spec import PointSpec, SpecError, load_spec

EXACT_TABLE = "exact.parquet"


def _fail(message: str) -> int:
    print(f"nqs-sweep: error: {message}", file=sys.stderr)
    return 2


def _exact_energy_from(arg: str, spec: PointSpec) -> float | None:
    """Resolve --exact PATH before compute: the energy of an exact.parquet of the same model."""
    path = Path(arg)
    if not path.is_file():
        raise SpecError("--exact", f"expected auto, none or an existing exact.parquet; no such file: {path}")
    from nqs_sweep.tables.columns import model_coordinates

    try:
        row = pd.read_parquet(path).iloc[0]
    except Exception as err:
        raise SpecError("--exact", f"{path} is not a readable exact.parquet: {err}") from None
    for key, value in model_coordinates(spec).items():
        if key not in row:
            raise SpecError("--exact", f"{path} is not an exact.parquet (no column {key})")
        stored = row[key]
        same = (pd.isna(stored) and pd.isna(value)) or stored == value
        if not same:
            raise SpecError("--exact", f"{path} is the reference of another point ({key}={stored}, this spec has {value})")
    return float(row["exact_energy"])


def _recorded(run, record, out: Path, what: str, record_failures: bool):
    """Call run(); on an exception record the failure (summary row, error.txt) instead of losing
    it. Returns (summary, exit code): exit 1, or 0 with --record-failures, after a failure; 2,
    with nothing written, when another process runs in out; EXIT_INTERRUPTED (75) after a signal,
    with status 'interrupted' and the checkpoint to resume from."""
    from nqs_sweep.jobs.lifecycle import EXIT_INTERRUPTED, Interrupted, RunConflict

    try:
        return run(), 0
    except RunConflict as err:  # the lock: another process's run, which must not be touched
        return None, _fail(str(err))
    except Interrupted as err:
        record(out, f"{type(err).__name__}: {err}", "interrupted")
        print(f"nqs-sweep: {what} interrupted: {err}", file=sys.stderr)
        return None, EXIT_INTERRUPTED
    except Exception as err:  # a failed point is recorded, not lost
        message = f"{type(err).__name__}: {err}"
        try:
            record(out, message)
            (out / "error.txt").write_text(traceback.format_exc())
        except OSError as write_err:  # the directory became unwritable (or the disk full) during the run
            print(f"nqs-sweep: {what} failed: {message}", file=sys.stderr)
            print(f"nqs-sweep: and its failure could not be recorded in {out}: {write_err}", file=sys.stderr)
            return None, 1
        print(f"nqs-sweep: {what} failed: {message}", file=sys.stderr)
        return None, 0 if record_failures else 1


def _finished(out: Path, replace_stale: bool, clear_stale, status, what: str, spec_path: Path) -> bool:
    """With --replace-stale, clear another spec's files from out first (or, where out cannot be
    written, move it aside); True (and a message) if out already holds this spec's finished run,
    so there is nothing to do: a finished run is never moved, even when it is read-only."""
    if not out.exists():
        return False
    if replace_stale and not writable(out):
        try:
            done = status() == "complete"
        except Exception:  # another spec's files, or damaged ones it cannot set aside here: not ours to finish
            done = False
        if not done:
            # a workflow's spec file lives in the run directory and is the job's input: it comes along
            keep = (spec_path.name,) if spec_path.resolve().parent == out.resolve() else ()
            try:
                move_aside_if_unwritable(out, keep)
            except OSError as err:
                raise SpecError("--out", f"{out} is not writable and cannot be moved aside: {err}") from None
            return False
    elif replace_stale:
        clear_stale()
    if status() != "complete":
        return False
    print(f"nqs-sweep: {out} is complete ({what}); nothing to do", file=sys.stderr)
    return True


def _check_out(out: Path, replace_stale: bool = False) -> None:
    """--out must be a directory this process can create or write in (checked, not tried: nothing
    is written before the input is accepted). With --replace-stale, an existing run directory
    that cannot be written is accepted where its parent can be: it is moved aside (_finished),
    so that a study's point starts afresh instead of failing the same way on every retry."""
    if out.exists() and not out.is_dir():
        raise SpecError("--out", f"must be a directory (created if missing); {out} is a file")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise SpecError("--out", f"{out} cannot be created: {existing} is a file")
    if writable(existing):
        return
    if replace_stale and existing == out and writable(out.parent):
        return
    where = "is" if existing == out else f"cannot be created: {existing} is"
    raise SpecError("--out", f"{out} {where} not writable by this user (or on a read-only file system)")


def cmd_vmc(args: argparse.Namespace) -> int:
    from nqs_sweep.jobs.lifecycle import RunConflict
    from nqs_sweep.jobs.vmc import clear_stale, existing_status, record_failure, run_vmc

    # Everything that can refuse the input is checked before anything is written.
    try:
        spec = load_spec(args.spec)
        _check_out(args.out, args.replace_stale)
        exact_energy = None if args.exact in ("auto", "none") else _exact_energy_from(args.exact, spec)
        clear = lambda: clear_stale(spec, args.out)  # noqa: E731
        status = lambda: existing_status(spec, args.out)  # noqa: E731
        if _finished(args.out, args.replace_stale, clear, status, f"spec {spec.spec_hash}", args.spec):
            return 0
    except (SpecError, RunConflict) as err:
        return _fail(str(err))

    def run():
        energy, state = auto_reference(spec) if args.exact == "auto" else (exact_energy, None)
        if args.exact not in ("auto", "none"):  # the reference's ground state, when it kept one
            from nqs_sweep import measure

            state = measure.load_state(Path(args.exact).parent / measure.STATE_FILE)
        return run_vmc(spec, args.out, energy, args.checkpoint_every, show_progress=not args.quiet, exact_state=state)

    record = lambda out, message, status="failed": record_failure(spec, out, message, status)  # noqa: E731
    summary, code = _recorded(run, record, args.out, "run", args.record_failures)
    if summary is None:
        return code
    row = summary.iloc[0]
    reference = (
        f" (exact {row['exact_energy']:.8f}, rel. error {row['rel_error']:.2e})"
        if pd.notna(row["exact_energy"])
        else " (no exact reference here; a study joins it in its tables)"
    )
    print(f"status {row['status']}: E = {row['energy']:.8f} ± {row['energy_error']:.2e}{reference} in {row['runtime_s']:.1f} s")
    return 0


def _check_initial_run(q, run: Path) -> None:
    """--initial-run must hold a finished ground-state run of this quench's initial point."""
    from nqs_sweep.quench import initial_point_spec, same_state_space
    from nqs_sweep.spec import load_spec

    if q.initial.kind != "ground_state":
        raise SpecError("--initial-run", "the quench starts from a product state (initial.kind: product); drop --initial-run")
    want = initial_point_spec(q)
    needed = ("summary.parquet", "checkpoint.npz", "run_spec.yaml")
    if not all((run / name).is_file() for name in needed):
        raise SpecError("--initial-run", f"{run} holds no finished nqs-sweep vmc run ({', '.join(needed)})")
    status = pd.read_parquet(run / "summary.parquet", columns=["status"]).iloc[0]["status"]
    if status in ("failed", "diverged", "collapsed"):
        raise SpecError("--initial-run", f"the ground-state run in {run} ended with status {status}")
    have = load_spec(run / "run_spec.yaml")
    field = same_state_space(have, want)
    if field is None and have.model != want.model:
        field = "model"
    if field is not None:
        value = {"hilbert.sector": lambda p: p.sector}.get(field, lambda p: getattr(p, field))
        raise SpecError(
            "--initial-run",
            f"{run} is not the initial state of this quench: its {field} differs ({value(have)} vs {value(want)})",
        )


def cmd_tvmc(args: argparse.Namespace) -> int:
    from nqs_sweep.jobs.tvmc import QuenchConflict, clear_stale_tvmc, existing_quench, max_errors, record_tvmc_failure, run_tvmc
    from nqs_sweep.quench import load_quench

    try:
        q = load_quench(args.spec)
        _check_out(args.out, args.replace_stale)
        if args.initial_run is not None:
            _check_initial_run(q, args.initial_run)
        if args.exact not in ("auto", "none"):
            raise SpecError("--exact", f"must be auto or none; got {args.exact!r}")
        clear = lambda: clear_stale_tvmc(q, args.out)  # noqa: E731
        status = lambda: existing_quench(q, args.out)  # noqa: E731
        if _finished(args.out, args.replace_stale, clear, status, f"quench {q.spec_hash}", args.spec):
            return 0
    except (SpecError, QuenchConflict) as err:
        return _fail(str(err))
    exact = args.exact == "auto" and hilbert.hilbert_dim(q.n_sites, q.point.sector) <= args.exact_max_dim
    run = lambda: run_tvmc(q, args.out, args.initial_run, exact, args.checkpoint_every, show_progress=not args.quiet)  # noqa: E731
    record = lambda out, message, status="failed": record_tvmc_failure(q, out, message, status)  # noqa: E731
    summary, code = _recorded(run, record, args.out, "quench", args.record_failures)
    if summary is None:
        return code
    row = summary.iloc[0]
    print(
        f"status {row['status']}: t = {row['t_reached']:.3f} in {row['n_steps']} steps, max |error| {max_errors(summary)},"
        f" energy drift {row['energy_drift_max']:.2e}, in {row['runtime_s']:.1f} s"
    )
    return 0


def cmd_exact(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
        _check_out(args.out)
        check_exact_feasible(spec)
    except SpecError as err:
        return _fail(str(err))
    from nqs_sweep.tables.columns import model_coordinates, write_table

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        df, vector = exact_reference(spec, keep_vector=args.vector)
    except Exception as err:  # e.g. out of memory at the largest sizes
        message = f"{type(err).__name__}: {err}"
        print(f"nqs-sweep: exact diagonalisation failed: {message}", file=sys.stderr)
        if not args.record_failures:
            return 1
        row = {**model_coordinates(spec), "exact_energy": float("nan"), "status": "failed", "error_message": message}
        write_table(pd.DataFrame([row]), args.out / EXACT_TABLE)
        return 0
    if vector is not None:  # before the table: the table's presence means the reference is whole
        from nqs_sweep import measure

        measure.save_state(args.out / measure.STATE_FILE, vector, spec.marshall_sign)
    write_table(df, args.out / EXACT_TABLE)
    row = df.iloc[0]
    print(f"exact E = {row['exact_energy']:.12f} ({row['exact_energy_per_site']:.12f} per site), dim {row['hilbert_dim']}")
    return 0


def _check_n_samples(run: Path, n_samples: int | None) -> None:
    """--n-samples of qgt and sampling: at least one sample per chain of the run."""
    if n_samples is None:
        return
    from nqs_sweep.jobs.lifecycle import RUN_SPEC

    n_chains = load_spec(run / RUN_SPEC).sampler.n_chains if (run / RUN_SPEC).exists() else 1
    if n_samples < n_chains:
        raise SpecError("--n-samples", f"must be >= the run's sampler.n_chains ({n_chains}); got {n_samples}")


def cmd_qgt(args: argparse.Namespace) -> int:
    from nqs_sweep.analysis.spectrum import final_spectrum, load_run, spectrum_history_table
    from nqs_sweep.tables.columns import write_table

    try:
        if not (args.run / "summary.parquet").exists():
            load_run(args.run)  # names what is missing
        _check_n_samples(args.run, args.n_samples)
    except SpecError as err:
        return _fail(str(err))
    # The last iteration's spectrum is spectrum.parquet: one computation for both tables.
    history = spectrum_history_table(args.run, args.n_samples)
    df = final_spectrum(history)
    write_table(df, args.run / "spectrum.parquet")
    write_table(history, args.run / "spectrum_history.parquet")
    row = df.iloc[0]
    if row["source"] == "none":
        print(f"run status {row['status']}: no spectrum (recorded as a NaN row)")
        return 0
    rank_cols = [c for c in df.columns if c.startswith("rank_")]
    ranks = ", ".join(f"{c} {row[c]}" for c in rank_cols)
    print(f"QGT ({row['source']}): {row['n_real_params']} real parameters, {ranks}; infidelity {row['infidelity']:.3e}")
    if history["iteration"].nunique() > 1:
        by_iteration = history.groupby("iteration")["rank_rel_1e-6"].first()
        print("rank_rel_1e-6 along the optimisation: " + ", ".join(f"{i}: {r}" for i, r in by_iteration.items()))
    return 0


def cmd_sampling(args: argparse.Namespace) -> int:
    from nqs_sweep.analysis.sampling import SAMPLING_TABLE, sampling_table
    from nqs_sweep.analysis.spectrum import load_run
    from nqs_sweep.tables.columns import write_table

    try:
        if not (args.run / "summary.parquet").exists():
            load_run(args.run)  # names what is missing
            raise SpecError("--run", f"{args.run} is not finished (no summary.parquet): measure a finished run")
        if args.repeats < 1:
            raise SpecError("--repeats", f"must be >= 1; got {args.repeats}")
        _check_n_samples(args.run, args.n_samples)
    except SpecError as err:
        return _fail(str(err))
    df = sampling_table(args.run, args.n_samples, args.repeats)
    write_table(df, args.run / SAMPLING_TABLE)
    if df["draw_sampler"].iloc[0] == "none":
        print(f"run status {df['status'].iloc[0]}: nothing to sample (recorded as a NaN row)")
        return 0
    for _, row in df.iterrows():
        print(
            f"{row['draw_sampler']:>10}: {row['draw_size']} samples in {row['seconds_per_draw'] * 1e3:.1f} ms, "
            f"tau_corr {row['tau_corr']:.2f}, R-hat {row['r_hat']:.3f}: {row['effective_samples_per_s']:.3g} effective samples/s"
        )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
    except SpecError as err:
        return _fail(str(err))
    print(json.dumps({"spec_hash": spec.spec_hash, **spec.to_dict()}, indent=2))
    return 0


def cmd_threads(args: argparse.Namespace) -> int:
    print(json.dumps(threads.report(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nqs-sweep", description="Neural-quantum-state VMC for parameter sweeps.")
    sub = p.add_subparsers(dest="command", required=True)
    # Every command that computes sizes its thread pools (nqs_sweep.threads) before it starts.
    pools = argparse.ArgumentParser(add_help=False)
    pools.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"threads of every pool (BLAS/LAPACK, XLA, OpenMP); default ${threads.ENV_VAR}, else the available cores",
    )

    v = sub.add_parser("vmc", parents=[pools], help="ground-state optimisation of one point (resumes from its checkpoint)")
    v.add_argument("--spec", type=Path, required=True, help="point spec (YAML)")
    v.add_argument("--out", type=Path, required=True, help="run directory")
    v.add_argument("--exact", default="auto", help="auto (compute when cheap), none, or an exact.parquet to join")
    v.add_argument("--checkpoint-every", type=int, default=25, metavar="N", help="iterations between checkpoints")
    v.add_argument("--quiet", action="store_true", help="no progress output")
    v.add_argument(
        "--record-failures",
        action="store_true",
        help="exit 0 after recording a failed run (status 'failed' in summary.parquet), so a sweep goes on",
    )
    v.add_argument(
        "--replace-stale",
        action="store_true",
        help="if --out holds a run of another spec, delete its files and start afresh (the workflow's rerun on change)",
    )
    v.set_defaults(func=cmd_vmc)

    t = sub.add_parser(
        "tvmc", parents=[pools], help="real- or imaginary-time evolution of one quench (resumes from its checkpoint)"
    )
    t.add_argument("--spec", type=Path, required=True, help="quench spec (YAML): a point spec plus initial and dynamics")
    t.add_argument("--out", type=Path, required=True, help="run directory")
    t.add_argument(
        "--initial-run",
        type=Path,
        default=None,
        help="finished nqs-sweep vmc run of the initial couplings (default: computed in OUT/initial)",
    )
    t.add_argument("--exact", default="auto", help="auto (exact dynamics when the dimension allows) or none")
    t.add_argument("--exact-max-dim", type=int, default=AUTO_EXACT_DYNAMICS_MAX_DIM, help="largest dimension for --exact auto")
    t.add_argument("--checkpoint-every", type=int, default=1, metavar="N", help="measurements between checkpoints")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.add_argument("--record-failures", action="store_true", help="exit 0 after recording a failed quench")
    t.add_argument("--replace-stale", action="store_true", help="if --out holds another quench's run, delete it first")
    t.set_defaults(func=cmd_tvmc)

    e = sub.add_parser("exact", parents=[pools], help="exact ground-state energy by Lanczos")
    e.add_argument("--spec", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--record-failures", action="store_true", help="exit 0 after recording a failure as a NaN row")
    e.add_argument(
        "--vector",
        action="store_true",
        help="also keep the ground state (DIR/ground_state.npz, up to 20 sites) for the measurements' exact values",
    )
    e.set_defaults(func=cmd_exact)

    q = sub.add_parser(
        "qgt",
        parents=[pools],
        help="QGT spectrum and ranks of a finished vmc run -> DIR/spectrum.parquet, DIR/spectrum_history.parquet",
    )
    q.add_argument("--run", type=Path, required=True, help="run directory of nqs-sweep vmc")
    q.add_argument("--n-samples", type=int, default=None, help="Monte Carlo samples (default: exact enumeration when small)")
    q.set_defaults(func=cmd_qgt)

    s = sub.add_parser(
        "sampling",
        parents=[pools],
        help="effective samples per second of each sampler that applies to a finished vmc run -> DIR/sampling.parquet",
    )
    s.add_argument("--run", type=Path, required=True, help="run directory of nqs-sweep vmc")
    s.add_argument("--n-samples", type=int, default=None, help="samples per draw (default: the run's n_samples_eval)")
    s.add_argument("--repeats", type=int, default=3, help="timed draws per sampler, after one untimed (compiling) draw")
    s.set_defaults(func=cmd_sampling)

    r = sub.add_parser(
        "threads", parents=[pools], help="print the thread pools a solver process gets (JSON): BLAS libraries, XLA"
    )
    r.set_defaults(func=cmd_threads)

    c = sub.add_parser("validate", help="check a spec and print it resolved, with its hash")
    c.add_argument("--spec", type=Path, required=True)
    c.set_defaults(func=cmd_validate)
    return p


def use_compilation_cache() -> None:
    """Keep compiled XLA programs on disk between processes: a sweep runs every point in a
    fresh process with the same step functions, and compiling them costs seconds each time.
    JAX_COMPILATION_CACHE_DIR overrides the place; NQS_SWEEP_JAX_CACHE=off turns it off.

    Every program is kept, not only those that took JAX's default second to compile: a point
    runs some forty small programs besides its step, and with all of them cached the next point
    of the same structure started 0.7 s into its first step instead of 1.05 s, and its job took
    8-9 s instead of 11.3 s (L = 12 chain, 300 steps, measured; docs/performance.md).
    Couplings, learning rates and shifts are traced values, so a point that differs only in
    them finds every program in the cache (tests/test_compilation_cache.py)."""
    import os

    if os.environ.get("NQS_SWEEP_JAX_CACHE", "").lower() in ("off", "0", "false"):
        return
    import jax

    if jax.config.jax_compilation_cache_dir is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        jax.config.update("jax_compilation_cache_dir", os.path.join(base, "nqs-sweep", "jax"))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


# JAX's own settings for how a process takes GPU memory; a user who set one keeps it.
_GPU_MEMORY_VARIABLES = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR")


def share_gpu_memory() -> None:
    """A solver process takes GPU memory as it needs it, not 75 % of the GPU when it starts (JAX's
    default), so that points packed onto one GPU (a Snakemake job group; docs/cluster.md) fit
    beside each other. Read when JAX starts its GPU backend, at the first computation."""
    if not any(name in os.environ for name in _GPU_MEMORY_VARIABLES):
        os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    share_gpu_memory()
    if hasattr(args, "threads"):
        try:
            threads.configure(args.threads)
        except ValueError as err:
            return _fail(str(err))
    use_compilation_cache()
    if getattr(args, "checkpoint_every", 1) < 1:
        return _fail("--checkpoint-every: must be >= 1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
