"""The fixed sign structure (models.sign_prior): the Z2 mean-field state it comes from, exact local
energies, energies and gradients with it on the 4×4 lattice, its bound for positive networks
against the Marshall rule's, and the spec's refusals."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import sparse as jsparse
from scipy.sparse.linalg import eigsh

from nqs_sweep.mc.estimators import centred_real_rows, local_energies, log_derivatives
from nqs_sweep.mc.local_updates import flipped
from nqs_sweep.mc.sampler import exact_sample
from nqs_sweep.models import make_ansatz
from nqs_sweep.models.pair_product import log_pair_product
from nqs_sweep.models.sign_prior import (
    exchange_changes_sign,
    negative,
    pair_cache,
    pair_move,
    pairing,
    trainable_pairing,
    z2_pairing,
)
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import sector_matrix, sign_rule_bound
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.spec import SpecError, parse_spec

J1J2 = {"model": {"name": "j1j2", "J1": 1.0, "J2": 0.5}, "lattice": {"kind": "square", "L": 4, "pbc": True}}
PRIOR = {**J1J2, "sampler": {"move": "exchange"}, "sign_prior": "z2_spin_liquid"}


@pytest.fixture(scope="module")
def j1j2_4x4():
    spec = parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}})
    states = hilbert.all_states(16, "zero_magnetization")
    ham = sector_matrix(build_hamiltonian(spec, xp=np), 16, "zero_magnetization").tocsr()
    vals, vecs = eigsh(ham, k=1, which="SA", tol=1e-12)
    return states, ham, vals[0], vecs[:, 0]


@pytest.mark.parametrize("L", [4, 6])
def test_z2_pairing_is_real_symmetric_and_translation_covariant(L):
    """Antiperiodic in y, and in x for L = 0 mod 4 only: a translation by one site maps F onto
    itself up to the boundary's sign on the sites that wrap."""
    f = z2_pairing(L)
    np.testing.assert_allclose(f, f.T, atol=1e-14)
    x, y = Lattice("square", L, True).coords.T
    for shifted, wraps, antiperiodic in (
        (y * L + (x + 1) % L, x == L - 1, L % 4 == 0),
        (((y + 1) % L) * L + x, y == L - 1, True),
    ):
        gauge = np.where(wraps & antiperiodic, -1.0, 1.0)
        np.testing.assert_allclose(f[np.ix_(shifted, shifted)], gauge[:, None] * gauge[None, :] * f, atol=1e-14)
    with pytest.raises(ValueError, match="even L"):
        z2_pairing(5)


def test_projected_z2_state_is_close_to_the_ground_state_and_symmetric(j1j2_4x4):
    """The mean-field state itself is within 2 % of the exact 4×4 energy (a wrong sign convention or
    a singular k point gives tens of percent), and its signs are covariant under the space group, so
    that a symmetric network times σ stays in one sector."""
    states, ham, e0, _ = j1j2_4x4
    amp = np.exp(np.asarray(log_pair_product(jnp.asarray(z2_pairing(4)), jnp.asarray(states, jnp.float64)))).real
    energy = amp @ (ham @ amp) / (amp @ amp)
    assert 0 < (energy - e0) / abs(e0) < 0.02
    basis = hilbert.sector_indices(16, "zero_magnetization")
    large = np.abs(amp) > 1e-8 * np.abs(amp).max()
    for perm in np.asarray(Lattice("square", 4, True).symmetry_group("space_group")):
        image = np.searchsorted(basis, hilbert.states_to_index(states[:, perm]))
        ratio = amp[image][large] / amp[large]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-8)
        assert abs(abs(ratio[0]) - 1) < 1e-8


