"""The fast kernels against the generic path they replace, on full enumerations.

The RBM's (and the symmetric RBM's) incremental flip ratios, its local energies and its factored Jacobian
must give the numbers of a full forward pass and of jacrev (float64, to 1e-10):
the generic path is itself checked against dense matrices in test_estimators.
"""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.mc.estimators import centred_jacobian, centred_real_rows, local_energies, log_derivatives
from nqs_sweep.mc.jacobian import DenseJacobian
from nqs_sweep.mc.local_updates import connected_log_ratios, flip_context, flip_log_ratio, flipped, init_cache
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import build_hamiltonian, connected_moves
from nqs_sweep.spec import parse_spec

CASES = {
    "tfim-chain8-real": dict(model={"name": "tfim", "J": 1.0, "h": 0.9}, lattice={"kind": "chain", "L": 8}, dtype="float64"),
    "heisenberg-chain8-marshall-real": dict(
        model={"name": "heisenberg"}, lattice={"kind": "chain", "L": 8}, dtype="float64", move="exchange", marshall_sign=True
    ),
    "j1j2-square-complex": dict(
        model={"name": "j1j2", "J1": 1.0, "J2": 0.5}, lattice={"kind": "square", "L": 3, "pbc": False}, dtype="complex128"
    ),
    # the symmetric RBM runs the RBM's kernels on its expanded parameters
    # the short-range RBM runs them on its scattered (sparse) weights
    "rbm_local-heisenberg-chain8-marshall-real": dict(
        model={"name": "heisenberg"},
        lattice={"kind": "chain", "L": 8},
        dtype="float64",
        move="exchange",
        marshall_sign=True,
        ansatz={"name": "rbm_local", "alpha": 2, "range": 2},
    ),
    "rbm_local-tfim-square4-complex": dict(
        model={"name": "tfim", "J": 1.0, "h": 0.9},
        lattice={"kind": "square", "L": 4},
        dtype="complex128",
        ansatz={"name": "rbm_local", "alpha": 1, "range": 1},
    ),
    "rbm_symm-space_group-tfim-square3-complex": dict(
        model={"name": "tfim", "J": 1.0, "h": 1.3},
        lattice={"kind": "square", "L": 3, "pbc": True},
        dtype="complex128",
        ansatz={"name": "rbm_symm", "alpha": 2, "symmetries": "space_group"},
    ),
    "rbm_symm-heisenberg-chain8-real": dict(
        model={"name": "heisenberg"},
        lattice={"kind": "chain", "L": 8},
        dtype="float64",
        move="exchange",
        ansatz={"name": "rbm_symm", "alpha": 2},
    ),  # fmt: skip
    # separate amplitude and phase networks run both networks' kernels
    "rbm-amplitude_phase-j1j2-square": dict(
        model={"name": "j1j2", "J1": 1.0, "J2": 0.5},
        lattice={"kind": "square", "L": 3, "pbc": False},
        dtype="float64",
        ansatz={"name": "rbm", "alpha": 2, "parametrization": "amplitude_phase"},
    ),
    "rbm_symm-amplitude_phase-heisenberg-chain8": dict(
        model={"name": "heisenberg"},
        lattice={"kind": "chain", "L": 8},
        dtype="float64",
        move="exchange",
        ansatz={"name": "rbm_symm", "alpha": 2, "parametrization": "amplitude_phase"},
    ),
}


