"""One Lanczos step (mc/lanczos.py): the closed form of E₁ against a scan over α, G = (H²ψ)/ψ
against the sparse Hamiltonian, E₁ on an enumeration against the 2 × 2 problem in span{ψ, Hψ},
the Monte Carlo estimate against that exact value within its error bar, the spec field and the
run's summary columns."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from scipy.sparse.linalg import eigsh

from nqs_sweep.mc.estimate import draw_sample
from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.lanczos import make_lanczos_step, second_local_energies, step_energy
from nqs_sweep.optim.step import init_state
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import sector_matrix
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import SpecError, parse_spec

J1J2 = {"model": {"name": "j1j2", "J1": 1.0, "J2": 0.5}, "lattice": {"kind": "square", "L": 4, "pbc": True}}
# The trained pair product at its Z2 start times a small symmetric RBM: the Z2 state nearly vanishes
# on configurations that H connects to large amplitudes, the case the split estimator is for.
PAIRED = {
    **J1J2,
    "ansatz": {"name": "rbm_symm", "alpha": 1, "symmetries": "translations"},
    "sampler": {"move": "exchange", "n_chains": 32, "n_samples": 1024, "sweep_size": 32, "n_discard": 4},
    "sign_prior": "z2_pair_product",
}


def _exact_lanczos(ham, v: np.ndarray) -> float:
    k = np.stack([v, ham @ v], axis=1)
    return float(scipy.linalg.eigh(k.conj().T @ (ham @ k), k.conj().T @ k, eigvals_only=True)[0])


@pytest.fixture(scope="module")
def paired_state():
    spec = parse_spec(PAIRED)
    problem = build_problem(spec)
    state = init_state(problem, jax.random.key(3))
    theta = state.theta
    states = jnp.asarray(hilbert.all_states(16, "zero_magnetization"), jnp.float64)
    log_psi = np.asarray(jax.jit(problem.ansatz)(theta, states))
    v = np.exp(log_psi - log_psi.real.max())  # complex: the default dtype is complex128
    ham = sector_matrix(build_hamiltonian(spec, xp=np), 16, "zero_magnetization").tocsr()
    return spec, problem, state, states, v / np.linalg.norm(v), ham


@pytest.mark.parametrize(("m3", "variance"), [(0.0, 0.3), (2.5, 0.2), (-1.7, 0.5), (40.0, 1e-3), (-40.0, 1e-3)])
def test_the_closed_form_is_the_best_energy_over_alpha(m3, variance):
    """E(α) − μ = (2ασ² + α²m₃) / (1 + α²σ²) in the basis {ψ, (H − μ)ψ}, minimised numerically; the
    gain E₁ − μ agrees to 1e-6 relative, down to gains of 1e-8 (m₃ ≫ σ³) and either sign of m₃."""
    import scipy.optimize

    def gain(alpha):
        return (2 * alpha * variance + alpha**2 * m3) / (1 + alpha**2 * variance)

    lam = np.roots([variance, -m3, -(variance**2)])  # σ²λ² − m₃λ − σ⁴ = 0: α = λ/σ² at the minimum
    best_alpha = scipy.optimize.minimize_scalar(gain, bracket=(min(lam) / variance * 0.5, min(lam) / variance * 2)).x
    expected = gain(best_alpha)
    mu = -3.0
    got = float(step_energy(jnp.asarray(mu), jnp.asarray(variance), jnp.asarray(m3))) - mu
    assert got < 0
    assert got == pytest.approx(expected, rel=1e-6)


def test_an_eigenstate_gains_nothing():
    assert float(step_energy(jnp.asarray(-3.0), jnp.asarray(0.0), jnp.asarray(0.0))) == -3.0


@pytest.mark.parametrize("group", [4096, 7])
def test_second_local_energies_are_h_squared_psi_over_psi(paired_state, group, monkeypatch):
    """In one group of connected configurations and in many (the last one padded)."""
    monkeypatch.setattr("nqs_sweep.mc.lanczos.GROUP", group)
    spec, problem, state, states, v, ham = paired_state
    rows = np.random.default_rng(0).choice(states.shape[0], 40, replace=False)
    x = states[rows]
    e_loc = local_energies(problem.hamiltonian, problem.ansatz, state.theta, x)
    g = second_local_energies(problem.hamiltonian, problem.ansatz, state.theta, x, e_loc)
    expected = (ham @ (ham @ v))[rows] / v[rows]
    # G sums ~C² terms ψ(s')/ψ(s)·E_L(s') that reach 1e5 next to the near-zeros of ψ and cancel:
    # the rounding there is ~1e-8 relative (5e-9 measured), not 1e-15.
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-7, atol=1e-10 * np.abs(expected).max())


def test_on_an_enumeration_the_step_is_exact():
    """The exact sampler's E₁ is the lower eigenvalue of H in span{ψ, Hψ}, above E₀ and below ⟨H⟩."""
    raw = {
        "model": {"name": "heisenberg", "J": 1.0},
        "lattice": {"kind": "chain", "L": 10, "pbc": True},
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"kind": "exact", "move": "exchange"},
        "marshall_sign": True,
        "lanczos_samples": 1,
    }
    spec = parse_spec(raw)
    problem = build_problem(spec)
    state = init_state(problem, jax.random.key(0))
    theta = state.theta + 0.3 * jax.random.normal(jax.random.key(1), state.theta.shape)
    est = make_lanczos_step(problem, 1)(theta, state.chains, jax.random.key(2), problem.hyper)
    states = jnp.asarray(hilbert.all_states(10, "zero_magnetization"), jnp.float64)
    log_psi = np.asarray(jax.jit(problem.ansatz)(theta, states))
    v = np.exp(log_psi - log_psi.real.max())
    ham = sector_matrix(build_hamiltonian(spec, xp=np), 10, "zero_magnetization").tocsr()
    e0 = eigsh(ham, k=1, which="SA")[0][0]
    e1 = _exact_lanczos(ham, v)
    assert float(est.error) == 0.0
    assert float(est.energy) == pytest.approx(e1, abs=1e-10)
    assert float(est.energy_psi) == pytest.approx(np.vdot(v, ham @ v).real / np.vdot(v, v).real, abs=1e-10)
    assert e0 < e1 < float(est.energy_psi) - 1e-3  # the step gains, and stays variational


