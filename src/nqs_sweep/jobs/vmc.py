"""The ground-state (VMC) run: one optimisation step per unit of the shared run lifecycle
(nqs_sweep.jobs.lifecycle: files, spec check, resume, checkpoints, failure records).

Files of this kind, besides the common ones:
  history.parquet           one row per iteration (history.partial.parquet while running)
  snapshots.npz             θ at iterations 0, k, 2k, ... when the spec has snapshot_every: k
                            (for spectra along the optimisation; written with each checkpoint)
  measurements.parquet      the spec's measurements (nqs_sweep.measure) on a fresh sample of the
                            final state, written before the summary; exact values when the run
                            was given the exact ground state

The key of iteration i is fold_in(run_key, i), so a resumed run draws the same
random numbers as an uninterrupted one and ends with identical parameters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from nqs_sweep import measure
from nqs_sweep.jobs import checkpoint, lifecycle
from nqs_sweep.jobs.lifecycle import SUMMARY, RunFiles, start_run
from nqs_sweep.mc.devices import describe, place_chains
from nqs_sweep.mc.lanczos import make_lanczos_step
from nqs_sweep.mc.stats import health_flags
from nqs_sweep.optim.step import init_state, make_evaluate, make_step
from nqs_sweep.physics.hamiltonians import connected_elements
from nqs_sweep.problem import build_problem, projected_problem
from nqs_sweep.spec import PointSpec
from nqs_sweep.tables.columns import HistoryLogger, coordinates, provenance, write_table

HISTORY = "history.parquet"
PARTIAL_HISTORY = "history.partial.parquet"
SNAPSHOTS = "snapshots.npz"
MEASUREMENTS = measure.TABLE
FILES = RunFiles("spec", {HISTORY: PARTIAL_HISTORY}, extras=(SNAPSHOTS, MEASUREMENTS))
# Metropolis steps in a row with no accepted move: every chain sits on its configuration, the
# samples repeat them, and no later step can move the weight away (a collapse).
COLLAPSE_STEPS = 5


def collapse_start(rows: list[dict], sampler_kind: str, ham, configs) -> int | None:
    """The first iteration of a collapse ending the rows, or None: COLLAPSE_STEPS steps without an
    accepted move, on configurations that are not eigenstates (a move with a non-zero matrix
    element leaves each). A state that has learnt a basis state which is an eigenstate, such as
    the Ising chain's ordered configuration at h = 0, freezes its chains rightly. Only Metropolis
    chains freeze: an enumeration or direct samples see the whole state."""
    last = rows[-COLLAPSE_STEPS:]
    if sampler_kind != "metropolis" or len(last) < COLLAPSE_STEPS or any(r.get("acceptance", 1.0) != 0 for r in last):
        return None
    elements = jax.vmap(lambda s: connected_elements(ham, s))(configs)
    return len(rows) - COLLAPSE_STEPS if bool(jnp.all(jnp.any(elements != 0, axis=-1))) else None


def collapse_message(start: int) -> str:
    return (
        f"collapsed at iteration {start}: every Markov chain froze where it was (no move accepted for {COLLAPSE_STEPS} steps, "
        "though none is an eigenstate): a step that followed heavy-tailed local energies put all the weight "
        "on them and no later step can move it. optimizer.clip_local_energy: 5, optimizer.trust_radius "
        "or a smaller learning rate avoid it"
    )


def existing_status(spec: PointSpec, out: Path) -> str | None:
    """'complete', 'partial' or None for this spec's run in out (RunConflict for another spec's)."""
    return lifecycle.status(Path(out), spec.spec_hash, FILES)


def save_snapshots(path: Path, snapshots: dict[int, np.ndarray], spec_hash: str) -> None:
    iterations = np.array(sorted(snapshots), dtype=np.int64)
    thetas = np.stack([snapshots[i] for i in iterations])
    meta = np.array(json.dumps({"spec_hash": spec_hash}))
    checkpoint.atomic_write_bytes(path, lambda f: np.savez(f, iteration=iterations, theta=thetas, __meta__=meta))


def load_snapshots(path: Path, spec_hash: str) -> dict[int, np.ndarray]:
    """{iteration: θ} of a run's snapshots ({} without the file; those of another spec are not ours)."""
    if not Path(path).exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        if json.loads(str(data["__meta__"]))["spec_hash"] != spec_hash:
            return {}
        return {int(i): np.asarray(th) for i, th in zip(data["iteration"], data["theta"])}