@pytest.mark.parametrize(
    "ansatz",
    [
        {"name": "rbm_symm", "alpha": 1, "dtype": "float64", "symmetries": "space_group"},  # flip kernels
        pytest.param({"name": "rbm", "alpha": 1, "dtype": "complex128"}, marks=pytest.mark.slow),  # complex
        pytest.param({"name": "ffnn", "alpha": 1, "dtype": "float64", "activation": "tanh"}, marks=pytest.mark.slow),  # generic
    ],
    ids=lambda a: f"{a['name']}-{a['dtype']}",
)
def test_local_energies_energy_and_gradient_match_the_sparse_state_vector(j1j2_4x4, ansatz):
    states, ham, _, _ = j1j2_4x4
    spec = parse_spec({**PRIOR, "ansatz": {**ansatz, "init_scale": 0.2}})
    net = make_ansatz(spec)
    theta = net.init(jax.random.key(5))
    x = jnp.asarray(states, jnp.float64)
    log_psi = np.asarray(jax.jit(net.log_psi)(theta, x))
    # the sign is the pair product's: the network times σ, nothing else
    plain = make_ansatz(parse_spec({**PRIOR, "sign_prior": "none", "ansatz": {**ansatz, "init_scale": 0.2}}))
    sigma = np.where(np.asarray(negative(jnp.asarray(pairing("z2_spin_liquid", Lattice("square", 4, True))), x)), -1.0, 1.0)
    np.testing.assert_allclose(np.exp(log_psi), sigma * np.exp(np.asarray(plain.log_psi(theta, x))), rtol=1e-12)
    assert 0.2 < np.mean(sigma < 0) < 0.8

    assert_exact_estimators(spec, net, theta, x, ham, log_psi)


def test_the_prior_lowers_the_bound_of_positive_networks_below_a_third_of_marshalls(j1j2_4x4):
    """What issue 18 needs of it: on 4×4 J1-J2 at J2 = 0.5 the Marshall rule holds positive networks
    4.49e-3 above the ground state (docs/symmetry.md); with the Z2 signs the bound is below a third of that."""
    _, _, e0, _ = j1j2_4x4
    bound = sign_rule_bound(parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}}))
    assert e0 - 1e-9 <= bound
    assert (bound - e0) / abs(e0) < 4.49e-3 / 3


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"lattice": {"kind": "chain", "L": 16, "pbc": True}}, "periodic square lattice"),
        ({"lattice": {"kind": "square", "L": 4, "pbc": False}}, "periodic square lattice"),
        ({"sampler": {"move": "local"}}, "zero magnetisation"),
        ({"marshall_sign": True}, "marshall_sign: false"),
        ({"ansatz": {"name": "rbm_pp", "alpha": 1}}, "carries its own signs"),
        ({"sign_prior": "d_wave"}, "none, z2_spin_liquid"),
    ],
)
def test_refusals_name_the_field(change, fragment):
    with pytest.raises(SpecError, match=fragment) as err:
        parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}, **change})
    assert err.value.field == "sign_prior"


def test_spec_hash_of_points_without_a_prior_is_unchanged():
    plain = parse_spec({**J1J2, "sampler": {"move": "exchange"}, "ansatz": {"name": "rbm", "alpha": 1}})
    assert "sign_prior" not in plain.to_dict()
    with_prior = parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}})
    assert with_prior.to_dict()["sign_prior"] == "z2_spin_liquid"
    assert with_prior.spec_hash != plain.spec_hash
    assert parse_spec(with_prior.to_raw()) == with_prior


def test_metropolis_chains_do_not_see_the_sign():
    """|ψ|² is the network's: with the same θ and key the chains visit the same configurations with
    and without the prior; the proposals take the network's own flip kernel, without determinants."""
    from nqs_sweep.mc.sampler import init_chains, metropolis_sample

    draws = []
    for prior in ("none", "z2_spin_liquid"):
        spec = parse_spec({**PRIOR, "sign_prior": prior, "ansatz": {"name": "rbm_symm", "alpha": 1, "init_scale": 0.3}})
        net = make_ansatz(spec)
        theta = net.init(jax.random.key(1))
        chains = init_chains(jax.random.key(2), net, theta, 8, 16, "zero_magnetization", jnp.float64)
        bonds = build_hamiltonian(spec).exch_bonds
        sample, _ = metropolis_sample(
            net,
            theta,
            chains,
            jax.random.key(3),
            n_per_chain=16,
            n_discard=4,
            sweep_size=16,
            move="exchange",
            exchange_bonds=bonds,
        )
        draws.append(np.asarray(sample.configs))
        if prior != "none":
            assert net.flip_modulus_ratio_tree is not None and net.flip_modulus_ratio_tree is not net.flip_ratio_tree
    np.testing.assert_array_equal(draws[0], draws[1])


