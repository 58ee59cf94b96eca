"""The t-VMC run: TDVP time evolution, one measurement interval per unit of the shared run
lifecycle (nqs_sweep.jobs.lifecycle: files, spec check, resume, checkpoints, failure records).

Files of this kind, besides the common ones:
  trajectory.parquet           long form: one row per (time, observable) (.partial while running);
                               the spec's measurements (nqs_sweep.measure) too, one row per
                               (time, measurement row), observable 'renyi2: sites 0-5'
  steps.parquet                one row per integrator step: dt, TDVP residual, kept directions,
                               energy (.partial while running)
  exact_trajectory.parquet     exact observables at the measurement times (cached)
  initial/                     the ground-state VMC run of the initial couplings, when no
                               --initial-run was given

The key of step i (attempt a, for adaptive steps) is fold_in(fold_in(run_key, i), a),
and of measurement k fold_in(measure_key, k), so a resumed run reproduces the
uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import pandas as pd

from nqs_sweep import measure as measurements
from nqs_sweep.dynamics.integrators import TABLEAUX, error_ratio, next_dt, rk_step
from nqs_sweep.dynamics.tdvp import make_rhs
from nqs_sweep.jobs import checkpoint, lifecycle
from nqs_sweep.jobs.lifecycle import CHECKPOINT, RUN_SPEC, SUMMARY, RunConflict, RunFiles, start_run
from nqs_sweep.mc.devices import describe, place_chains
from nqs_sweep.mc.estimate import Hyper, estimate, sample_stats
from nqs_sweep.mc.observables import local_observables
from nqs_sweep.mc.sampler import ChainState, init_chains
from nqs_sweep.problem import Problem, build_problem
from nqs_sweep.quench import DynamicsSpec, QuenchSpec, initial_point_spec
from nqs_sweep.tables.columns import COUPLING_COLUMNS, coordinates, provenance, write_table

TRAJECTORY = "trajectory.parquet"
PARTIAL_TRAJECTORY = "trajectory.partial.parquet"
STEPS = "steps.parquet"
PARTIAL_STEPS = "steps.partial.parquet"
EXACT = "exact_trajectory.parquet"
INITIAL_DIR = "initial"
# The measurements' draws: a stream of the measurement key that no measurement index k reaches.
MORE_STREAM = 2**32 - 1
TVMC_SEED_OFFSET = 7919
FILES = RunFiles("quench", {TRAJECTORY: PARTIAL_TRAJECTORY, STEPS: PARTIAL_STEPS}, hashed=(EXACT,))
QuenchConflict = RunConflict  # the name the CLI and tests know


class TVMCState(NamedTuple):
    theta: jax.Array
    chains: ChainState
    t: jax.Array  # float64
    dt: jax.Array  # the next step to try (adaptive); the fixed step otherwise
    step: jax.Array  # int64: accepted steps so far
    n_saved: jax.Array  # int64: measurement times done


def quench_coordinates(q: QuenchSpec) -> dict:
    """The point's coordinates plus what identifies the quench."""
    ini = q.initial.model_dict()
    dyn = q.dynamics
    return {
        **coordinates(q.point),
        "spec_hash": q.spec_hash,
        "initial": q.initial.kind if q.initial.kind == "ground_state" else f"product_{q.initial.direction}",
        **{f"initial_{k}": float(ini[k]) if k in ini else float("nan") for k in COUPLING_COLUMNS},
        "dynamics": dyn.kind,
        "integrator": dyn.integrator,
        "regularization": dyn.regularization.kind,
        "dynamics_dt": dyn.dt,  # the spec's step; the per-step dt is a column of the tables
        "t_final": dyn.t_final,
    }


def make_advance(problem: Problem, dyn: DynamicsSpec):
    """Jitted integrator step: (theta, chains, dt, key, hyper) -> (theta, chains, info, error ratio)."""
    rhs = make_rhs(problem, dyn)
    tableau = TABLEAUX[dyn.integrator]

    def advance(theta, chains, dt, key, hyper: Hyper):
        f = lambda y, carry, k: rhs(y, carry, k, hyper)  # noqa: E731
        new, chains, info, metric, err = rk_step(tableau, f, theta, chains, dt, key)
        ratio = error_ratio(err, theta, new, dyn.atol, dyn.rtol, dyn.error_norm, metric) if dyn.adaptive else jnp.zeros(())
        return new, chains, info, ratio

    return jax.jit(advance)


