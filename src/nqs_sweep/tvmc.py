"""The t-VMC run: TDVP time evolution with progress, checkpoints, resume and tables.

Files in the run directory:
  checkpoint.npz               state after the last measurement that was checkpointed (atomic)
  trajectory.partial.parquet   measured rows so far (resume state)
  steps.partial.parquet        integrator steps so far (resume state)
  exact_trajectory.parquet     exact observables at the measurement times (cached)
  trajectory.parquet           long form: one row per (time, observable), written at the end
  steps.parquet                one row per integrator step: dt, TDVP residual, kept directions, energy
  summary.parquet              one row, written last: its presence means the run is complete
  run.log, run_spec.yaml       what the run printed; the resolved quench spec
  initial/                     the ground-state VMC run of the initial couplings, when no
                               --initial-run was given

The key of step i (attempt a, for adaptive steps) is fold_in(fold_in(run_key, i), a),
and of measurement k fold_in(measure_key, k), so a resumed run reproduces the
uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from nqs_sweep import checkpoint
from nqs_sweep.devices import describe, place_chains
from nqs_sweep.driver import start_run
from nqs_sweep.estimators import local_energies
from nqs_sweep.integrators import TABLEAUX, error_ratio, next_dt, rk_step
from nqs_sweep.models import Ansatz, make_ansatz
from nqs_sweep.observables import local_observables
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.progress import Progress
from nqs_sweep.quench import QuenchSpec, initial_point_spec
from nqs_sweep.sampler import ChainState, init_chains
from nqs_sweep.stats import chain_stats, weighted_stats
from nqs_sweep.tables import COUPLING_COLUMNS, coordinates, provenance, write_table
from nqs_sweep.tdvp import make_rhs
from nqs_sweep.vmc import Hyper, draw_sample, make_hyper

CHECKPOINT = "checkpoint.npz"
TRAJECTORY = "trajectory.parquet"
PARTIAL_TRAJECTORY = "trajectory.partial.parquet"
STEPS = "steps.parquet"
PARTIAL_STEPS = "steps.partial.parquet"
EXACT = "exact_trajectory.parquet"
SUMMARY = "summary.parquet"
RUN_SPEC = "run_spec.yaml"
INITIAL_DIR = "initial"


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


def make_advance(q: QuenchSpec, ansatz: Ansatz):
    """Jitted integrator step: (theta, chains, dt, key, hyper) -> (theta, chains, info, error ratio)."""
    rhs = make_rhs(q, ansatz)
    dyn = q.dynamics
    tableau = TABLEAUX[dyn.integrator]

    def advance(theta, chains, dt, key, hyper: Hyper):
        f = lambda y, carry, k: rhs(y, carry, k, hyper)  # noqa: E731
        new, chains, info, metric, err = rk_step(tableau, f, theta, chains, dt, key)
        ratio = error_ratio(err, theta, new, dyn.atol, dyn.rtol, dyn.error_norm, metric) if dyn.adaptive else jnp.zeros(())
        return new, chains, info, ratio

    return jax.jit(advance)


def make_measure(q: QuenchSpec, ansatz: Ansatz):
    """Jitted measurement of the observables on a fresh sample of sampler.n_samples_eval
    configurations (default 4 n_samples): name -> (mean, error)."""
    spec = q.point
    lat = Lattice(spec.lattice.kind, spec.lattice.L, spec.lattice.pbc)

    def measure(theta, chains, key, hyper: Hyper):
        sample, chains = draw_sample(spec, ansatz, theta, chains, key, hyper, spec.sampler.n_samples_eval)
        configs = sample.configs.reshape(-1, spec.n_sites)
        e_loc = local_energies(hyper.ham, ansatz, theta, configs)
        values = local_observables(q.dynamics.observables, lat, spec.marshall_sign, ansatz, theta, configs, e_loc)
        out = {}
        for name, v in values.items():
            st = chain_stats(v.reshape(sample.configs.shape[:2])) if sample.weights is None else weighted_stats(v, sample.weights)
            out[name] = (jnp.real(st.mean), st.error)
        return out, chains

    return jax.jit(measure)


def load_initial_theta(run_dir: Path) -> jax.Array:
    """θ of the finished ground-state run in run_dir (checked by the CLI before compute).
    The checkpoint's layout is that of the run's own spec (its sampler and optimizer)."""
    from nqs_sweep.spec import load_spec
    from nqs_sweep.vmc import init_state

    spec = load_spec(Path(run_dir) / RUN_SPEC)
    template = init_state(spec, make_ansatz(spec), jax.random.key(0))
    state, _ = checkpoint.load(Path(run_dir) / CHECKPOINT, template)
    return state.theta


class QuenchConflict(RuntimeError):
    """The output directory holds the run of another quench."""


def _stored_hashes(out: Path) -> list[str]:
    hashes = []
    if (out / SUMMARY).exists():
        hashes.append(str(pd.read_parquet(out / SUMMARY, columns=["spec_hash"]).iloc[0]["spec_hash"]))
    if (out / CHECKPOINT).exists():
        with np.load(out / CHECKPOINT, allow_pickle=False) as data:
            hashes.append(json.loads(str(data["__meta__"]))["spec_hash"])
    if (out / EXACT).exists():
        hashes.append(str(pd.read_parquet(out / EXACT, columns=["spec_hash"]).iloc[0]["spec_hash"]))
    return hashes


def existing_quench(q: QuenchSpec, out: Path) -> str | None:
    """'complete' if out holds this quench finished, 'partial' if started, else None.

    Raises QuenchConflict when out holds files of another quench (checked before compute,
    so a mistaken --out never overwrites another run's results)."""
    out = Path(out)
    other = [h for h in _stored_hashes(out) if h != q.spec_hash]
    if other:
        raise QuenchConflict(
            f"{out} holds a run of another quench (hash {other[0]}, this quench {q.spec_hash}); use another --out"
        )
    if (out / SUMMARY).exists():
        status = pd.read_parquet(out / SUMMARY, columns=["status"]).iloc[0]["status"]
        return "partial" if status == "failed" else "complete"
    return "partial" if (out / CHECKPOINT).exists() else None


def run_tvmc(
    q: QuenchSpec,
    out: Path,
    initial_run: Path | None = None,
    exact: bool = True,
    checkpoint_every: int = 1,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume, or skip if complete) one quench; returns the summary."""
    from nqs_sweep.driver import run_vmc

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if existing_quench(q, out) == "complete":
        return pd.read_parquet(out / SUMMARY)
    log = start_run(out, q.to_raw())
    spec = q.point
    dyn = q.dynamics
    coords = quench_coordinates(q)
    ansatz = make_ansatz(spec)
    hyper = make_hyper(spec, ansatz.real_dtype)
    k_init, k_run, k_measure = jax.random.split(jax.random.key(spec.seed + 7919), 3)
    times = dyn.save_times()

    # Exact references first (cached, so a resumed run does not recompute them), and with
    # them the exact energy of the initial ground state, to grade the initial VMC state.
    exact_rows: list[dict] | None = None
    initial_exact_energy = float("nan")
    if exact:
        if not (out / EXACT).exists():
            from nqs_sweep.physics.exact import ground_state
            from nqs_sweep.physics.exact_dynamics import exact_trajectory

            v0 = None
            if q.initial.kind == "ground_state":
                res = ground_state(initial_point_spec(q), keep_vector=True)
                v0, initial_exact_energy = res.ground_state, res.energy
            exact_rows, secs = exact_trajectory(q, times, v0)
            table = pd.DataFrame(exact_rows).assign(time=times, initial_exact_energy=initial_exact_energy, spec_hash=q.spec_hash)
            write_table(table, out / EXACT)
            log.info("exact dynamics at %d times in %.1f s", len(times), secs)
        exact_df = pd.read_parquet(out / EXACT)
        initial_exact_energy = float(exact_df["initial_exact_energy"].iloc[0])
        exact_rows = exact_df.drop(columns=["time", "initial_exact_energy", "spec_hash"]).to_dict("records")

    # The initial state: the VMC ground state of the initial couplings, or a product state.
    initial_energy_error = float("nan")
    if q.initial.kind == "ground_state":
        known = initial_exact_energy if math.isfinite(initial_exact_energy) else None
        if initial_run is None:
            initial_run = out / INITIAL_DIR
            log.info("initial state: ground-state VMC in %s", initial_run)
            init = run_vmc(initial_point_spec(q), initial_run, exact_energy=known, show_progress=show_progress).iloc[0]
            if init["status"] in ("diverged", "failed"):
                raise RuntimeError(f"the initial ground-state run in {initial_run} ended with status {init['status']}")
        theta0 = load_initial_theta(initial_run)
        e_vmc = float(pd.read_parquet(Path(initial_run) / SUMMARY).iloc[0]["energy"])
        # A ground-state run stuck in a local minimum bounds the whole trajectory (README, t-VMC).
        if known is not None:
            initial_energy_error = abs(e_vmc - known) / abs(known)
            log.info("initial state: E = %.8f, exact %.8f, rel. error %.2e", e_vmc, known, initial_energy_error)
        else:
            log.info("initial state: E = %.8f (no exact reference)", e_vmc)
    else:
        from nqs_sweep.initial_states import product_state_theta

        copies = 1  # hidden units per feature: the symmetric RBM repeats each over its group
        if spec.ansatz.name == "rbm_symm":
            copies = Lattice(spec.lattice.kind, spec.lattice.L, spec.lattice.pbc).symmetry_group(spec.ansatz.symmetries).shape[0]
        theta0 = product_state_theta(ansatz, q.initial.direction, spec.n_sites, q.initial.infidelity, k_init, copies)

    chains = init_chains(k_init, ansatz, theta0, spec.sampler.n_chains, spec.n_sites, spec.sector, ansatz.real_dtype)
    state = TVMCState(theta0, chains, jnp.zeros(()), jnp.asarray(dyn.dt), jnp.zeros((), jnp.int64), jnp.zeros((), jnp.int64))
    previous_runtime = 0.0
    traj_rows: list[dict] = []
    step_rows: list[dict] = []
    if (out / CHECKPOINT).exists():
        state, meta = checkpoint.load(out / CHECKPOINT, state)
        previous_runtime = meta["runtime_s"]
        n_saved = int(state.n_saved)
        if (out / PARTIAL_TRAJECTORY).exists():
            df = pd.read_parquet(out / PARTIAL_TRAJECTORY)
            traj_rows = df[df["save_index"] < n_saved][[c for c in df.columns if c not in coords]].to_dict("records")
        if (out / PARTIAL_STEPS).exists():
            df = pd.read_parquet(out / PARTIAL_STEPS)
            step_rows = df[df["step"] < int(state.step)][[c for c in df.columns if c not in coords]].to_dict("records")
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

    advance = make_advance(q, ansatz)
    measure = make_measure(q, ansatz)
    start = time.perf_counter()
    runtime = lambda: previous_runtime + time.perf_counter() - start  # noqa: E731
    progress = Progress(len(times), int(state.n_saved), label=f"tvmc {q.spec_hash[:8]}") if show_progress else None
    frame = lambda rows: pd.DataFrame(rows).assign(**coords)  # noqa: E731
    last = {"dt": float("nan"), "residual": float("nan"), "n_kept": float("nan")}
    if step_rows:
        last = {k: step_rows[-1][k] for k in last}
    status = None

    def record_measurement(st: TVMCState) -> TVMCState:
        k = int(st.n_saved)
        values, chains = measure(st.theta, st.chains, jax.random.fold_in(k_measure, k), hyper)
        values = jax.device_get(values)
        for name in dyn.observables:
            mean, err = (float(x) for x in values[name])
            ex = exact_rows[k][name] if exact_rows is not None else float("nan")
            traj_rows.append(
                {
                    "save_index": k,
                    "time": times[k],
                    "observable": name,
                    "value": mean,
                    "error": err,
                    "exact_value": ex,
                    "abs_error": abs(mean - ex),
                    "dt": last["dt"],
                    "tdvp_residual": last["residual"],
                    "n_kept": last["n_kept"],
                    "wall_time_s": runtime(),
                }
            )
        return st._replace(chains=chains, n_saved=st.n_saved + 1)

    def save_checkpoint(st: TVMCState) -> None:
        write_table(frame(traj_rows), out / PARTIAL_TRAJECTORY)
        write_table(frame(step_rows) if step_rows else pd.DataFrame([coords]).iloc[:0], out / PARTIAL_STEPS)
        checkpoint.save(out / CHECKPOINT, st, {"spec_hash": q.spec_hash, "runtime_s": runtime()})

    if int(state.n_saved) == 0:
        state = record_measurement(state)
        save_checkpoint(state)
    tableau_order = TABLEAUX[dyn.integrator].order
    while int(state.n_saved) < len(times) and status is None:
        target = times[int(state.n_saved)]
        t = float(state.t)
        i = int(state.step)
        k_step = jax.random.fold_in(k_run, i)
        if dyn.adaptive:
            h = min(float(state.dt), target - t)
            attempt = 0
            while True:
                theta, chains, info, ratio = advance(state.theta, state.chains, h, jax.random.fold_in(k_step, attempt), hyper)
                ratio = float(ratio)
                if ratio <= 1.0 or h <= dyn.dt_min * (1 + 1e-12):
                    break
                attempt += 1
                h = next_dt(h, ratio, tableau_order, dyn.dt_min, dyn.dt_max)
            proposal = next_dt(h, ratio, tableau_order, dyn.dt_min, dyn.dt_max)
            if attempt == 0 and h < float(state.dt):  # cut short by a save time: keep the step it had
                proposal = max(proposal, float(state.dt))
            t_new = target if abs(t + h - target) <= 1e-12 * max(1.0, target) else t + h
            rejected = attempt
        else:
            h = dyn.dt
            theta, chains, info, ratio = advance(state.theta, state.chains, h, jax.random.fold_in(k_step, 0), hyper)
            proposal, rejected, ratio = h, 0, float("nan")
            t_new = (i + 1) * dyn.dt  # no accumulation of rounding over many steps
        info = {k: float(v) for k, v in jax.device_get(info._asdict()).items()}
        state = TVMCState(theta, chains, jnp.asarray(t_new), jnp.asarray(proposal), state.step + 1, state.n_saved)
        last = {"dt": h, "residual": info["residual"], "n_kept": info["n_kept"]}
        step_rows.append(
            {"step": i, "time": t, "dt": h, **info, "error_ratio": ratio, "rejected": rejected, "wall_time_s": runtime()}
        )
        if not bool(jnp.all(jnp.isfinite(theta))):
            status = "diverged"
            log.info("step %d (t=%.4f): parameters are not finite; stopping", i, t)
            break
        if t_new >= target - 1e-9 * max(1.0, target):
            state = state._replace(t=jnp.asarray(target))
            state = record_measurement(state)
            k = int(state.n_saved)
            if progress:
                sx = [r for r in traj_rows if r["save_index"] == k - 1][0]
                progress.update(k, f"t={target:.3f} {sx['observable']}={sx['value']:.5f} r2={info['residual']:.1e}")
            if k % checkpoint_every == 0 or k == len(times):
                save_checkpoint(state)
                log.info("t=%.4f step %d: E=%.6f r2=%.2e kept %d", target, i, info["energy"], info["residual"], info["n_kept"])

    traj = frame(traj_rows)
    steps = frame(step_rows) if step_rows else pd.DataFrame([coords]).iloc[:0]
    write_table(traj, out / TRAJECTORY)
    write_table(steps, out / STEPS)
    summary = _summary(q, coords, traj, steps, status or "completed", runtime(), initial_energy_error, ansatz)
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
        "max_abs_error": float(traj["abs_error"].max()) if len(traj) else nan,
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


def record_tvmc_failure(q: QuenchSpec, out: Path, message: str) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    coords = quench_coordinates(q)
    for name, partial in ((TRAJECTORY, PARTIAL_TRAJECTORY), (STEPS, PARTIAL_STEPS)):
        if not (out / name).exists():
            df = pd.read_parquet(out / partial) if (out / partial).exists() else pd.DataFrame([coords]).iloc[:0]
            write_table(df, out / name)
    row = {**coords, "status": "failed", "error_message": message, "max_abs_error": math.nan, **provenance()}
    write_table(pd.DataFrame([row]), out / SUMMARY)


def clear_stale_tvmc(q: QuenchSpec, out: Path) -> None:
    """Remove the files of another quench's run from out (its spec changed), and the
    inline initial ground-state run if it belongs to other initial couplings."""
    from nqs_sweep.driver import clear_stale

    out = Path(out)
    try:
        existing_quench(q, out)
    except QuenchConflict:
        for name in (CHECKPOINT, PARTIAL_TRAJECTORY, PARTIAL_STEPS, TRAJECTORY, STEPS, SUMMARY, EXACT, RUN_SPEC, "error.txt"):
            (out / name).unlink(missing_ok=True)
    if q.initial.kind == "ground_state" and (out / INITIAL_DIR).is_dir():
        clear_stale(initial_point_spec(q), out / INITIAL_DIR)
