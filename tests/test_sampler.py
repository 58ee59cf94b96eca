"""Metropolis against exact enumeration on fixed states, and a deliberately slow chain."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.mc.estimate import sample_stats
from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.sampler import ChainState, exact_sample, init_chains, metropolis_sample
from nqs_sweep.mc.stats import chain_stats, split_r_hat
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import build_hamiltonian

CASES = {
    "tfim-local": dict(model={"name": "tfim", "h": 0.8}, lattice={"kind": "chain", "L": 8}, sampler={"move": "local"}),
    "heisenberg-exchange": dict(
        model={"name": "heisenberg"}, lattice={"kind": "square", "L": 4}, sampler={"move": "exchange"}, marshall_sign=True
    ),
}


def run_chains(spec, ansatz, theta, key, n_chains, n_per_chain, sweep_size=None, n_discard=50, state=None, power=2.0):
    ham = build_hamiltonian(spec)
    if state is None:
        state = init_chains(key, ansatz.log_psi, theta, n_chains, spec.n_sites, spec.sector, jnp.float64)
    sample, state = metropolis_sample(
        ansatz.log_psi,
        theta,
        state,
        jax.random.fold_in(key, 1),
        n_per_chain=n_per_chain,
        n_discard=n_discard,
        sweep_size=sweep_size or spec.n_sites,
        move=spec.sampler.move,
        exchange_bonds=ham.exch_bonds,
        power=power,
    )
    return sample, state


@pytest.mark.parametrize("power", [2.0, 1.0], ids=["born", "reweighted"])
@pytest.mark.parametrize("case", CASES)
def test_metropolis_energy_agrees_with_exact_sampler(spec_factory, case, power):
    """Chains of |ψ|², and chains of |ψ| reweighted to |ψ|² (sampler.power 1): the estimate and its
    (delta-method) error bar hold against the enumeration."""
    # Real parameters: a random complex phase makes local energies heavy-tailed, and then
    # no finite-sample error bar is trustworthy; that is a property of the state, not the sampler.
    spec = spec_factory(ansatz={"name": "rbm", "alpha": 1, "dtype": "float64"}, **CASES[case])
    ansatz = make_ansatz(spec)
    theta = 0.2 * jax.random.normal(jax.random.key(3), (ansatz.n_real_params,))
    ham = build_hamiltonian(spec)
    states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), jnp.float64)
    exact = exact_sample(ansatz.log_psi, theta, states)
    e_exact = float(jnp.real(jnp.sum(exact.weights * local_energies(ham, ansatz.log_psi, theta, states))))

    sample, _ = run_chains(spec, ansatz, theta, jax.random.key(11), n_chains=32, n_per_chain=256, power=power)
    configs = sample.configs.reshape(-1, spec.n_sites)
    e_loc = local_energies(ham, ansatz.log_psi, theta, configs)
    stats = sample_stats(sample, e_loc)
    e_mc = float(jnp.real(stats.mean))
    assert abs(e_mc - e_exact) < 4 * float(stats.error), (e_mc, e_exact, float(stats.error))
    assert 0.0 < float(sample.acceptance) <= 1.0
    if power != 2.0:  # the plain mean of the same samples estimates another distribution's energy
        assert abs(float(jnp.real(jnp.mean(e_loc))) - e_mc) > 4 * float(stats.error)
    if spec.sector == "zero_magnetization":  # exchange moves never leave the sector
        assert np.all(np.asarray(configs).sum(axis=1) == 0)


def test_metropolis_visits_configurations_with_probability_psi_squared(spec_factory):
    """Empirical frequencies of 6-site configurations against |ψ|²: total variation small."""
    spec = spec_factory(ansatz={"name": "rbm", "alpha": 1}, model={"name": "tfim"}, lattice={"kind": "chain", "L": 6})
    ansatz = make_ansatz(spec)
    theta = 0.5 * jax.random.normal(jax.random.key(5), (ansatz.n_real_params,))
    states = jnp.asarray(hilbert.all_states(6, "full"), jnp.float64)
    p = np.asarray(exact_sample(ansatz.log_psi, theta, states).weights)
    sample, _ = run_chains(spec, ansatz, theta, jax.random.key(2), n_chains=64, n_per_chain=500)
    idx = hilbert.states_to_index(np.asarray(sample.configs).reshape(-1, 6).astype(np.int64))
    freq = np.bincount(idx, minlength=64) / idx.size
    # 32000 samples over 64 states: the expected total variation of an exact sampler is ~0.02
    assert 0.5 * np.abs(freq - p).sum() < 0.04


@pytest.mark.parametrize("power", [1.0, 0.5])
def test_metropolis_of_a_power_visits_configurations_with_probability_psi_to_that_power(spec_factory, power):
    """Chains of |ψ|^p: their frequencies follow |ψ|^p (not |ψ|²), and the sample's importance
    weights equal |ψ|^(2−p) normalised over it."""
    spec = spec_factory(ansatz={"name": "rbm", "alpha": 1}, model={"name": "tfim"}, lattice={"kind": "chain", "L": 6})
    ansatz = make_ansatz(spec)
    theta = 0.5 * jax.random.normal(jax.random.key(5), (ansatz.n_real_params,))
    states = jnp.asarray(hilbert.all_states(6, "full"), jnp.float64)
    log_abs = np.real(np.asarray(ansatz.log_psi(theta, states)))
    target = np.exp(power * (log_abs - log_abs.max()))
    target /= target.sum()
    born = np.exp(2 * (log_abs - log_abs.max()))
    born /= born.sum()
    sample, _ = run_chains(spec, ansatz, theta, jax.random.key(2), n_chains=64, n_per_chain=500, power=power)
    configs = np.asarray(sample.configs).reshape(-1, 6)
    idx = hilbert.states_to_index(configs.astype(np.int64))
    freq = np.bincount(idx, minlength=64) / idx.size
    assert 0.5 * np.abs(freq - target).sum() < 0.04
    assert 0.5 * np.abs(target - born).sum() > 0.1  # the two distributions are told apart
    w = np.exp((2 - power) * log_abs[idx])
    np.testing.assert_allclose(np.asarray(sample.reweight), w / w.sum(), rtol=1e-10)


def _ising_ring_chains(beta: float, start: jnp.ndarray, n_per_chain: int = 400):
    """Metropolis on ψ ∝ exp(β/2 Σ s_i s_{i+1}) (a ferromagnetic ring of 10 spins);
    returns the magnetisation per chain and sample."""

    def log_psi(theta, s):
        return (theta * 0.5 * jnp.sum(s * jnp.roll(s, 1, axis=-1), axis=-1)).astype(jnp.complex128)

    sample, _ = metropolis_sample(
        log_psi,
        jnp.asarray(beta),
        ChainState(start, log_psi(beta, start)),
        jax.random.key(1),
        n_per_chain=n_per_chain,
        n_discard=20,
        sweep_size=start.shape[1],
        move="local",
        exchange_bonds=jnp.zeros((0, 2), jnp.int32),
    )
    return sample.configs.mean(axis=-1)


def test_r_hat_flags_chains_stuck_in_different_modes():
    """At β = 3 single flips almost never cross between the two ordered states, so chains
    started in both stay apart: R̂ of the magnetisation says so. Random starts at β = 0.2 mix."""
    up = jnp.ones((8, 10))
    stuck = _ising_ring_chains(3.0, jnp.concatenate([up, -up]))
    mixed = _ising_ring_chains(0.2, jax.random.rademacher(jax.random.key(0), (16, 10), jnp.float64))
    assert float(split_r_hat(stuck)) > 1.5
    assert float(split_r_hat(mixed)) < 1.05


def test_tau_grows_on_a_slowly_decorrelating_chain():
    """At β = 1 the magnetisation changes by diffusing domain walls: τ is several times that at β = 0.2."""
    start = jax.random.rademacher(jax.random.key(0), (16, 10), jnp.float64)
    slow = chain_stats(_ising_ring_chains(1.0, start))
    fast = chain_stats(_ising_ring_chains(0.2, start))
    assert float(slow.tau_corr) > 5 * float(fast.tau_corr)
    assert float(slow.error) > 2 * float(slow.error_naive)  # sqrt(1 + 2τ) with τ of order 10