def make_measure(problem: Problem, observables: tuple[str, ...]):
    """Jitted measurement of the observables on a fresh sample of sampler.n_samples_eval
    configurations (default 4 n_samples): name -> (mean, error)."""
    p = problem

    def measure(theta, chains, key, hyper: Hyper):
        est = estimate(p, theta, chains, key, hyper, p.sampler.n_samples_eval)
        values = local_observables(observables, p.lattice, p.marshall_sign, p.ansatz, theta, est.configs, est.e_loc)
        out = {}
        for name, v in values.items():
            st = sample_stats(est.sample, v)
            out[name] = (jnp.real(st.mean), st.error)
        return out, est.chains

    return jax.jit(measure)


def load_initial_theta(run_dir: Path) -> jax.Array:
    """θ of the finished ground-state run in run_dir (checked by the CLI before compute).
    The checkpoint's layout is that of the run's own spec (its sampler and optimizer)."""
    from nqs_sweep.optim.step import init_state
    from nqs_sweep.spec import load_spec

    spec = load_spec(Path(run_dir) / RUN_SPEC)
    template = init_state(build_problem(spec), jax.random.key(0))
    state, _ = checkpoint.load(Path(run_dir) / CHECKPOINT, template)
    return state.theta


def existing_quench(q: QuenchSpec, out: Path) -> str | None:
    """'complete', 'partial' or None for this quench's run in out (RunConflict for another's)."""
    return lifecycle.status(Path(out), q.spec_hash, FILES)


def _exact_references(q: QuenchSpec, out: Path, times: list[float], exact: bool, log) -> tuple[list[dict] | None, float]:
    """(exact observables per measurement time, exact energy of the initial ground state), or
    (None, NaN) without exact references. Cached in the run directory, so a resumed run does not
    recompute them; the initial energy grades the initial VMC state."""
    if not exact:
        return None, float("nan")
    if not (out / EXACT).exists():
        from nqs_sweep.physics.exact import ground_state
        from nqs_sweep.physics.exact_dynamics import exact_trajectory

        v0, initial_exact_energy = None, float("nan")
        if q.initial.kind == "ground_state":
            res = ground_state(initial_point_spec(q), keep_vector=True)
            v0, initial_exact_energy = res.ground_state, res.energy
        exact_rows, secs = exact_trajectory(q, times, v0)
        table = pd.DataFrame(exact_rows).assign(time=times, initial_exact_energy=initial_exact_energy, spec_hash=q.spec_hash)
        write_table(table, out / EXACT)
        log.info("exact dynamics at %d times in %.1f s", len(times), secs)
    exact_df = pd.read_parquet(out / EXACT)
    initial_exact_energy = float(exact_df["initial_exact_energy"].iloc[0])
    return exact_df.drop(columns=["time", "initial_exact_energy", "spec_hash"]).to_dict("records"), initial_exact_energy


def _initial_theta(q: QuenchSpec, out: Path, initial_run, initial_exact_energy: float, ansatz, key, log, show_progress):
    """(θ at t = 0, relative error of its energy): the VMC ground state of the initial couplings
    (from initial_run, or computed in out/initial), or a product state."""
    from nqs_sweep.jobs.vmc import run_vmc

    spec = q.point
    if q.initial.kind != "ground_state":
        from nqs_sweep.dynamics.initial_states import product_state_theta

        return product_state_theta(ansatz, q.initial.direction, spec.n_sites, q.initial.infidelity, key), float("nan")
    known = initial_exact_energy if math.isfinite(initial_exact_energy) else None
    if initial_run is None:
        initial_run = out / INITIAL_DIR
        log.info("initial state: ground-state VMC in %s", initial_run)
        init = run_vmc(initial_point_spec(q), initial_run, exact_energy=known, show_progress=show_progress).iloc[0]
        if init["status"] in ("diverged", "failed", "collapsed"):
            raise RuntimeError(f"the initial ground-state run in {initial_run} ended with status {init['status']}")
    theta0 = load_initial_theta(initial_run)
    e_vmc = float(pd.read_parquet(Path(initial_run) / SUMMARY).iloc[0]["energy"])
    # A ground-state run stuck in a local minimum bounds the whole trajectory (docs/quenches.md).
    if known is None:
        log.info("initial state: E = %.8f (no exact reference)", e_vmc)
        return theta0, float("nan")
    error = abs(e_vmc - known) / abs(known)
    log.info("initial state: E = %.8f, exact %.8f, rel. error %.2e", e_vmc, known, error)
    return theta0, error