def _setup(case: dict, alpha: float = 2, scale: float = 0.4):
    spec = parse_spec(
        {
            "model": case["model"],
            "lattice": case["lattice"],
            "ansatz": {**case.get("ansatz", {"name": "rbm", "alpha": alpha}), "dtype": case["dtype"], "init_scale": scale},
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
    # jitted, not op by op (7.1 s -> 5.1 s, rbm_local-tfim-square4-complex)
    fast = jax.jit(lambda th, x: local_energies(ham, ansatz, th, x))(theta, states)  # the Ansatz carries the RBM kernels
    generic = jax.jit(lambda th, x: local_energies(ham, ansatz.log_psi, th, x))(theta, states)  # a bare function: forward passes
    np.testing.assert_allclose(np.asarray(fast), np.asarray(generic), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_flip_ratios_and_caches_equal_the_forward_pass(name):
    spec, ansatz, theta, states = _setup(CASES[name])
    ham = build_hamiltonian(spec)
    sites, active = connected_moves(ham)
    n_single = ham.flip_sites.shape[0]
    first = lambda cache: jax.tree.map(lambda c: c[0], cache)  # noqa: E731 (a cache may be a pytree)

    @jax.jit  # one program, not op by op (12.2 s -> 3.9 s, rbm_local-tfim-square4-complex)
    def passes(theta, states):
        # single flips as moves of one site where the kernel takes them (the local energies' path),
        # and every move as a pair of sites
        ratios = connected_log_ratios(ansatz, theta, flip_context(ansatz, theta), states, sites, active, n_single)
        pairs = connected_log_ratios(ansatz, theta, flip_context(ansatz, theta), states, sites, active)
        s_conn = jax.vmap(lambda s: jax.vmap(flipped, in_axes=(None, 0, 0))(s, sites, active))(states)
        direct = ansatz.log_psi(theta, s_conn) - ansatz.log_psi(theta, states)[:, None]
        context = flip_context(ansatz, theta)
        _, moved = flip_log_ratio(ansatz, context, states[0], first(init_cache(ansatz, theta, states[:1])), sites[-1], active[-1])
        expected = first(init_cache(ansatz, theta, s_conn[0, -1:]))
        return ratios, pairs, direct, moved, expected

    ratios, pairs, direct, moved, expected = passes(theta, states)
    # Compare ratios, not logs: the imaginary part of a complex log is defined modulo 2π.
    np.testing.assert_allclose(np.exp(np.asarray(ratios)), np.exp(np.asarray(direct)), rtol=1e-10)
    np.testing.assert_allclose(np.exp(np.asarray(pairs)), np.exp(np.asarray(direct)), rtol=1e-10)
    # The cache after a move is the cache of the moved configuration (built afresh).
    jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12), moved, expected)


@pytest.mark.parametrize("name", ["tfim-chain8-real", "heisenberg-chain8-marshall-real"])
def test_factored_jacobian_equals_the_dense_centred_rows(name):
    spec, ansatz, theta, states = _setup(CASES[name])
    ham = build_hamiltonian(spec)

    @jax.jit  # one program, not op by op (with the products below: 12.5 s -> 3.3 s, heisenberg)
    def passes(theta, states):
        e_loc = local_energies(ham, ansatz, theta, states)
        lp = 2 * jnp.real(ansatz.log_psi(theta, states))
        weights = jnp.exp(lp - jax.scipy.special.logsumexp(lp))
        factored, e_f = centred_jacobian(ansatz, theta, states, e_loc, weights, real_only=True)
        o_t, e_t = centred_real_rows(log_derivatives(ansatz.log_psi, theta, states), e_loc, weights, real_only=True)
        return factored, e_f, o_t, e_t

    factored, e_f, o_t, e_t = passes(theta, states)
    y = jax.random.normal(jax.random.key(0), e_t.shape, jnp.float64)
    x = jax.random.normal(jax.random.key(1), (o_t.shape[1],), jnp.float64)

    @jax.jit  # the Jacobian's products in one program too
    def products(factored, o_t, y, x):
        return {
            "dense": factored.dense(),
            "kernel": factored.kernel(),
            "shifted": factored.kernel(0.25),
            "dense_shifted": DenseJacobian(o_t).kernel(0.25),
            "upper": factored.kernel(0.25, upper_only=True),
            "rmatvec": factored.rmatvec(y),
            "matvec": factored.matvec(x),
        }

    got = jax.tree.map(np.asarray, products(factored, o_t, y, x))
    np.testing.assert_allclose(np.asarray(e_f), np.asarray(e_t), atol=1e-12)
    np.testing.assert_allclose(got["dense"], np.asarray(o_t), atol=1e-12)
    np.testing.assert_allclose(got["kernel"], np.asarray(o_t @ o_t.T), atol=1e-12)
    shifted = np.asarray(o_t @ o_t.T) + 0.25 * np.eye(o_t.shape[0])
    np.testing.assert_allclose(got["shifted"], shifted, atol=1e-12)
    np.testing.assert_allclose(got["dense_shifted"], shifted, atol=1e-12)
    upper = got["upper"]  # what the Cholesky solve reads
    np.testing.assert_allclose(np.triu(upper), np.triu(shifted), atol=1e-12)
    np.testing.assert_allclose(got["rmatvec"], np.asarray(o_t.T @ y), atol=1e-12)
    np.testing.assert_allclose(got["matvec"], np.asarray(o_t @ x), atol=1e-12)
    assert factored.n_params == ansatz.n_params


def test_float32_flip_ratios_are_finite_and_close_to_float64_with_large_weights():
    # 64 hidden units with |2W| ~ 3 give factors up to e^3: one product over all of them (e^~190)
    # would overflow float32; the blocked product does not.
    case = dict(model={"name": "tfim", "J": 1.0, "h": 1.0}, lattice={"kind": "chain", "L": 8})
    spec32, an32, theta32, states = _setup({**case, "dtype": "float32"}, alpha=8, scale=1.5)
    spec64, an64, _, _ = _setup({**case, "dtype": "float64"}, alpha=8, scale=1.5)
    sites, active = connected_moves(build_hamiltonian(spec32))
    theta64 = theta32.astype(jnp.float64)
    # jitted, not op by op (5.5 s -> 2.8 s)
    r32 = jax.jit(lambda th, x: connected_log_ratios(an32, th, flip_context(an32, th), x, sites, active))(
        theta32, states[:32].astype(jnp.float32)
    )
    r64 = jax.jit(lambda th, x: connected_log_ratios(an64, th, flip_context(an64, th), x, sites, active))(theta64, states[:32])
    assert np.all(np.isfinite(np.asarray(r32)))
    np.testing.assert_allclose(np.asarray(r32.real), np.asarray(r64.real), atol=1e-3 * np.abs(np.asarray(r64.real)).max())


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_64bit_flip_ratios_keep_their_limits_past_the_cache_range(dtype):
    # In 64-bit the cache is e^{-2θ}, which underflows to 0 past θ ~ 354 and overflows to ∞
    # below -354; the ratios must then be those of the forward pass (cosh θ ~ e^{|θ|}/2), not NaN.
    case = dict(model={"name": "tfim", "J": 1.0, "h": 1.0}, lattice={"kind": "chain", "L": 8}, dtype=dtype)
    spec, ansatz, _, states = _setup(case)
    tree = ansatz.to_tree(ansatz.init(jax.random.key(3)))
    # (a complex bias also turns the saturated e^{-2θ} in the complex plane)
    far = np.array([400.0, -400.0]) + (0.7j if dtype == "complex128" else 0)
    tree["b"] = tree["b"].at[:2].set(far)
    theta = ansatz.to_real(jax.flatten_util.ravel_pytree(tree)[0])
    sites, active = connected_moves(build_hamiltonian(spec))

    @jax.jit  # one program, not op by op (5.5 s -> 2.6 s, complex128)
    def passes(theta, states):
        cache = init_cache(ansatz, theta, states)
        ratios = connected_log_ratios(ansatz, theta, flip_context(ansatz, theta), states, sites, active)
        s_conn = jax.vmap(lambda s: jax.vmap(flipped, in_axes=(None, 0, 0))(s, sites, active))(states)
        direct = ansatz.log_psi(theta, s_conn) - ansatz.log_psi(theta, states)[:, None]
        return cache, ratios, direct

    cache, ratios, direct = passes(theta, states)
    assert np.any(np.asarray(cache) == 0) and np.any(np.isinf(np.abs(np.asarray(cache))))
    np.testing.assert_allclose(np.exp(np.asarray(ratios)), np.exp(np.asarray(direct)), rtol=1e-10)


def test_fast_metropolis_draws_the_chains_of_the_forward_pass():
    # Same key, same proposals, same uniforms: the chains agree unless a ratio sits within
    # rounding of its acceptance threshold (probability ~1e-13 per proposal).
    from nqs_sweep.mc.sampler import init_chains, metropolis_sample

    spec, ansatz, theta, _ = _setup(CASES["heisenberg-chain8-marshall-real"])
    ham = build_hamiltonian(spec)
    kwargs = dict(n_per_chain=16, n_discard=4, sweep_size=8, move="exchange", exchange_bonds=ham.exch_bonds)
    chains = init_chains(jax.random.key(5), ansatz, theta, 4, 8, spec.sector, jnp.float64)
    fast, _ = metropolis_sample(ansatz, theta, chains, jax.random.key(6), **kwargs)
    generic, _ = metropolis_sample(ansatz.log_psi, theta, chains, jax.random.key(6), **kwargs)
    np.testing.assert_array_equal(np.asarray(fast.configs), np.asarray(generic.configs))
    assert float(fast.acceptance) == float(generic.acceptance) > 0


def test_chunked_local_energies_equal_one_batch(monkeypatch):
    from nqs_sweep.mc import estimators

    spec, ansatz, theta, states = _setup(CASES["heisenberg-chain8-marshall-real"])
    ham = build_hamiltonian(spec)
    # jitted, not op by op: 2.8 s -> 1.2 s (each traced anew, after the chunk size it reads)
    whole = jax.jit(lambda th, x: local_energies(ham, ansatz, th, x))(theta, states)  # 70 states x 8 bonds: one chunk
    monkeypatch.setitem(estimators.MOVES_PER_CHUNK, jax.default_backend(), 24)  # 3 states a chunk, the last one padded
    chunked = jax.jit(lambda th, x: local_energies(ham, ansatz, th, x))(theta, states)
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(whole), rtol=1e-13, atol=1e-13)


