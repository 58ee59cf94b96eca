"""Issue 5 ansatze: the space group, symmetric networks' invariance, deep networks, spec fields.

Exactness against dense references (log ψ, local energies, gradient, QGT) is in
test_estimators.py; here: the space group is a group of lattice automorphisms, every
symmetric ansatz is invariant under every element of its group, the QGT rank of an RBM
with a duplicated hidden unit drops by exactly one unit's parameters, and bad ansatz
fields are refused by name.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.mc.estimators import centred_real_rows, log_derivatives
from nqs_sweep.mc.sampler import exact_sample
from nqs_sweep.models import make_ansatz
from nqs_sweep.optim.qgt import qgt_spectrum, ranks
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.lattice import Lattice, group_tables
from nqs_sweep.spec import SpecError, parse_spec

TFIM = {"name": "tfim", "J": 1.0, "h": 1.0}
# spec_of({"name": "rbm", "alpha": 1}, "chain", 6).spec_hash, computed at commit 3d0aa39
BASE_HASH = "f97d16e162a672a2"


def spec_of(ansatz: dict, kind: str = "square", L: int = 3, pbc: bool = True, **extra):
    return parse_spec({"model": TFIM, "lattice": {"kind": kind, "L": L, "pbc": pbc}, "ansatz": ansatz, **extra})


def bond_set(bonds):
    return {tuple(sorted(b)) for b in np.asarray(bonds).tolist()}


# --- the space group ---------------------------------------------------------------


@pytest.mark.parametrize(
    "lattice,size",
    [
        pytest.param(Lattice("square", 3, True), 72, id="square-L3-pbc"),
        pytest.param(Lattice("square", 4, True), 128, id="square-L4-pbc"),
        pytest.param(Lattice("square", 5, True), 200, id="square-L5-pbc"),
        pytest.param(Lattice("square", 2, True), 8, id="square-L2-pbc"),  # L=2: rotations coincide with translations
        pytest.param(Lattice("square", 3, False), 8, id="square-L3-open"),
        pytest.param(Lattice("square", 4, False), 8, id="square-L4-open"),
        pytest.param(Lattice("chain", 6, True), 12, id="chain-L6-pbc"),
        pytest.param(Lattice("chain", 5, True), 10, id="chain-L5-pbc"),
        pytest.param(Lattice("chain", 5, False), 2, id="chain-L5-open"),
    ],
)
def test_space_group_is_a_group_of_lattice_automorphisms(lattice, size):
    """Valid distinct permutations, identity first, closed under composition and inverses,
    8 L^2 elements on the periodic L x L square (L >= 3), 2 L on the periodic chain, the
    translations a subgroup, and nn (and nnn) bonds mapped onto nn (and nnn) bonds."""
    G = lattice.space_group
    n = lattice.n_sites
    assert G.shape == (size, n)
    assert all(sorted(row) == list(range(n)) for row in G.tolist())
    elements = {tuple(row) for row in G.tolist()}
    assert len(elements) == size
    assert tuple(G[0]) == tuple(range(n))
    for a, b in itertools.product(G, G):  # composition of the two relabellings, as in (T_a T_b s) = s[b[a]]
        assert tuple(b[a]) in elements
    for g in G:
        assert tuple(np.argsort(g)) in elements
    assert {tuple(t) for t in lattice.translations.tolist()} <= elements
    for bonds in (lattice.nn_bonds, lattice.nnn_bonds):
        for g in G:
            assert bond_set(g[np.asarray(bonds)]) == bond_set(bonds)
    product, inverse = group_tables(G)
    for a, b in itertools.product(range(0, size, max(1, size // 12)), repeat=2):
        np.testing.assert_array_equal(G[product[a, b]], G[b][G[a]])
    assert np.all(product[np.arange(size), inverse] == 0)


def test_group_tables_refuse_a_set_that_is_not_a_group():
    G = Lattice("square", 3, True).space_group
    with pytest.raises(ValueError, match="closed"):
        group_tables(G[:5])


# --- invariance --------------------------------------------------------------------

# (rbm_symm with translations: test_estimators.py::test_symmetric_rbm_is_translation_invariant)
SYMMETRIC_CASES = [
    pytest.param({"name": "rbm_symm", "alpha": 2, "symmetries": "space_group"}, "chain", 8, id="rbm_symm-space_group-chain8"),
    pytest.param({"name": "rbm_symm", "alpha": 1, "symmetries": "space_group"}, "square", 3, id="rbm_symm-space_group-square3"),
    pytest.param({"name": "gcnn", "features": [3, 2], "layers": 2}, "chain", 8, id="gcnn-translations-chain8"),
    pytest.param({"name": "gcnn", "alpha": 2, "layers": 3, "symmetries": "space_group"}, "square", 3, id="gcnn-sg-square3"),
    pytest.param(
        {"name": "gcnn", "alpha": 2, "layers": 2, "symmetries": "space_group", "dtype": "float64", "activation": "tanh"},
        "square",
        4,
        id="gcnn-space_group-tanh-real-square4",
    ),
    pytest.param({"name": "resnet", "features": 3, "layers": 2}, "chain", 8, id="resnet-chain8"),
    pytest.param(
        {"name": "resnet", "features": 2, "layers": 2, "kernel": 5, "dtype": "float64"}, "square", 6, id="resnet-k5-square6"
    ),
    pytest.param({"name": "vit", "features": 4, "layers": 2, "heads": 2, "patch": 3}, "chain", 8, id="vit-chain8"),
    pytest.param({"name": "vit", "features": 4, "layers": 2, "dtype": "float64"}, "square", 4, id="vit-square4"),
]


def random_configs(key, batch, n):
    return jnp.where(jax.random.bernoulli(key, 0.5, (batch, n)), 1.0, -1.0)


@pytest.mark.parametrize("ansatz,kind,L", SYMMETRIC_CASES)
def test_symmetric_ansatz_is_invariant_under_every_group_element(ansatz, kind, L):
    spec = spec_of(ansatz, kind, L)
    lat = Lattice(kind, L, True)
    group = lat.symmetry_group(spec.ansatz.symmetries)
    net = make_ansatz(spec)
    theta = 0.3 * jax.random.normal(jax.random.key(1), (net.n_real_params,), net.real_dtype)
    s = random_configs(jax.random.key(2), 6, lat.n_sites)
    images = s[:, group].transpose(1, 0, 2).reshape(-1, lat.n_sites)  # every element's image of every config
    log_psi = jax.jit(net.log_psi)
    base = np.asarray(log_psi(theta, s))
    moved = np.asarray(log_psi(theta, images)).reshape(len(group), -1)
    assert np.abs(base.real).max() > 1  # parameters far enough from zero that a broken symmetry would show
    # log ψ is defined mod 2πi: compare exp of the difference
    np.testing.assert_allclose(np.exp(moved - base), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "ansatz,L",
    [
        pytest.param({"name": "gcnn", "alpha": 2, "layers": 2}, 3, id="gcnn-translations"),
        pytest.param({"name": "resnet", "features": 2, "layers": 1}, 4, id="resnet"),
        pytest.param({"name": "vit", "features": 2, "layers": 1, "heads": 1}, 4, id="vit"),
    ],
)
def test_translation_only_networks_are_not_reflection_invariant(ansatz, L):
    """The check above has teeth: a network over translations only (a gcnn with symmetries:
    translations, the residual network) changes ψ under a reflection of the square."""
    net = make_ansatz(spec_of(ansatz, "square", L))
    theta = 0.3 * jax.random.normal(jax.random.key(1), (net.n_real_params,))
    s = random_configs(jax.random.key(2), 6, L * L)
    mirror = Lattice("square", L, True).point_group[4]
    log_psi = jax.jit(net.log_psi)  # one program, not op by op
    diff = np.asarray(log_psi(theta, s[:, mirror]) - log_psi(theta, s))
    assert np.abs(np.exp(diff) - 1).max() > 1e-3


@pytest.mark.parametrize("name", ["resnet", "vit"])
def test_residual_networks_start_nearly_uniform_however_deep(name):
    """Residual blocks start near the identity and the readout at init_scale: log ψ varies by little
    over configurations at any depth, so the first samples are nearly uniform."""
    for layers in (1, 8):
        net = make_ansatz(spec_of({"name": name, "features": 4, "layers": layers, "dtype": "float64"}, "square", 4))
        # jitted, not op by op (eight layers)
        log_psi = np.asarray(jax.jit(net.log_psi)(net.init(jax.random.key(0)), random_configs(jax.random.key(1), 64, 16)))
        assert np.ptp(log_psi.real) < 0.1


@pytest.mark.parametrize("ansatz", [{"name": "rbm", "alpha": 2}, {"name": "vit", "features": 4, "layers": 2, "dtype": "float64"}])
def test_log_psi_called_from_python_is_one_compiled_program(ansatz):
    """ansatz.log_psi outside any trace (a notebook, an analysis) runs one program, compiled once
    per shape, not its network op by op (one small program per operation: seconds for a deep one)."""
    net = make_ansatz(spec_of(ansatz, "square", 4))
    theta = net.init(jax.random.key(0))
    s = random_configs(jax.random.key(1), 5, 16)
    (eqn,) = jax.make_jaxpr(net.log_psi)(theta, s).eqns
    assert eqn.primitive.name in ("pjit", "jit")
    # the same values as the network's own pass on its parameter tree
    direct = net.log_psi_tree(net.to_tree(theta), s)
    np.testing.assert_allclose(np.asarray(net.log_psi(theta, s)), np.asarray(direct), rtol=1e-12, atol=1e-12)


def test_an_ansatz_whose_log_psi_ran_is_freed_with_its_compiled_program():
    """The compiled log ψ belongs to its ansatz: a process that builds many (a sweep in one Python
    session, the test suite) does not keep every one alive in a module-level cache."""
    import gc
    import weakref

    net = make_ansatz(spec_of({"name": "rbm", "alpha": 1}, "square", 3))
    theta = net.init(jax.random.key(0))
    net.log_psi(theta, random_configs(jax.random.key(1), 3, 9))  # from Python
    traced = lambda a: jax.jit(lambda th, x: a.log_psi(th, x).real.sum())(theta, random_configs(jax.random.key(2), 3, 9))  # noqa: E731
    traced(net)  # inside a traced program
    alive = weakref.ref(net)
    del net
    gc.collect()
    assert alive() is None


def test_parameter_counts():
    """The documented counts: rbm_symm 1 + F (N + 1); gcnn F_1 (N + 1) + Σ F_l (F_{l-1} |G| + 1); ffnn per layer."""
    n, G = 16, 128  # 4 x 4 periodic square, space group
    count = lambda a: make_ansatz(spec_of(a, "square", 4)).n_params  # noqa: E731
    assert count({"name": "rbm_symm", "alpha": 4, "symmetries": "space_group"}) == 1 + 4 * (n + 1)
    assert count({"name": "gcnn", "alpha": 4, "layers": 1, "symmetries": "space_group"}) == 4 * (n + 1)
    assert count({"name": "gcnn", "features": [4, 4], "layers": 2, "symmetries": "space_group"}) == 4 * (n + 1) + 4 * (4 * G + 1)
    assert count({"name": "ffnn", "alpha": 1, "layers": 3}) == 2 * (n * n + n) + (n * n + 2 * n)
    # resnet: k^d F + F + layers 2 (k^d F^2 + F) + F
    assert count({"name": "resnet", "features": 4, "layers": 3, "kernel": 3}) == 9 * 4 + 4 + 3 * 2 * (9 * 16 + 4) + 4
    # vit: b^d F + F + layers (6 F^2 + 8 F + H N) + F^2 + F
    f, h, b = 8, 2, 2
    assert count({"name": "vit", "features": f, "layers": 3, "heads": h, "patch": b}) == (
        b**2 * f + f + 3 * (6 * f * f + 8 * f + h * n) + f * f + f
    )


def test_gcnn_with_one_layer_is_the_symmetrised_product_of_cosh():
    """ψ(s) = Σ_g Π_f cosh(W_f·T_g s + b_f): the first layer with log cosh, summed over the group."""
    spec = spec_of({"name": "gcnn", "alpha": 3, "symmetries": "space_group"}, "square", 3)
    net = make_ansatz(spec)
    theta = 0.2 * jax.random.normal(jax.random.key(3), (net.n_real_params,))
    layer = net.to_tree(theta)["layers"][0]
    W, b = np.asarray(layer["W"]), np.asarray(layer["b"])
    s = np.asarray(random_configs(jax.random.key(4), 5, 9))
    psi = sum(np.prod(np.cosh(s[:, g] @ W.T + b), axis=-1) for g in Lattice("square", 3, True).space_group)
    np.testing.assert_allclose(np.exp(np.asarray(jax.jit(net.log_psi)(theta, jnp.asarray(s)))), psi, rtol=1e-12)


def test_gcnn_derivatives_match_finite_differences():
    """The group convolution has its own derivative rule (custom_jvp, for memory): reverse and
    forward mode agree with central differences of log ψ, which use no derivative code."""
    spec = spec_of({"name": "gcnn", "features": [2, 2, 1], "layers": 3, "symmetries": "space_group"}, "chain", 6)
    net = make_ansatz(spec)
    theta = 0.3 * jax.random.normal(jax.random.key(6), (net.n_real_params,))
    s = random_configs(jax.random.key(7), 4, 6)
    h = 1e-5
    shifts = h * jnp.eye(net.n_real_params)

    @jax.jit
    def derivatives(theta):
        lp = jax.vmap(net.log_psi, in_axes=(0, None))
        fd = (lp(theta + shifts, s) - lp(theta - shifts, s)).T / (2 * h)  # (B, P)
        re_im = lambda th: jnp.stack([net.log_psi(th, s).real, net.log_psi(th, s).imag])  # noqa: E731
        fwd = jax.jacfwd(re_im)(theta)
        return fd, log_derivatives(net.log_psi, theta, s), fwd[0] + 1j * fwd[1]

    fd, rev, fwd = map(np.asarray, derivatives(theta))
    np.testing.assert_allclose(rev, fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-13)


# --- the QGT rank of a known-degenerate network -----------------------------------------


@pytest.mark.parametrize("dtype,real_per_param", [("float64", 1), ("complex128", 2)])
def test_duplicated_hidden_unit_lowers_the_qgt_rank_by_one_unit(dtype, real_per_param):
    """Two hidden units with the same b and W row have identical log-derivatives, so the
    (exact) QGT loses exactly the N + 1 directions of one unit (2 (N + 1) real ones for a
    holomorphic complex RBM), against a generic RBM of the same size whose QGT has full rank."""
    n, m = 6, 3
    spec = spec_of({"name": "rbm", "alpha": m / n, "dtype": dtype}, "chain", n)
    net = make_ansatz(spec)
    P = net.n_real_params
    assert net.n_params == n + m + m * n
    states = jnp.asarray(hilbert.all_states(n, "full"), jnp.float64)
    generic = net.to_tree(0.4 * jax.random.normal(jax.random.key(5), (P,)))
    duplicated = dict(generic, b=generic["b"].at[1].set(generic["b"][0]), W=generic["W"].at[1].set(generic["W"][0]))

    def rank(tree):
        theta = net.to_real(jax.flatten_util.ravel_pytree(tree)[0])

        @jax.jit  # one program, not op by op (6.6 s -> 3.3 s for the two cases)
        def spectrum(theta):
            weights = exact_sample(net.log_psi, theta, states).weights
            o = log_derivatives(net.log_psi, theta, states)
            o_t, _ = centred_real_rows(o, jnp.zeros(len(states), o.dtype), weights, real_only=not net.is_complex)
            return qgt_spectrum(o_t)

        return ranks(np.asarray(spectrum(theta)))["rank_rel_1e-10"]

    assert rank(generic) == P
    assert rank(duplicated) == P - real_per_param * (n + 1)


# --- spec --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ansatz,pbc,field,words",
    [
        ({"name": "gcnn", "layers": 0}, True, "ansatz.layers", ">= 1"),
        ({"name": "ffnn", "layers": 1.5}, True, "ansatz.layers", "integer"),
        ({"name": "rbm", "layers": 2}, True, "ansatz.layers", "ffnn, gcnn"),
        ({"name": "rbm_symm", "layers": 3}, True, "ansatz.layers", "allowed: 1"),
        ({"name": "gcnn", "symmetries": "rotations"}, True, "ansatz.symmetries", "translations, space_group"),
        ({"name": "rbm_symm", "symmetries": "space_group"}, False, "ansatz.symmetries", "lattice.pbc: true"),
        ({"name": "gcnn"}, False, "ansatz.name", "lattice.pbc: true"),
        ({"name": "rbm", "symmetries": "translations"}, True, "ansatz.symmetries", "none"),
        ({"name": "gcnn", "features": 0}, True, "ansatz.features", ">= 1"),
        ({"name": "gcnn", "layers": 2, "features": [4]}, True, "ansatz.features", "one entry per layer"),
        ({"name": "gcnn", "layers": 2, "features": [4, "8"]}, True, "ansatz.features[1]", "integer"),
        ({"name": "ffnn", "features": [4], "alpha": 2}, True, "ansatz.alpha", "first layer"),
        ({"name": "rbm", "features": 4}, True, "ansatz.features", "ffnn, gcnn"),
        ({"name": "gcnn", "alpha": 1.5}, True, "ansatz.alpha", "integer"),
        ({"name": "cnn"}, True, "ansatz.name", "gcnn"),
        ({"name": "rbm", "parametrization": "polar"}, True, "ansatz.parametrization", "direct, amplitude_phase"),
        ({"name": "rbm_symm", "readout": "dense"}, True, "ansatz.readout", "applies to gcnn"),
        ({"name": "gcnn", "readout": "mean"}, True, "ansatz.readout", "symmetric, dense"),
        ({"name": "rbm", "parametrization": "amplitude_phase", "dtype": "complex128"}, True, "ansatz.dtype", "float64, float32"),
        ({"name": "resnet", "symmetries": "space_group"}, True, "ansatz.symmetries", "symmetry.project"),
        ({"name": "resnet", "kernel": 5}, True, "ansatz.kernel", "exceeds L = 4"),
        ({"name": "resnet", "kernel": 0}, True, "ansatz.kernel", ">= 1"),
        ({"name": "resnet", "layers": 2, "features": [4, 8]}, True, "ansatz.features", "equal channels"),
        ({"name": "resnet"}, False, "ansatz.name", "lattice.pbc: true"),
        ({"name": "gcnn", "kernel": 3}, True, "ansatz.kernel", "applies to resnet"),
        ({"name": "vit", "features": 6, "heads": 4}, True, "ansatz.heads", "evenly"),
        ({"name": "vit", "patch": 5}, True, "ansatz.patch", "exceeds L = 4"),
        ({"name": "vit", "layers": 2, "features": [4, 8]}, True, "ansatz.features", "one width"),
        ({"name": "resnet", "heads": 2}, True, "ansatz.heads", "applies to vit"),
        ({"name": "gcnn", "patch": 2}, True, "ansatz.patch", "applies to vit"),
    ],
)
def test_bad_ansatz_fields_name_the_field(ansatz, pbc, field, words):
    with pytest.raises(SpecError) as err:
        spec_of(ansatz, "square", 4, pbc)
    assert err.value.field == field
    assert words in str(err.value)


@pytest.mark.parametrize(
    "ansatz",
    [
        {"name": "rbm", "alpha": 2},
        {"name": "ffnn", "alpha": 0.5, "layers": 2},
        {"name": "ffnn", "features": [12, 4], "layers": 2, "activation": "tanh"},
        {"name": "rbm_symm", "alpha": 3, "symmetries": "space_group"},
        {"name": "gcnn", "features": 6, "layers": 3, "symmetries": "space_group"},
        {"name": "gcnn", "features": [6, 2], "layers": 2},
        {"name": "rbm", "alpha": 1, "parametrization": "amplitude_phase"},
        {"name": "gcnn", "features": 2, "parametrization": "amplitude_phase", "dtype": "float32"},
        {"name": "gcnn", "features": [2, 3], "layers": 2, "readout": "dense", "symmetries": "space_group"},
        {"name": "resnet", "features": 4, "layers": 3, "kernel": 3},
        {"name": "resnet", "alpha": 2, "layers": 2, "dtype": "float32"},
        {"name": "vit", "features": 8, "layers": 2, "heads": 4, "patch": 3},
    ],
)
def test_ansatz_fields_round_trip_and_resolve(ansatz):
    spec = spec_of(ansatz, "square", 4)
    assert parse_spec(spec.to_raw()) == spec
    assert len(spec.ansatz.features) == spec.ansatz.layers
    default = "translations" if ansatz["name"] in ("rbm_symm", "gcnn", "resnet", "vit") else "none"
    assert spec.ansatz.symmetries == ansatz.get("symmetries", default)
    if "features" not in ansatz:
        assert "features" not in spec.to_raw()["ansatz"]


def test_defaults_keep_the_one_layer_networks():
    spec = spec_of({"name": "ffnn", "alpha": 2}, "chain", 8)
    assert (spec.ansatz.layers, spec.ansatz.features, spec.ansatz.symmetries) == (1, (16,), "none")
    assert spec_of({"name": "rbm_symm", "alpha": 2}, "chain", 8).ansatz.symmetries == "translations"


def test_amplitude_phase_networks_are_two_real_networks():
    """Real parameters, twice the direct network's, a complex log ψ; a real dtype is the default."""
    direct = make_ansatz(spec_of({"name": "rbm", "alpha": 1, "dtype": "float64"}, "chain", 6))
    pair_spec = spec_of({"name": "rbm", "alpha": 1, "parametrization": "amplitude_phase"}, "chain", 6)
    pair = make_ansatz(pair_spec)
    assert pair_spec.ansatz.dtype == "float64" and pair_spec.ansatz.complex_output
    assert not pair.is_complex and not pair.real_output and direct.real_output
    assert pair.n_params == pair.n_real_params == 2 * direct.n_params
    theta = 0.3 * jax.random.normal(jax.random.key(0), (pair.n_real_params,))
    log_psi = jax.jit(pair.log_psi)(theta, jnp.asarray(hilbert.all_states(6, "full"), jnp.float64))
    assert float(jnp.std(log_psi.imag)) > 0.01  # the phase network varies the phase


