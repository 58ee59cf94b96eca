"""The fast kernels against the generic path they replace, on full enumerations.

The RBM's incremental flip ratios, its local energies and its factored Jacobian
must give the numbers of a full forward pass and of jacrev (float64, to 1e-10):
the generic path is itself checked against dense matrices in test_estimators.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep import hilbert
from nqs_sweep.estimators import centred_jacobian, centred_real_rows, local_energies, log_derivatives
from nqs_sweep.hamiltonians import build_hamiltonian, connected_moves
from nqs_sweep.local_updates import connected_log_ratios, flip_context, flip_log_ratio, flipped, init_cache
from nqs_sweep.models import make_ansatz
from nqs_sweep.spec import parse_spec

CASES = {
    "tfim-chain8-real": dict(model={"name": "tfim", "J": 1.0, "h": 0.9}, lattice={"kind": "chain", "L": 8}, dtype="float64"),
    "heisenberg-chain8-marshall-real": dict(
        model={"name": "heisenberg"}, lattice={"kind": "chain", "L": 8}, dtype="float64", move="exchange", marshall_sign=True
    ),
    "j1j2-square-complex": dict(
        model={"name": "j1j2", "J1": 1.0, "J2": 0.5}, lattice={"kind": "square", "L": 3, "pbc": False}, dtype="complex128"
    ),
}


def _setup(case: dict, alpha: float = 2, scale: float = 0.4):
    spec = parse_spec(
        {
            "model": case["model"],
            "lattice": case["lattice"],
            "ansatz": {"name": "rbm", "alpha": alpha, "dtype": case["dtype"], "init_scale": scale},
            "sampler": {"kind": "exact"} if "move" not in case else {"kind": "metropolis", "move": case["move"]},
            "marshall_sign": case.get("marshall_sign", False),
        }
    )
    ansatz = make_ansatz(spec)
    theta = ansatz.init(jax.random.key(3))
    states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), jnp.float64)
    return spec, ansatz, theta, states


@pytest.mark.parametrize("name", CASES)
def test_incremental_local_energies_equal_the_forward_pass(name):
    spec, ansatz, theta, states = _setup(CASES[name])
    ham = build_hamiltonian(spec)
    fast = local_energies(ham, ansatz, theta, states)  # the Ansatz carries the RBM kernels
    generic = local_energies(ham, ansatz.log_psi, theta, states)  # a bare function: forward passes
    np.testing.assert_allclose(np.asarray(fast), np.asarray(generic), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_flip_ratios_and_caches_equal_the_forward_pass(name):
    spec, ansatz, theta, states = _setup(CASES[name])
    sites, active = connected_moves(build_hamiltonian(spec))
    ratios = connected_log_ratios(ansatz, theta, states, sites, active)
    s_conn = jax.vmap(lambda s: jax.vmap(flipped, in_axes=(None, 0, 0))(s, sites, active))(states)
    direct = ansatz.log_psi(theta, s_conn) - ansatz.log_psi(theta, states)[:, None]
    # Compare ratios, not logs: the imaginary part of a complex log is defined modulo 2π.
    np.testing.assert_allclose(np.exp(np.asarray(ratios)), np.exp(np.asarray(direct)), rtol=1e-10)
    # The cache after a move is the pre-activation of the moved configuration.
    context = flip_context(ansatz, theta)
    cache = init_cache(ansatz, theta, states[:1])[0]
    _, moved = flip_log_ratio(ansatz, context, states[0], cache, sites[-1], active[-1])
    np.testing.assert_allclose(np.asarray(moved), np.asarray(init_cache(ansatz, theta, s_conn[0, -1:])[0]), atol=1e-12)


@pytest.mark.parametrize("name", ["tfim-chain8-real", "heisenberg-chain8-marshall-real"])
def test_factored_jacobian_equals_the_dense_centred_rows(name):
    spec, ansatz, theta, states = _setup(CASES[name])
    ham = build_hamiltonian(spec)
    e_loc = local_energies(ham, ansatz, theta, states)
    lp = 2 * jnp.real(ansatz.log_psi(theta, states))
    weights = jnp.exp(lp - jax.scipy.special.logsumexp(lp))
    factored, e_f = centred_jacobian(ansatz, theta, states, e_loc, weights, real_only=True)
    o_t, e_t = centred_real_rows(log_derivatives(ansatz.log_psi, theta, states), e_loc, weights, real_only=True)
    y = jax.random.normal(jax.random.key(0), e_t.shape, jnp.float64)
    np.testing.assert_allclose(np.asarray(e_f), np.asarray(e_t), atol=1e-12)
    np.testing.assert_allclose(np.asarray(factored.dense()), np.asarray(o_t), atol=1e-12)
    np.testing.assert_allclose(np.asarray(factored.kernel()), np.asarray(o_t @ o_t.T), atol=1e-12)
    np.testing.assert_allclose(np.asarray(factored.rmatvec(y)), np.asarray(o_t.T @ y), atol=1e-12)
    x = jax.random.normal(jax.random.key(1), (o_t.shape[1],), jnp.float64)
    np.testing.assert_allclose(np.asarray(factored.matvec(x)), np.asarray(o_t @ x), atol=1e-12)
    assert factored.n_params == ansatz.n_params


def test_float32_flip_ratios_stay_finite_where_a_product_would_overflow():
    # 64 hidden units with |2W| ~ 3 give factors up to e^3; their product (e^~190) overflows float32,
    # the sum of logs does not.
    spec, ansatz, theta, states = _setup(
        dict(model={"name": "tfim", "J": 1.0, "h": 1.0}, lattice={"kind": "chain", "L": 8}, dtype="float32"), alpha=8, scale=1.5
    )
    sites, active = connected_moves(build_hamiltonian(spec))
    ratios = connected_log_ratios(ansatz, theta, states[:16].astype(jnp.float32), sites, active)
    assert np.all(np.isfinite(np.asarray(ratios)))


def test_chunked_local_energies_equal_one_batch(monkeypatch):
    from nqs_sweep import estimators

    spec, ansatz, theta, states = _setup(CASES["heisenberg-chain8-marshall-real"])
    ham = build_hamiltonian(spec)
    whole = local_energies(ham, ansatz, theta, states)  # 70 states x 8 bonds: one chunk
    monkeypatch.setitem(estimators.MOVES_PER_CHUNK, jax.default_backend(), 24)  # 3 states a chunk, the last one padded
    chunked = local_energies(ham, ansatz, theta, states)
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(whole), rtol=1e-13, atol=1e-13)