@pytest.mark.slow
def test_the_monte_carlo_step_agrees_with_the_exact_one_within_its_error(paired_state):
    """Metropolis samples of |ψ| (the trained pair product's protocol) and of |(H − μ)ψ|²: E₁ within
    four error bars of the enumeration's, whose σ² sits where |ψ|² almost never goes."""
    spec, problem, state, states, v, ham = paired_state
    theta = state.theta
    draw = jax.jit(lambda th, c, k: draw_sample(problem, th, c, k, problem.hyper, 32 * 64)[1])
    chains = draw(theta, state.chains, jax.random.key(4))  # thermalised
    est = make_lanczos_step(problem, 4096)(theta, chains, jax.random.key(5), problem.hyper)
    exact = _exact_lanczos(ham, v)
    mu = np.vdot(v, ham @ v).real
    assert float(est.error) > 0
    assert abs(float(est.energy) - exact) < 4 * float(est.error), (float(est.energy), float(est.error), exact)
    # the step's gain (0.31) is resolved, not lost in the error bar (0.036, μ's own error included)
    assert exact < mu - 5 * float(est.error)


def test_the_spec_field_names_its_allowed_values():
    spec = parse_spec({**PAIRED, "lanczos_samples": 2048})
    assert spec.lanczos_samples == 2048
    assert "lanczos_samples" in spec.to_dict()
    plain = parse_spec(PAIRED)
    assert "lanczos_samples" not in plain.to_dict()  # written only when set: earlier hashes stay
    for bad in (100, -1, 16):
        with pytest.raises(SpecError, match="lanczos_samples"):
            parse_spec({**PAIRED, "lanczos_samples": bad})
    direct = {"model": {"name": "tfim", "J": 1.0, "h": 1.0}, "lattice": {"kind": "chain", "L": 8, "pbc": True}}
    direct |= {"ansatz": {"name": "arnn"}, "sampler": {"kind": "direct"}, "lanczos_samples": 64}
    with pytest.raises(SpecError, match="lanczos_samples.*metropolis or exact"):
        parse_spec(direct)


def test_a_run_reports_the_step_in_its_summary(tmp_path):
    """Exact sampler: the summary's E₁ lies between the exact ground state and the run's own energy."""
    from nqs_sweep.jobs.vmc import run_vmc

    raw = {
        "model": {"name": "heisenberg", "J": 1.0},
        "lattice": {"kind": "chain", "L": 8, "pbc": True},
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"kind": "exact", "move": "exchange"},
        "optimizer": {"n_iter": 20, "learning_rate": 0.05},
        "marshall_sign": True,
        "lanczos_samples": 1,
    }
    spec = parse_spec(raw)
    ham = sector_matrix(build_hamiltonian(spec, xp=np), 8, "zero_magnetization").tocsr()
    e0 = float(eigsh(ham, k=1, which="SA")[0][0])
    summary = run_vmc(spec, tmp_path / "run", exact_energy=e0, show_progress=False)
    row = pd.read_parquet(tmp_path / "run" / "summary.parquet").iloc[0]
    assert row["energy_lanczos_error"] == 0.0
    assert e0 - 1e-9 <= row["energy_lanczos"] < row["energy"]
    assert row["rel_error_lanczos"] == pytest.approx(abs(row["energy_lanczos"] - e0) / abs(e0))
    assert summary.iloc[0]["energy_lanczos"] == row["energy_lanczos"]


def test_a_failed_step_leaves_the_trained_point_with_nan_columns(tmp_path, monkeypatch):
    from nqs_sweep.jobs import vmc

    def broken(problem, n_samples):
        def step(*args):
            raise MemoryError("out of memory in the step")

        return step

    monkeypatch.setattr(vmc, "make_lanczos_step", broken)
    raw = {
        "model": {"name": "heisenberg", "J": 1.0},
        "lattice": {"kind": "chain", "L": 6, "pbc": True},
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"kind": "exact", "move": "exchange"},
        "optimizer": {"n_iter": 5},
        "lanczos_samples": 1,
    }
    vmc.run_vmc(parse_spec(raw), tmp_path / "run", show_progress=False)
    row = pd.read_parquet(tmp_path / "run" / "summary.parquet").iloc[0]
    assert np.isfinite(row["energy"]) and np.isnan(row["energy_lanczos"])
    assert "Lanczos step failed" in (tmp_path / "run" / "run.log").read_text()