def convergence_status(energies: np.ndarray) -> str:
    """'converged' when the mean energy of the last window moved by less than
    three standard errors from the window before it (windows of max(10, n/10))."""
    n = len(energies)
    w = max(10, n // 10)
    if n < 2 * w:
        return "not_converged"
    last, before = energies[-w:], energies[-2 * w : -w]
    se = math.sqrt(np.var(last, ddof=1) / w + np.var(before, ddof=1) / w)
    return "converged" if abs(last.mean() - before.mean()) <= 3 * se + 1e-12 * abs(last.mean()) else "not_converged"


def run_vmc(
    spec: PointSpec,
    out: Path,
    exact_energy: float | None = None,
    checkpoint_every: int = 25,
    show_progress: bool = True,
    exact_state: tuple[np.ndarray, bool] | None = None,
) -> pd.DataFrame:
    """Run (or resume, or skip if complete) one ground-state optimisation; returns the summary.
    ``exact_state``: the exact ground state and its Marshall frame (api.exact_reference), for the
    exact column of the measurements. Holds the directory's lock for the run (RunConflict if another process runs
    there); lifecycle.Interrupted after a checkpoint when SIGTERM or SIGINT arrives."""
    out = Path(out)
    with lifecycle.session(out, FILES.what) as caught:
        return _run_vmc(spec, out, exact_energy, checkpoint_every, show_progress, caught, exact_state)


def _run_vmc(
    spec: PointSpec,
    out: Path,
    exact_energy: float | None,
    checkpoint_every: int,
    show_progress: bool,
    caught: list[str],
    exact_state: tuple[np.ndarray, bool] | None = None,
) -> pd.DataFrame:
    if existing_status(spec, out) == "complete":
        return pd.read_parquet(out / SUMMARY)
    log = start_run(out, spec.to_raw())
    coords = coordinates(spec)
    problem = build_problem(spec)
    ansatz, hyper = problem.ansatz, problem.hyper
    stage, final_from = _stages(spec, problem)
    final_problem = stage(spec.optimizer.n_iter)[0]
    evaluate = make_evaluate(final_problem)
    k_init, k_run, k_eval = jax.random.split(jax.random.key(spec.seed), 3)

    state, previous_runtime = lifecycle.resume(out, init_state(problem, k_init))
    if previous_runtime:
        log.info("resuming %s at iteration %d", spec.spec_hash, int(state.iteration))
    state = state._replace(chains=place_chains(state.chains))
    log.info("devices: %s", describe())
    history = HistoryLogger.resume(coords, out / PARTIAL_HISTORY, int(state.iteration))
    every = spec.snapshot_every
    # Snapshots past the checkpoint were taken by a killed attempt; the resumed run retakes them.
    snapshots = {i: th for i, th in load_snapshots(out / SNAPSHOTS, spec.spec_hash).items() if i <= int(state.iteration)}
    if every and int(state.iteration) == 0:
        snapshots[0] = np.asarray(state.theta)
    log.info("spec %s: %s, %d parameters (%d real)", spec.spec_hash, spec.to_dict(), ansatz.n_params, ansatz.n_real_params)
    clock = lifecycle.Clock(previous_runtime)

    collapsed: list[int] = []

    def unit(state):
        i = int(state.iteration)
        stage_problem, step = stage(i)
        if final_from is not None and i == final_from:  # the chains' cached log ψ is the plain network's
            log_psi = stage_problem.ansatz(state.theta, state.chains.configs)
            state = state._replace(chains=state.chains._replace(log_psi=log_psi))
        state, metrics = step(state, jax.random.fold_in(k_run, i), hyper)
        row = {k: float(v) for k, v in jax.device_get(metrics).items()}
        if final_from is not None:
            row["projected"] = float(i >= final_from)
        row["wall_time_s"] = clock()
        history(i, row)
        if every and (i + 1) % every == 0:
            snapshots[i + 1] = np.asarray(state.theta)
        if not math.isfinite(row["energy"]):
            log.info("iteration %d: energy is not finite; stopping", i)
            return state, "", True
        start = collapse_start(history.rows, spec.sampler.kind, hyper.ham, state.chains.configs)
        if start is not None:
            collapsed.append(start)
            log.info("iteration %d: %s; stopping", i, collapse_message(start))
            return state, "", True
        return state, f"E={row['energy']:.6f}±{row['energy_error']:.1e}", False

    def save(state) -> None:
        # History first: a checkpoint then always has its rows on disk (a kill between
        # the two leaves extra rows, which resume() drops).
        history.flush(out / PARTIAL_HISTORY)
        if snapshots:
            save_snapshots(out / SNAPSHOTS, snapshots, spec.spec_hash)
        lifecycle.save_checkpoint(out, state, spec.spec_hash, clock)
        row = history.rows[-1]
        i = int(state.iteration) - 1
        log.info("iteration %d: E=%.8f ± %.2e var=%.3e", i, row["energy"], row["energy_error"], row["variance"])

    state, stopped = lifecycle.drive(
        state,
        done=lambda st: int(st.iteration),
        total=spec.optimizer.n_iter,
        unit=unit,
        save=save,
        every=checkpoint_every,
        label=f"vmc {spec.spec_hash[:8]}",
        show_progress=show_progress,
        caught=caught,
    )

    diverged = stopped and not collapsed
    energies = np.array([r["energy"] for r in history.rows])
    final, observables = _final_evaluation(spec, diverged, lambda: evaluate(state.theta, state.chains, k_eval, hyper))
    status = "diverged" if diverged or not math.isfinite(final["mean"]) else convergence_status(energies)
    if collapsed and status != "diverged":
        status = "collapsed"
    history.flush(out / HISTORY)
    if spec.measurements:
        estimates = None
        if status != "diverged":  # a NaN final energy is diverged too: nothing to measure
            log.info("measuring %s", ", ".join(m.name for m in spec.measurements))
            estimates = measure.make_measure(final_problem)(state.theta, state.chains, jax.random.fold_in(k_eval, 1), hyper)
        exact = None if exact_state is None else measure.exact_values(spec, *exact_state)
        write_table(measure.table(spec, estimates, exact), out / MEASUREMENTS)

    lanczos = {}
    if spec.lanczos_samples:
        lanczos = _lanczos_columns(spec, final_problem, status, exact_energy, (state.theta, state.chains, k_eval, hyper), log)
        if math.isfinite(lanczos["energy_lanczos"]):
            log.info("one Lanczos step: E=%.8f ± %.2e", lanczos["energy_lanczos"], lanczos["energy_lanczos_error"])

    e = final["mean"]
    summary = {
        **coords,
        **_energy_columns(spec, final, exact_energy),
        **lanczos,
        "n_params": ansatz.n_params,
        "n_real_params": ansatz.n_real_params,
        "n_iter": len(energies),
        "status": status,
        # sampling problems of the final evaluation and of the last tenth of the run ('' for none)
        "health": health_flags(
            final["r_hat"], final["tau_corr"], _chain_length(spec), _late_acceptance(history.rows), *_fallbacks(history.rows)
        ),
        "error_message": collapse_message(collapsed[0]) if status == "collapsed" else "",
        "runtime_s": clock(),
        **observables,  # obs_<name>, obs_<name>_error: only for the observables the spec asks for
        **provenance(),
    }
    df = pd.DataFrame([summary])
    write_table(df, out / SUMMARY)
    reference = (
        f", rel_error {summary['rel_error']:.3e}" if exact_energy is not None else " (no reference here: a study joins it)"
    )
    log.info("done: status %s, E=%.8f ± %.2e%s", status, e, final["error"], reference)
    return df


def _stages(spec: PointSpec, problem):
    """(iteration -> (problem, jitted step), first projected iteration or None).

    symmetry.project: final trains the plain network, then projects it for the last final_steps
    steps (Chen and Heyl's protocol); the same θ serves both, and the last stage evaluates.
    """
    sym = spec.symmetry
    final_from = spec.optimizer.n_iter - sym.final_steps if sym and sym.project == "final" else None
    stages = {False: (problem, make_step(problem))}

    def stage(i: int):
        projected = final_from is not None and i >= final_from
        if projected not in stages:
            onto_sector = projected_problem(spec, problem)
            stages[projected] = (onto_sector, make_step(onto_sector))
        return stages[projected]

    return stage, final_from


def _final_evaluation(spec: PointSpec, diverged: bool, evaluate) -> tuple[dict, dict]:
    """The final evaluation's energy statistics and the spec's observables (NaN for a diverged run)."""
    observables = {f"obs_{n}{suffix}": float("nan") for n in spec.observables for suffix in ("", "_error")}
    if diverged:
        return dict.fromkeys(("mean", "error", "variance", "r_hat", "tau_corr", "error_naive"), float("nan")), observables
    evaluation = jax.device_get(evaluate())
    final = {k: float(np.real(v)) for k, v in evaluation.stats._asdict().items()}
    for name, (mean, err) in evaluation.observables.items():
        observables[f"obs_{name}"], observables[f"obs_{name}_error"] = float(mean), float(err)
    return final, observables


def _energy_columns(spec: PointSpec, final: dict, exact_energy: float | None) -> dict:
    e, n = final["mean"], spec.n_sites
    return {
        "energy": e,
        "energy_error": final["error"],
        "energy_per_site": e / n,
        "variance": final["variance"],
        "v_score": n * final["variance"] / e**2 if e else float("nan"),
        "r_hat": final["r_hat"],
        "tau_corr": final["tau_corr"],
        "exact_energy": exact_energy if exact_energy is not None else float("nan"),
        "rel_error": abs(e - exact_energy) / abs(exact_energy) if exact_energy else float("nan"),
    }


def _lanczos_columns(spec: PointSpec, problem, status: str, exact_energy: float | None, inputs: tuple, log) -> dict:
    """The energy after one Lanczos step (mc/lanczos.py) on its own samples; NaN for a diverged run."""
    nan = float("nan")
    if status == "diverged":
        return {"energy_lanczos": nan, "energy_lanczos_error": nan, "rel_error_lanczos": nan}
    theta, chains, key, hyper = inputs
    try:
        est = jax.device_get(make_lanczos_step(problem, spec.lanczos_samples)(theta, chains, jax.random.fold_in(key, 2), hyper))
    except Exception as err:  # noqa: BLE001  (memory, a bad state): the trained point must not be lost with it
        log.warning("the Lanczos step failed, its columns are NaN: %s", err)
        return {"energy_lanczos": nan, "energy_lanczos_error": nan, "rel_error_lanczos": nan}
    e1 = float(np.real(est.energy))
    return {
        "energy_lanczos": e1,
        "energy_lanczos_error": float(est.error),
        "rel_error_lanczos": abs(e1 - exact_energy) / abs(exact_energy) if exact_energy else nan,
    }


def _chain_length(spec: PointSpec) -> int:
    return spec.sampler.n_samples_eval // spec.sampler.n_chains


def _fallbacks(rows: list[dict]) -> tuple[int, int]:
    """(steps whose solve fell back, steps) over the whole history."""
    return sum(bool(r.get("solver_fallback", 0.0)) for r in rows), len(rows)


def _late_acceptance(rows: list[dict]) -> float:
    """Mean Metropolis acceptance over the last tenth of the iterations (NaN without any)."""
    values = [r["acceptance"] for r in rows[-max(1, len(rows) // 10) :] if "acceptance" in r]
    return float(np.mean(values)) if values else float("nan")


def record_failure(spec: PointSpec, out: Path, message: str, status: str = "failed") -> None:
    """A failed (or interrupted) point still leaves a summary row with that status, its history so
    far and its log; the next attempt resumes it."""
    nan = float("nan")
    row = {
        **dict.fromkeys(("energy", "energy_error", "energy_per_site", "variance", "exact_energy", "rel_error"), nan),
        "status": status,
        "error_message": message,
    }
    lifecycle.record_failure(out, FILES, coordinates(spec), row)


def clear_stale(spec: PointSpec, out: Path) -> None:
    """Remove the run files of another spec from out (the point's spec was changed)."""
    lifecycle.clear_stale(Path(out), spec.spec_hash, FILES)
