"""The QGT spectrum of a finished VMC run, with its ranks and (where possible) the infidelity.

The QGT is taken on the final parameters, from the exact enumeration when the sector
is small enough (``source = 'exact'``), otherwise from fresh Metropolis samples
(``source = 'n_samples=<N>'``). The table has one row per eigenvalue, descending.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from nqs_sweep.jobs import checkpoint
from nqs_sweep.jobs.lifecycle import CHECKPOINT, RUN_SPEC, SUMMARY
from nqs_sweep.jobs.vmc import HISTORY, PARTIAL_HISTORY, SNAPSHOTS, load_snapshots
from nqs_sweep.mc.estimate import draw_sample
from nqs_sweep.mc.estimators import centred_real_rows, local_energies, log_derivatives
from nqs_sweep.mc.sampler import exact_sample
from nqs_sweep.models import Ansatz
from nqs_sweep.optim.qgt import qgt_spectrum, ranks
from nqs_sweep.optim.step import init_state
from nqs_sweep.physics import hilbert
from nqs_sweep.problem import Problem, build_problem
from nqs_sweep.spec import PointSpec, SpecError, load_spec
from nqs_sweep.tables.columns import coordinates

# Enumerate (exact QGT) up to this sector dimension; the Jacobian is dim x P.
EXACT_QGT_MAX_DIM = 2**14
# The infidelity needs the exact ground state and ψθ on the whole sector.
INFIDELITY_MAX_DIM = 2**20


def load_state(run: Path) -> tuple[PointSpec, Problem, object]:
    """Spec, problem and checkpointed state (VMCState) of a run directory."""
    run = Path(run)
    for name in (RUN_SPEC, CHECKPOINT):
        if not (run / name).exists():
            raise SpecError("--run", f"{run} holds no finished nqs-sweep vmc run ({name} missing)")
    spec = load_spec(run / RUN_SPEC)
    problem = build_problem(spec)
    state, meta = checkpoint.load(run / CHECKPOINT, init_state(problem, jax.random.key(0)))
    if meta["spec_hash"] != spec.spec_hash:
        raise SpecError("--run", f"{run}: the checkpoint (spec {meta['spec_hash']}) is not of run_spec.yaml ({spec.spec_hash})")
    return spec, problem, state


def load_run(run: Path) -> tuple[PointSpec, Problem, jax.Array, object]:
    """Spec, problem, final parameters and chain state of a finished run directory."""
    spec, problem, state = load_state(run)
    return spec, problem, state.theta, state.chains


def run_status(run: Path) -> str:
    """The status in a run's summary ('unfinished' without one)."""
    summary = run / SUMMARY
    return str(pd.read_parquet(summary, columns=["status"])["status"].iloc[0]) if summary.exists() else "unfinished"


def unfinished_row(run: Path, row: dict) -> pd.DataFrame:
    """The one NaN row a table of a failed or diverged run gets, with the point's coordinates
    where its spec was written."""
    spec = load_spec(Path(run) / RUN_SPEC) if (Path(run) / RUN_SPEC).exists() else None
    return pd.DataFrame([{**row, **(coordinates(spec) if spec else {})}])


def make_infidelity(spec: PointSpec, ansatz: Ansatz):
    """θ -> 1 - |⟨ψ_exact|ψθ⟩|² over the sector (both normalised); NaN past INFIDELITY_MAX_DIM.
    The exact state, the enumeration and the compiled log ψ are made once, for every θ of a run."""
    from nqs_sweep.physics.exact import ground_state

    if hilbert.hilbert_dim(spec.n_sites, spec.sector) > INFIDELITY_MAX_DIM:
        return lambda theta: float("nan")
    exact = ground_state(spec, keep_vector=True).ground_state
    exact = exact / np.linalg.norm(exact)
    states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), ansatz.real_dtype)
    log_psi = jax.jit(ansatz.log_psi)

    def of(theta: jax.Array) -> float:
        values = np.asarray(log_psi(theta, states))
        psi = np.exp(values - values.real.max())
        overlap = np.vdot(exact, psi) / np.linalg.norm(psi)
        return float(max(1.0 - abs(overlap) ** 2, 0.0))

    return of


def infidelity(spec: PointSpec, ansatz: Ansatz, theta: jax.Array) -> float:
    """1 - |⟨ψ_exact|ψθ⟩|² of one θ (make_infidelity for several)."""
    return make_infidelity(spec, ansatz)(theta)