def test_fields_added_later_keep_earlier_hashes():
    """parametrization and snapshot_every at their defaults leave the spec text and hash as they were
    (existing results stay valid); set, they enter both."""
    base = spec_of({"name": "rbm", "alpha": 1}, "chain", 6)
    assert "parametrization" not in base.to_raw()["ansatz"] and "snapshot_every" not in base.to_raw()
    explicit = spec_of({"name": "rbm", "alpha": 1, "parametrization": "direct"}, "chain", 6, snapshot_every=0)
    assert explicit.spec_hash == base.spec_hash
    # the hash of this spec before either field existed (commit 3d0aa39)
    assert base.spec_hash == BASE_HASH
    snap = spec_of({"name": "rbm", "alpha": 1}, "chain", 6, snapshot_every=10)
    pair = spec_of({"name": "rbm", "alpha": 1, "parametrization": "amplitude_phase"}, "chain", 6)
    assert len({base.spec_hash, snap.spec_hash, pair.spec_hash}) == 3
    assert parse_spec(snap.to_raw()) == snap
    # sampler.power likewise: absent at 2, in the text and the hash when set
    raw = base.to_raw()
    assert "power" not in raw["sampler"]
    assert parse_spec({**raw, "sampler": {**raw["sampler"], "power": 2.0}}).spec_hash == base.spec_hash
    biased = parse_spec({**raw, "sampler": {**raw["sampler"], "power": 1.0}})
    assert biased.spec_hash != base.spec_hash and biased.to_raw()["sampler"]["power"] == 1.0
    assert parse_spec(biased.to_raw()) == biased