def test_the_tie_break_decides_only_vanishing_pair_products_and_the_ratio_update_is_exact(j1j2_4x4):
    """The prior's F is the mean field's plus a perturbation 1e-7 of its largest element: the signs
    agree wherever the mean-field pair product does not vanish, and every determinant stays regular,
    so the determinant-ratio update of a move equals two direct determinants on every exchange."""
    states, _, _, _ = j1j2_4x4
    lat = Lattice("square", 4, True)
    x = jnp.asarray(states, jnp.float64)
    exact_pp = np.asarray(log_pair_product(jnp.asarray(z2_pairing(4)), x))
    f = jnp.asarray(pairing("z2_spin_liquid", lat))
    vanishing = exact_pp.real < exact_pp.real.max() - 25  # below e^-25 of the largest: zero by symmetry
    assert 0 < vanishing.sum() < 0.05 * len(states)
    np.testing.assert_array_equal(np.asarray(negative(f, x))[~vanishing], (np.cos(exact_pp.imag) < 0)[~vanishing])

    bonds = jnp.asarray(np.concatenate([lat.nn_bonds, lat.nnn_bonds, lat.nn_bonds[:, ::-1]]))
    pairs = jnp.ones(bonds.shape, bool)
    single = jnp.asarray([[True, False]] * len(bonds))  # a single flip: σ is left as it is

    def per_state(s, active):
        fast = jax.vmap(lambda b, a: exchange_changes_sign(f, s, b, a))(bonds, active)
        direct = jax.vmap(lambda b, a: negative(f, s) != negative(f, flipped(s, b, a)))(bonds, active)
        return fast, direct

    fast, direct = (np.asarray(a) for a in jax.jit(jax.vmap(per_state, in_axes=(0, None)))(x, pairs))
    # flipping two equal spins is no exchange (it leaves the sector; its matrix elements are zero)
    opposite = np.asarray(x[:, bonds[:, 0]] != x[:, bonds[:, 1]])
    np.testing.assert_array_equal(fast[opposite], direct[opposite])
    assert fast[opposite].any() and not fast[~opposite].any()
    fast, _ = jax.jit(jax.vmap(per_state, in_axes=(0, None)))(x, single)
    assert not np.asarray(fast).any()


# The trained pair product (sign_prior: z2_pair_product): the Z2 state's pairing F is a parameter.
TRAINED = {**PRIOR, "sign_prior": "z2_pair_product"}


@pytest.mark.parametrize(
    "ansatz",
    [
        {"name": "rbm_symm", "alpha": 1, "dtype": "float64", "symmetries": "space_group"},  # flip kernels
        pytest.param({"name": "gcnn", "alpha": 1, "layers": 2, "dtype": "complex128"}, marks=pytest.mark.slow),  # generic
    ],
    ids=lambda a: f"{a['name']}-{a['dtype']}",
)
def test_trained_pair_product_is_the_network_times_the_pair_product_with_exact_estimators(j1j2_4x4, ansatz):
    """ψ = ⟨s|PP(F)⟩ ψ_net with F a parameter: at the start F is the Z2 pairing (so ψ is the network
    times the mean-field state), F has its own N² gradient components, and the local energies and
    the energy's gradient in every parameter equal the sparse state vector's, after F has moved off
    its start so that its signs differ from the fixed prior's."""
    states, ham, _, _ = j1j2_4x4
    spec = parse_spec({**TRAINED, "ansatz": {**ansatz, "init_scale": 0.2}})
    net = make_ansatz(spec)
    plain = make_ansatz(parse_spec({**TRAINED, "sign_prior": "none", "ansatz": {**ansatz, "init_scale": 0.2}}))
    assert net.n_params == plain.n_params + 16 * 16
    theta = net.init(jax.random.key(5))
    x = jnp.asarray(states, jnp.float64)
    tree = net.to_tree(theta)
    f0 = np.asarray(tree["pairing"])
    np.testing.assert_allclose(f0, z2_pairing(4) / np.abs(z2_pairing(4)).max(), atol=1e-6)  # and the tie-break
    expected = np.asarray(plain.log_psi(plain.to_real(ravel(tree["net"])), x)) + np.asarray(log_pair_product(tree["pairing"], x))
    np.testing.assert_allclose(np.exp(np.asarray(net.log_psi(theta, x))), np.exp(expected), rtol=1e-10)

    moved = jax.tree.map(lambda a: a, tree)
    noise = jax.random.normal(jax.random.key(7), f0.shape, f0.dtype)
    moved["pairing"] = tree["pairing"] + 0.3 * noise.astype(tree["pairing"].dtype)
    theta = net.to_real(ravel(moved))
    log_psi = np.asarray(jax.jit(net.log_psi)(theta, x))
    fixed = np.asarray(negative(jnp.asarray(pairing("z2_spin_liquid", Lattice("square", 4, True))), x))
    net_phase = np.asarray(plain.log_psi(plain.to_real(ravel(moved["net"])), x)).imag
    assert np.mean((np.cos(log_psi.imag - net_phase) < 0) != fixed) > 0.01

    reference = assert_exact_estimators(spec, net, theta, x, ham, log_psi)
    assert np.abs(reference[-256:]).max() > 1e-3 * np.abs(reference).max()  # F's own components