def _qgt_eigenvalues(problem: Problem, n_samples: int | None, seed: int):
    """(eigenvalues of θ, chains, key -> ndarray, source): the QGT the tables report, exact where small."""
    ansatz, hyper = problem.ansatz, problem.hyper
    dim = hilbert.hilbert_dim(problem.n_sites, problem.sector)
    # Jitted as one program: op by op, a deep network's Jacobian costs seconds of dispatch.
    rows = jax.jit(
        lambda th, x, w: centred_real_rows(
            log_derivatives(ansatz, th, x), local_energies(hyper.ham, ansatz, th, x), w, real_only=ansatz.real_output
        )[0]
    )
    if n_samples is None and dim <= EXACT_QGT_MAX_DIM:
        states = jnp.asarray(hilbert.all_states(problem.n_sites, problem.sector), ansatz.real_dtype)

        exact_rows = jax.jit(lambda th: rows(th, states, exact_sample(ansatz.log_psi, th, states).weights))

        def eigenvalues(theta, chains, key):
            return np.asarray(qgt_spectrum(exact_rows(theta)))

        return eigenvalues, "exact"
    n = n_samples or problem.sampler.n_samples_eval
    n -= n % problem.sampler.n_chains
    # The run's own sampler; an exact-sampler run too large to enumerate here is sampled by Metropolis.
    sampled = problem.with_sampler(kind="metropolis" if problem.sampler.kind == "exact" else problem.sampler.kind)

    def eigenvalues(theta, chains, key):
        sample, _ = draw_sample(sampled, theta, chains, key, hyper, n)
        configs = sample.configs.reshape(-1, problem.n_sites)
        weights = jnp.full(configs.shape[0], 1.0 / configs.shape[0], ansatz.real_dtype)
        return np.asarray(qgt_spectrum(rows(theta, configs, weights)))

    return eigenvalues, f"n_samples={n}"


def _spectrum_frame(evals: np.ndarray, columns: dict) -> pd.DataFrame:
    df = pd.DataFrame({"index": np.arange(evals.size), "eigenvalue": evals})
    for k, v in {**ranks(evals), **columns}.items():
        df[k] = v
    return df


def _sizes(spec: PointSpec, ansatz: Ansatz, source: str) -> dict:
    dim = hilbert.hilbert_dim(spec.n_sites, spec.sector)
    return {"n_params": ansatz.n_params, "n_real_params": ansatz.n_real_params, "hilbert_dim": dim, "source": source}


def spectrum_table(run: Path, n_samples: int | None = None, seed: int = 1) -> pd.DataFrame:
    """One row per eigenvalue; a single NaN row (with the run's status) when the run failed or diverged."""
    status = run_status(Path(run))
    if status in ("failed", "diverged"):
        return unfinished_row(run, {"index": 0, "eigenvalue": float("nan"), "source": "none", "status": status})
    spec, problem, theta, chains = load_run(run)
    ansatz = problem.ansatz
    eigenvalues, source = _qgt_eigenvalues(problem, n_samples, seed)
    evals = eigenvalues(theta, chains, jax.random.key(seed))
    extra = {"infidelity": infidelity(spec, ansatz, theta), "status": status, **coordinates(spec)}
    return _spectrum_frame(evals, {**_sizes(spec, ansatz, source), **extra})


def spectrum_history_table(run: Path, n_samples: int | None = None, seed: int = 1) -> pd.DataFrame:
    """The spectrum along the optimisation: one row per (iteration, eigenvalue), at the run's snapshots
    (spec snapshot_every) and its last parameters, with the energy of the iteration and the infidelity.
    A run without snapshots gives its last iteration alone; a failed or diverged run one NaN row.
    An unfinished run (a checkpoint, no summary) gives the snapshots up to its checkpoint and the
    checkpoint's θ, labelled with its iteration."""
    run = Path(run)
    status = run_status(run)
    if status in ("failed", "diverged"):
        row = {"iteration": 0, "index": 0, "eigenvalue": float("nan"), "source": "none", "status": status}
        return unfinished_row(run, row)
    spec, problem, state = load_state(run)
    ansatz = problem.ansatz
    theta, chains, last = state.theta, state.chains, int(state.iteration)
    eigenvalues, source = _qgt_eigenvalues(problem, n_samples, seed)
    finished = status != "unfinished"
    history = pd.read_parquet(run / (HISTORY if finished else PARTIAL_HISTORY), columns=["iteration", "energy"])
    energies = history.drop_duplicates("iteration", keep="last").set_index("iteration")["energy"]
    final = float(pd.read_parquet(run / SUMMARY, columns=["energy"])["energy"].iloc[0]) if finished else float("nan")
    snapshots = {i: th for i, th in load_snapshots(run / SNAPSHOTS, spec.spec_hash).items() if i <= last}
    thetas = {**snapshots, last: np.asarray(theta)}
    infidelity_of = make_infidelity(spec, ansatz)
    columns = {**_sizes(spec, ansatz, source), **coordinates(spec)}
    frames = []
    for it, th in sorted(thetas.items()):
        # The history's energy at iteration i is that of θ_i, before its update; a finished run's last one
        # is its final evaluation's.
        energy = final if it == last and finished else float(energies.get(it, float("nan")))
        # The last θ is sampled with spectrum_table's key, so its rows are what spectrum_table gives.
        key = jax.random.key(seed) if it == last else jax.random.fold_in(jax.random.key(seed), it)
        evals = eigenvalues(jnp.asarray(th), chains, key)
        extra = {"iteration": it, "energy": energy, "infidelity": infidelity_of(jnp.asarray(th)), "status": status}
        frames.append(_spectrum_frame(evals, {**columns, **extra}))
    return pd.concat(frames, ignore_index=True)


def final_spectrum(history: pd.DataFrame) -> pd.DataFrame:
    """spectrum.parquet's rows from spectrum_history_table's: those of the last iteration."""
    last = history[history["iteration"] == history["iteration"].max()]
    return last.drop(columns=["iteration", "energy"], errors="ignore").reset_index(drop=True)