def test_snapshot_every_is_checked():
    for value, words in ((-1, ">= 0"), (1.5, "integer"), (10**6, "optimizer.n_iter")):
        with pytest.raises(SpecError) as err:
            spec_of({"name": "rbm"}, "chain", 6, snapshot_every=value)
        assert err.value.field == "snapshot_every" and words in str(err.value)


def test_dense_readout_starts_symmetric_and_can_break_the_symmetry():
    """The approximately symmetric GCNN: |G| F_L more parameters than the symmetric one; with its
    readout at the initial 1 it is the symmetric network (same ψ, invariant under every translation
    and point-group element); a perturbed readout breaks the invariance."""
    gcnn = {"name": "gcnn", "features": [2, 2], "layers": 2, "symmetries": "space_group"}
    symmetric = make_ansatz(spec_of(gcnn, "square", 3))
    dense = make_ansatz(spec_of({**gcnn, "readout": "dense"}, "square", 3))
    assert dense.n_params == symmetric.n_params + 72 * 2
    theta_sym = 0.3 * jax.random.normal(jax.random.key(1), (symmetric.n_real_params,))
    tree = jax.jit(dense.init_params)(jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(tree["readout"]), 1.0)
    tree["layers"] = symmetric.to_tree(theta_sym)["layers"]
    theta = dense.to_real(jax.flatten_util.ravel_pytree(tree)[0])
    s = random_configs(jax.random.key(2), 6, 9)
    group = Lattice("square", 3, True).space_group
    images = s[:, group].transpose(1, 0, 2).reshape(-1, 9)
    # the passes jitted, not op by op (6.3 s -> 3.4 s)
    dense_log_psi, symmetric_log_psi = jax.jit(dense.log_psi), jax.jit(symmetric.log_psi)
    np.testing.assert_allclose(np.asarray(dense_log_psi(theta, s)), np.asarray(symmetric_log_psi(theta_sym, s)), atol=1e-12)
    moved = np.asarray(dense_log_psi(theta, images)).reshape(len(group), -1)
    np.testing.assert_allclose(np.exp(moved - np.asarray(dense_log_psi(theta, s))), 1.0, rtol=0, atol=1e-12)
    tree["readout"] = tree["readout"] + 0.3 * jax.random.normal(jax.random.key(3), tree["readout"].shape, tree["readout"].dtype)
    broken = dense.to_real(jax.flatten_util.ravel_pytree(tree)[0])
    moved = np.asarray(dense_log_psi(broken, images)).reshape(len(group), -1)
    assert np.abs(np.exp(moved - np.asarray(dense_log_psi(broken, s))) - 1).max() > 1e-3