def test_trained_pair_product_flip_ratio_equals_two_evaluations(j1j2_4x4):
    """The Metropolis kernels of the trained pair product: the network's ratio plus the
    determinant ratio, equal to two direct evaluations on every nearest and next-nearest exchange
    of 200 configurations, in modulus (what an acceptance reads) and in full."""
    states, _, _, _ = j1j2_4x4
    spec = parse_spec({**TRAINED, "ansatz": {"name": "rbm_symm", "alpha": 1, "symmetries": "space_group", "init_scale": 0.2}})
    net = make_ansatz(spec)
    theta = net.init(jax.random.key(3))
    tree = net.to_tree(theta)
    tree["pairing"] = tree["pairing"] + 0.3 * jax.random.normal(jax.random.key(4), tree["pairing"].shape)
    theta = net.to_real(ravel(tree))
    tables = net.flip_tables_tree(tree)
    x = jnp.asarray(states[:: len(states) // 200][:200], jnp.float64)
    lat = Lattice("square", 4, True)
    bonds = jnp.asarray(np.concatenate([lat.nn_bonds, lat.nnn_bonds]))
    active = jnp.ones(bonds.shape, bool)

    def per_state(s, c):
        full = jax.vmap(lambda b, a: net.flip_ratio_tree(tables, s, c, b, a)[0])(bonds, active)
        modulus = jax.vmap(lambda b, a: net.flip_modulus_ratio_tree(tables, s, c, b, a)[0])(bonds, active)
        direct = jax.vmap(lambda b, a: net.log_psi(theta, flipped(s, b, a)) - net.log_psi(theta, s))(bonds, active)
        return full, modulus, direct

    full, modulus, direct = (np.asarray(a) for a in jax.jit(jax.vmap(per_state))(x, net.cache_tree(tree, x)))
    opposite = np.asarray(x[:, bonds[:, 0]] != x[:, bonds[:, 1]])
    np.testing.assert_allclose(np.exp(full[opposite]), np.exp(direct[opposite]), rtol=1e-9)
    np.testing.assert_allclose(modulus.real[opposite], direct.real[opposite], atol=1e-9)
    assert np.any(np.cos(direct[opposite].imag) < 0)  # some moves change the sign


def test_the_cached_inverse_follows_a_chain_of_exchanges():
    """pair_move along 600 exchanges, each applied to the configuration and the cache, rebuilt every
    64 moves as the sampler's sweeps do (``refresh_cache_tree``): every ratio equals two direct
    determinants, equal-spin swaps leave both alone, and the cache at the end (its slots out of
    site order) holds the inverse of its own A = F[ups, downs]. The updates' rounding builds up
    between rebuilds (1.6e-8 relative at worst here; without rebuilds 4e-7 after 300 moves from
    the start F, whose near-singular pair matrices the chain passes through when every move is
    taken). That is only the Metropolis acceptance's: the local energies build fresh caches."""
    lat = Lattice("square", 4, True)
    f = jnp.asarray(trainable_pairing(lat)) + 0.3 * jax.random.normal(jax.random.key(0), (16, 16), jnp.float64)
    bonds = np.concatenate([lat.nn_bonds, lat.nnn_bonds])
    rng = np.random.default_rng(1)
    s = jnp.asarray(rng.permutation(np.repeat([1.0, -1.0], 8)))
    cache = jax.tree.map(lambda a: a[0], pair_cache(f, s[None]))
    move = jax.jit(lambda s, c, b: pair_move(f, s, c, b, jnp.ones(2, bool)))
    log_pp = jax.jit(lambda s: log_pair_product(f, s[None])[0])
    same = exchanged = 0
    for k, bond in enumerate(rng.integers(0, len(bonds), 600)):
        if k % 64 == 0:
            cache = jax.tree.map(lambda a: a[0], pair_cache(f, s[None]))
        sites = jnp.asarray(bonds[bond])
        log_ratio, new = move(s, cache, sites)
        moved = flipped(s, sites, jnp.asarray([s[sites[0]] != s[sites[1]]] * 2))
        if s[sites[0]] == s[sites[1]]:
            same += 1
            assert log_ratio == 0
            jax.tree.map(np.testing.assert_array_equal, new, cache)
        else:
            exchanged += 1
            np.testing.assert_allclose(np.exp(log_ratio), np.exp(log_pp(moved) - log_pp(s)), rtol=1e-7)
        s, cache = moved, new
    assert same > 50 and exchanged > 300
    ups, downs, slot, inverse = (np.asarray(a) for a in cache)
    assert set(ups) == set(np.flatnonzero(np.asarray(s) > 0)) and set(downs) == set(np.flatnonzero(np.asarray(s) < 0))
    assert np.any(np.diff(ups) < 0) or np.any(np.diff(downs) < 0)  # no longer in site order
    np.testing.assert_array_equal(slot[ups], np.arange(8))
    np.testing.assert_array_equal(slot[downs], np.arange(8))
    np.testing.assert_allclose(inverse @ np.asarray(f)[np.ix_(ups, downs)], np.eye(8), atol=1e-9)


def test_trained_pair_product_on_the_plain_rbm_keeps_a_factored_jacobian(j1j2_4x4):
    """With the plain RBM, the Jacobian stays factored (the RBM's Kronecker blocks, F's rows as a
    dense block) and equals the reverse pass's centred rows."""
    from nqs_sweep.mc.estimators import centred_jacobian
    from nqs_sweep.mc.jacobian import FactoredJacobian

    states, _, _, _ = j1j2_4x4
    net = make_ansatz(parse_spec({**TRAINED, "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64", "init_scale": 0.2}}))
    theta = net.init(jax.random.key(2))
    x = jnp.asarray(states[::50], jnp.float64)
    weights = jnp.full(x.shape[0], 1.0 / x.shape[0])
    e_loc = jax.random.normal(jax.random.key(3), (x.shape[0],), jnp.float64)
    jac, e_t = centred_jacobian(net, theta, x, e_loc, weights, real_only=True)
    assert isinstance(jac, FactoredJacobian)
    reverse = jax.vmap(jax.grad(lambda th, c: net.log_psi(th, c[None])[0].real), in_axes=(None, 0))(theta, x)
    dense, _ = centred_real_rows(reverse.astype(jnp.complex128), e_loc, weights, real_only=True)
    np.testing.assert_allclose(np.asarray(jac.dense()), np.asarray(dense), atol=1e-10)


def test_trained_pair_product_is_refused_where_the_fixed_prior_is():
    with pytest.raises(SpecError, match="marshall_sign: false") as err:
        parse_spec({**TRAINED, "marshall_sign": True, "ansatz": {"name": "rbm", "alpha": 1}})
    assert err.value.field == "sign_prior"
    with pytest.raises(SpecError, match="z2_spin_liquid, z2_pair_product"):
        parse_spec({**PRIOR, "sign_prior": "pp", "ansatz": {"name": "rbm", "alpha": 1}})
    trained = parse_spec({**TRAINED, "ansatz": {"name": "rbm", "alpha": 1}})
    assert trained.spec_hash != parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}}).spec_hash
    # direct samples of an autoregressive network do not see the determinant's |⟨s|PP⟩|²
    with pytest.raises(SpecError, match="direct samples") as err:
        parse_spec(
            {**TRAINED, "hilbert": {"sector": "zero_magnetization"}, "sampler": {"kind": "direct"}, "ansatz": {"name": "arnn"}}
        )
    assert err.value.field == "sign_prior"
    # trained signs have no sign-rule bound, and the fixed prior's pairing is not its F
    with pytest.raises(SpecError, match="fixed sign") as err:
        sign_rule_bound(trained)
    assert err.value.field == "sign_prior"
    with pytest.raises(ValueError, match="not a fixed sign prior"):
        pairing("z2_pair_product", Lattice("square", 4, True))