def _integrator_step(state: TVMCState, target: float, dyn, advance, key, hyper) -> tuple[TVMCState, dict, dict]:
    """One accepted step towards target (adaptive: retried with smaller steps until its error
    ratio is at most 1); returns (state, TDVP info, the step's row)."""
    t = float(state.t)
    i = int(state.step)
    if dyn.adaptive:
        order = TABLEAUX[dyn.integrator].order
        h = min(float(state.dt), target - t)
        attempt = 0
        while True:
            theta, chains, info, ratio = advance(state.theta, state.chains, h, jax.random.fold_in(key, attempt), hyper)
            ratio = float(ratio)
            if ratio <= 1.0 or h <= dyn.dt_min * (1 + 1e-12):
                break
            attempt += 1
            h = next_dt(h, ratio, order, dyn.dt_min, dyn.dt_max)
        proposal = next_dt(h, ratio, order, dyn.dt_min, dyn.dt_max)
        if attempt == 0 and h < float(state.dt):  # cut short by a save time: keep the step it had
            proposal = max(proposal, float(state.dt))
        t_new = target if abs(t + h - target) <= 1e-12 * max(1.0, target) else t + h
        rejected = attempt
    else:
        h = dyn.dt
        theta, chains, info, ratio = advance(state.theta, state.chains, h, jax.random.fold_in(key, 0), hyper)
        proposal, rejected, ratio = h, 0, float("nan")
        t_new = (i + 1) * dyn.dt  # no accumulation of rounding over many steps
    info = {k: float(v) for k, v in jax.device_get(info._asdict()).items()}
    state = TVMCState(theta, chains, jnp.asarray(t_new), jnp.asarray(proposal), state.step + 1, state.n_saved)
    return state, info, {"dt": h, **info, "error_ratio": ratio, "rejected": rejected}