def test_single_flips_reach_only_kernels_that_take_moves_of_one_site():
    """Ansatz.single_flip_kernel: the RBM family's kernel takes a move of any number of sites, and
    the wrappers that call it unchanged keep that; a sign prior, whose sign change reads an
    exchange's two sites, and networks without kernels do not."""
    chain = {"model": {"name": "tfim", "J": 1.0, "h": 1.0}, "lattice": {"kind": "chain", "L": 8}}
    heis = {"model": {"name": "heisenberg"}, "lattice": {"kind": "square", "L": 4}, "sampler": {"move": "exchange"}}
    takes = {
        "rbm": {**chain, "ansatz": {"name": "rbm"}},
        "rbm_symm": {**chain, "ansatz": {"name": "rbm_symm"}},
        "rbm_local": {**chain, "ansatz": {"name": "rbm_local"}},
        "amplitude_phase": {**chain, "ansatz": {"name": "rbm", "parametrization": "amplitude_phase"}},
        "projected": {**chain, "ansatz": {"name": "rbm"}, "symmetry": {"momentum": 0, "project": "train"}},
    }
    refuses = {
        "ffnn": {**chain, "ansatz": {"name": "ffnn"}},
        "sign_prior": {**heis, "ansatz": {"name": "rbm"}, "sign_prior": "z2_spin_liquid"},
    }
    for name, raw in takes.items():
        assert make_ansatz(parse_spec(raw)).single_flip_kernel, name
    for name, raw in refuses.items():
        assert not make_ansatz(parse_spec(raw)).single_flip_kernel, name