def ravel(tree):
    return jax.flatten_util.ravel_pytree(tree)[0]


def test_a_projected_trained_pair_product_sums_the_pair_product_over_the_networks_group(j1j2_4x4):
    """Once F leaves its start, a space-group-symmetric network times the pair product is not
    symmetric. Projected, the pair product alone is summed over the network's 128 elements and the
    product over the 2 spin-flip cosets: the state equals the whole-group projection of the
    unprojected product (256 terms, each a network), and its local energies, log-derivatives and
    flip kernels are exact. Unprojected with a sector named, the spec is refused."""
    from nqs_sweep.models.projection import plan, project
    from nqs_sweep.physics.symmetry import build_group

    states, ham, _, _ = j1j2_4x4
    sym = {"momentum": [0, 0], "point_group": "A1", "spin_flip": 1, "project": "train"}
    ansatz = {"name": "rbm_symm", "alpha": 1, "symmetries": "space_group", "dtype": "float64", "init_scale": 0.2}
    spec = parse_spec({**TRAINED, "ansatz": ansatz, "symmetry": sym})
    assert len(plan(spec).cosets) == 2 and len(plan(spec).pair_product_group) == 128
    assert len(plan(parse_spec({**PRIOR, "sign_prior": "none", "ansatz": ansatz, "symmetry": sym})).cosets) == 2
    assert plan(parse_spec({**TRAINED, "ansatz": ansatz})).cosets is None
    with pytest.raises(SpecError, match="project: train"):
        plan(parse_spec({**TRAINED, "ansatz": ansatz, "symmetry": {**sym, "project": "none"}}))

    net, plain = make_ansatz(spec), make_ansatz(parse_spec({**TRAINED, "ansatz": ansatz}))
    tree = plain.to_tree(plain.init(jax.random.key(1)))
    tree["pairing"] = tree["pairing"] + 0.3 * jax.random.normal(jax.random.key(2), tree["pairing"].shape)
    theta = net.to_real(ravel(tree))
    x = jnp.asarray(states, jnp.float64)
    log_psi = np.asarray(jax.jit(net.log_psi)(theta, x))
    # the whole-group projection (256 network passes a configuration) on every 13th configuration,
    # not all 12 870 (with the passes below jitted: the test 50.1 s -> 29.2 s, one run each)
    every = slice(None, None, 13)
    whole = project(plain.log_psi, build_group(spec.lattice.build(), spec.symmetry.sector))
    ratio = np.exp(log_psi[every] - np.asarray(jax.jit(whole)(theta, x[every])))
    assert len(ratio) == 990
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)

    # on 50 configurations (all 12 870 take minutes): the local energies against the state vector,
    # the closed-form derivatives against reverse passes, the flip kernels against two evaluations
    pick = np.arange(0, len(x), len(x) // 50)[:50]
    some = x[pick]
    psi = np.exp(log_psi - log_psi.real.max())
    e_loc = np.asarray(jax.jit(lambda th, s: local_energies(build_hamiltonian(spec), net, th, s))(theta, some))
    np.testing.assert_allclose(e_loc, (ham @ psi)[pick] / psi[pick], rtol=1e-9, atol=1e-9)
    closed = np.asarray(jax.jit(lambda th, s: log_derivatives(net, th, s))(theta, some))
    reverse = jax.jit(jax.vmap(jax.grad(lambda th, c: net.log_psi(th, c[None])[0].real), in_axes=(None, 0)))(theta, some)
    np.testing.assert_allclose(closed.real, np.asarray(reverse), rtol=1e-9, atol=1e-10)
    assert np.abs(closed[:, -256:]).max() > 1e-3  # F's own columns

    lat = Lattice("square", 4, True)
    bonds = jnp.asarray(np.concatenate([lat.nn_bonds, lat.nnn_bonds]))
    active = jnp.ones(bonds.shape, bool)

    @jax.jit  # tables, caches and kernels in one program: op by op, each compiled on its own
    def kernels(theta, some):
        tree = net.to_tree(theta)
        tables = net.flip_tables_tree(tree)

        def per_state(s, c):
            fast = jax.vmap(lambda b, a: net.flip_ratio_tree(tables, s, c, b, a)[0])(bonds, active)
            direct = jax.vmap(lambda b, a: net.log_psi(theta, flipped(s, b, a)) - net.log_psi(theta, s))(bonds, active)
            return fast, direct

        return jax.vmap(per_state)(some, net.cache_tree(tree, some))

    fast, direct = (np.asarray(a) for a in kernels(theta, some))
    opposite = np.asarray(some[:, bonds[:, 0]] != some[:, bonds[:, 1]])
    np.testing.assert_allclose(np.exp(fast[opposite]), np.exp(direct[opposite]), rtol=1e-9)


@pytest.mark.slow
def test_the_trained_pair_product_learns_signs_the_fixed_prior_gets_wrong(tmp_path, j1j2_4x4):
    """The point of training F: after a short Metropolis run (symmetric RBM α = 4, 150 SR steps)
    the state's own signs admit a lower energy than the Z2 prior's. Measured on all 12 870
    configurations: the best positive amplitudes times the state's signs (sign_rule_bound's
    minimisation, here on the state's signs) are below half of the fixed prior's bound (6.2e-4)."""
    from scipy.optimize import minimize

    import nqs_sweep

    states, ham, e0, _ = j1j2_4x4
    raw = {
        **TRAINED,
        "ansatz": {"name": "rbm_symm", "alpha": 4, "symmetries": "space_group", "dtype": "float64"},
        "sampler": {"move": "exchange", "n_samples": 1024, "n_chains": 64, "n_discard": 16, "sweep_size": 64, "power": 1},
        "optimizer": {
            "kind": "sr",
            "learning_rate": {"schedule": "exponential", "init": 0.02, "end": 0.004},
            "diag_shift": 0.005,
            "n_iter": 150,
            "warmup": 20,
            "trust_radius": 0.03,
        },
        "seed": 0,
    }
    result = nqs_sweep.run(raw, tmp_path / "run", exact=e0)
    net = make_ansatz(parse_spec(raw))
    theta = jnp.asarray(result.theta)
    log_psi = np.asarray(jax.jit(net.log_psi)(theta, jnp.asarray(states, jnp.float64)))
    signs = np.where(np.cos(log_psi.imag) < 0, -1.0, 1.0)
    signed = (ham.multiply(signs[:, None]).multiply(signs[None, :])).tocsr()

    def quotient(a):
        ha = signed @ a
        e = a @ ha / (a @ a)
        return e, 2 * (ha - e * a) / (a @ a)

    amp = np.exp(log_psi.real - log_psi.real.max())
    best = minimize(quotient, amp, jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(amp), options={"maxiter": 20_000})
    fixed = sign_rule_bound(parse_spec({**PRIOR, "ansatz": {"name": "rbm", "alpha": 1}}))
    print(f"sign bound of the trained state {(best.fun - e0) / abs(e0):.2e}, of the Z2 prior {(fixed - e0) / abs(e0):.2e}")
    assert e0 - 1e-9 <= best.fun < e0 + 0.5 * (fixed - e0)


def test_the_4x4_point_file_is_the_sota_study_point():
    """config/j1j2_4x4.yaml (the command of docs/symmetry.md) and the study line that carries the
    same run are one spec: the same hash, so the workflow and the one-line command share results."""
    import yaml

    from nqs_sweep.study import expand_study

    root = __import__("pathlib").Path(__file__).parents[1]
    point = parse_spec(yaml.safe_load((root / "config" / "j1j2_4x4.yaml").read_text()))
    assert point.sign_prior == "z2_pair_product"
    study = expand_study(yaml.safe_load((root / "config" / "studies" / "sota.yaml").read_text()))
    assert point.spec_hash in {p.spec.spec_hash for p in study.points}


def assert_exact_estimators(spec, net, theta, x, ham, log_psi):
    """Local energies and the energy's gradient from the estimators equal the sparse state vector's
    on all configurations x; returns the reference gradient."""
    psi = np.exp(log_psi - log_psi.real.max())
    e_loc = np.asarray(jax.jit(lambda th, s: local_energies(build_hamiltonian(spec), net, th, s))(theta, x))
    np.testing.assert_allclose(e_loc, (ham @ psi) / psi, rtol=1e-9, atol=1e-9)
    sample = exact_sample(net.log_psi, theta, x)
    o = jax.jit(lambda th, s: log_derivatives(net, th, s))(theta, x)
    o_t, e_t = centred_real_rows(o, jnp.asarray(e_loc), sample.weights)
    gradient = 2 * np.asarray(o_t.T @ e_t)
    h = jsparse.BCOO.from_scipy_sparse(ham)

    def energy(th):
        lp = net.log_psi(th, x)
        v = jnp.exp(lp - jax.lax.stop_gradient(jnp.max(lp.real)))
        return jnp.real(jnp.vdot(v, h @ v)) / jnp.real(jnp.vdot(v, v))

    reference = np.asarray(jax.jit(jax.grad(energy))(theta))
    np.testing.assert_allclose(gradient, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())
    return reference