def run_tvmc(
    q: QuenchSpec,
    out: Path,
    initial_run: Path | None = None,
    exact: bool = True,
    checkpoint_every: int = 1,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume, or skip if complete) one quench; returns the summary. Holds the directory's
    lock for the run; lifecycle.Interrupted after a checkpoint on SIGTERM or SIGINT."""
    out = Path(out)
    with lifecycle.session(out, FILES.what) as caught:
        return _run_tvmc(q, out, initial_run, exact, checkpoint_every, show_progress, caught)


def _row_writer(rows: list[dict], k: int, time: float, exact: dict, last: dict, clock):
    """row(label, mean, err, **extra) appends measurement k's row of that label to rows, with its
    exact value (NaN without one) and what the last integrator step reported."""

    def row(label: str, mean: float, err: float, **extra) -> None:
        ex = exact.get(label, float("nan"))
        rows.append(
            {
                "save_index": k,
                "time": time,
                "observable": label,
                **extra,
                "value": mean,
                "error": err,
                "exact_value": ex,
                "abs_error": abs(mean - ex),
                "dt": last["dt"],
                "tdvp_residual": last["residual"],
                "n_kept": last["n_kept"],
                "wall_time_s": clock(),
            }
        )

    return row


def _run_tvmc(
    q: QuenchSpec, out: Path, initial_run, exact: bool, checkpoint_every: int, show_progress: bool, caught: list[str]
) -> pd.DataFrame:
    if existing_quench(q, out) == "complete":
        return pd.read_parquet(out / SUMMARY)
    log = start_run(out, q.to_raw())
    spec = q.point
    dyn = q.dynamics
    coords = quench_coordinates(q)
    problem = build_problem(spec)
    ansatz, hyper = problem.ansatz, problem.hyper
    # Its own stream, apart from the ground-state run's of the same seed; modulo 2^63, since
    # spec seeds go up to 2^63 - 1 and the key is built from a signed 64-bit integer.
    k_init, k_run, k_measure = jax.random.split(jax.random.key((spec.seed + TVMC_SEED_OFFSET) % 2**63), 3)
    k_more = jax.random.fold_in(k_measure, MORE_STREAM)
    times = dyn.save_times()

    exact_rows, initial_exact_energy = _exact_references(q, out, times, exact, log)
    theta0, initial_energy_error = _initial_theta(q, out, initial_run, initial_exact_energy, ansatz, k_init, log, show_progress)

    chains = init_chains(k_init, ansatz, theta0, spec.sampler.n_chains, spec.n_sites, spec.sector, ansatz.real_dtype)
    state = TVMCState(theta0, chains, jnp.zeros(()), jnp.asarray(dyn.dt), jnp.zeros((), jnp.int64), jnp.zeros((), jnp.int64))
    state, previous_runtime = lifecycle.resume(out, state)
    traj_rows = lifecycle.partial_rows(out / PARTIAL_TRAJECTORY, coords, "save_index", int(state.n_saved))
    step_rows = lifecycle.partial_rows(out / PARTIAL_STEPS, coords, "step", int(state.step))
    if previous_runtime:
        log.info("resuming %s at t=%.4f (step %d)", q.spec_hash, float(state.t), int(state.step))
    state = state._replace(chains=place_chains(state.chains))
    log.info(
        "quench %s: %s; %d parameters (%d real); devices: %s",
        q.spec_hash,
        q.to_raw(),
        ansatz.n_params,
        ansatz.n_real_params,
        describe(),
    )

    advance = make_advance(problem, dyn)
    measure = make_measure(problem, dyn.observables)
    measure_more = measurements.make_measure(problem) if spec.measurements else None
    more_labels = measurements.labels(spec)
    clock = lifecycle.Clock(previous_runtime)
    frame = lambda rows: pd.DataFrame(rows).assign(**coords)  # noqa: E731
    # what the last integrator step reported, carried into the next measurement's rows
    last = {"dt": float("nan"), "residual": float("nan"), "n_kept": float("nan"), "energy": float("nan")}
    if step_rows:
        last.update({k: step_rows[-1][k] for k in ("dt", "residual", "n_kept", "energy")})

    def record_measurement(st: TVMCState) -> TVMCState:
        k = int(st.n_saved)
        row = _row_writer(traj_rows, k, times[k], exact_rows[k] if exact_rows is not None else {}, last, clock)
        values, chains = measure(st.theta, st.chains, jax.random.fold_in(k_measure, k), hyper)
        values = jax.device_get(values)
        for name in dyn.observables:
            row(name, *(float(x) for x in values[name]))
        if measure_more is not None:
            more = jax.device_get(measure_more(st.theta, chains, jax.random.fold_in(k_more, k), hyper))
            for name, r, argument, x in more_labels:
                est = more[name]
                flag = measurements.FLAGS[int(est.flag[r])]
                row(f"{name}: {argument}", float(est.mean[r]), float(est.error[r]), measurement=name, x=x, flag=flag)
        return st._replace(chains=chains, n_saved=st.n_saved + 1)

    def save(st: TVMCState) -> None:
        write_table(frame(traj_rows), out / PARTIAL_TRAJECTORY)
        write_table(frame(step_rows) if step_rows else pd.DataFrame([coords]).iloc[:0], out / PARTIAL_STEPS)
        lifecycle.save_checkpoint(out, st, q.spec_hash, clock)

    def unit(state: TVMCState) -> tuple[TVMCState, str, bool]:
        """Integrator steps up to the next measurement time, then the measurement."""
        target = times[int(state.n_saved)]
        while True:
            i, t = int(state.step), float(state.t)
            state, info, row = _integrator_step(state, target, dyn, advance, jax.random.fold_in(k_run, i), hyper)
            last.update(dt=row["dt"], residual=info["residual"], n_kept=info["n_kept"], energy=info["energy"])
            step_rows.append({"step": i, "time": t, **row, "wall_time_s": clock()})
            if not bool(jnp.all(jnp.isfinite(state.theta))):
                log.info("step %d (t=%.4f): parameters are not finite; stopping", i, t)
                return state, "", True
            if float(state.t) >= target - 1e-9 * max(1.0, target):
                break
        state = record_measurement(state._replace(t=jnp.asarray(target)))
        sx = [r for r in traj_rows if r["save_index"] == int(state.n_saved) - 1][0]
        return state, f"t={target:.3f} {sx['observable']}={sx['value']:.5f} r2={last['residual']:.1e}", False

    def save_and_log(st: TVMCState) -> None:
        save(st)
        target = times[int(st.n_saved) - 1]
        step = int(st.step) - 1
        log.info("t=%.4f step %d: E=%.6f r2=%.2e kept %d", target, step, last["energy"], last["residual"], last["n_kept"])

    if int(state.n_saved) == 0:
        state = record_measurement(state)
        save(state)
    state, diverged = lifecycle.drive(
        state,
        done=lambda st: int(st.n_saved),
        total=len(times),
        unit=unit,
        save=save_and_log,
        every=checkpoint_every,
        label=f"tvmc {q.spec_hash[:8]}",
        show_progress=show_progress,
        caught=caught,
    )
    status = "diverged" if diverged else None

    traj = frame(traj_rows)
    steps = frame(step_rows) if step_rows else pd.DataFrame([coords]).iloc[:0]
    write_table(traj, out / TRAJECTORY)
    write_table(steps, out / STEPS)
    summary = _summary(q, coords, traj, steps, status or "completed", clock(), initial_energy_error, ansatz)
    write_table(summary, out / SUMMARY)
    row = summary.iloc[0]
    log.info("done: status %s, max |error| %s, energy drift %.3e", row["status"], max_errors(summary), row["energy_drift_max"])
    return summary


def max_errors(summary: pd.DataFrame) -> str:
    """'sx 5.66e-03, energy 2.22e-02': the largest |error| of each observable of a summary row.
    Per observable: one maximum over σˣ and the total energy would mix quantities of different scales."""
    row = summary.iloc[0]
    columns = [c for c in summary.columns if c.startswith("max_abs_error_")]
    return ", ".join(f"{c.removeprefix('max_abs_error_')} {row[c]:.2e}" for c in columns) or "unknown"


def _summary(q, coords, traj, steps, status, runtime, initial_energy_error, ansatz) -> pd.DataFrame:
    nan = float("nan")
    observed = traj[traj["observable"].isin(q.dynamics.observables)] if len(traj) else traj
    energy = traj[traj["observable"] == "energy"].sort_values("time") if len(traj) else traj
    e0 = energy["value"].iloc[0] if len(energy) else nan
    drift = (energy["value"] - e0).abs() / abs(e0) if len(energy) and e0 else pd.Series([nan])
    if not len(energy) and len(steps):  # energy not among the observables: the steps carry it
        e = steps["energy"]
        drift = (e - e.iloc[0]).abs() / abs(e.iloc[0])
    row = {
        **coords,
        "status": status,
        "error_message": "",
        "t_reached": float(traj["time"].max()) if len(traj) else 0.0,
        "n_steps": len(steps),
        "n_rejected": int(steps["rejected"].sum()) if len(steps) else 0,
        # over the dynamics' observables: the measurements' rows (other scales) have their own
        "max_abs_error": float(observed["abs_error"].max()) if len(observed) else nan,
        "energy_drift_max": float(drift.max()),
        "energy_drift_final": float(drift.iloc[-1]),
        "residual_mean": float(steps["residual"].mean()) if len(steps) else nan,
        "residual_max": float(steps["residual"].max()) if len(steps) else nan,
        "initial_rel_error": initial_energy_error,
        "n_params": ansatz.n_params,
        "n_real_params": ansatz.n_real_params,
        "runtime_s": runtime,
        **provenance(),
    }
    for name in q.dynamics.observables:
        sel = traj[traj["observable"] == name]
        row[f"max_abs_error_{name}"] = float(sel["abs_error"].max()) if len(sel) else nan
        row[f"final_abs_error_{name}"] = float(sel.sort_values("time")["abs_error"].iloc[-1]) if len(sel) else nan
    return pd.DataFrame([row])


def record_tvmc_failure(q: QuenchSpec, out: Path, message: str, status: str = "failed") -> None:
    row = {"status": status, "error_message": message, "max_abs_error": math.nan}
    lifecycle.record_failure(out, FILES, quench_coordinates(q), row)


def clear_stale_tvmc(q: QuenchSpec, out: Path) -> None:
    """Remove the files of another quench's run from out (its spec changed), and the
    inline initial ground-state run if it belongs to other initial couplings."""
    from nqs_sweep.jobs.vmc import clear_stale

    out = Path(out)
    lifecycle.clear_stale(out, q.spec_hash, FILES)
    if q.initial.kind == "ground_state" and (out / INITIAL_DIR).is_dir():
        clear_stale(initial_point_spec(q), out / INITIAL_DIR)
