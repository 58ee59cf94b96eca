"""Networks in symmetry sectors: the projection of any network, characters in the GCNN, the sector
in the spec, and a projected run reaching its sector's exact energy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nqs_sweep
from nqs_sweep.models import make_ansatz
from nqs_sweep.models.projection import plan
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.symmetry import Sector, build_group
from nqs_sweep.spec import SpecError, parse_spec

jax.config.update("jax_enable_x64", True)


def spec(kind="chain", L=6, ansatz=None, symmetry=None, model="heisenberg", marshall=False, **extra):
    raw = {
        "model": {"name": model},
        "lattice": {"kind": kind, "L": L},
        "ansatz": ansatz or {"name": "rbm", "alpha": 1, "dtype": "complex128"},
        "marshall_sign": marshall,
        "sampler": {"kind": "exact"} if (L if kind == "chain" else L * L) <= 16 else {},
        **extra,
    }
    if symmetry is not None:
        raw["symmetry"] = symmetry
    return parse_spec(raw)


def perturbed(ansatz, seed=1):
    """Parameters far from the symmetric initial point, so that no sum is trivially symmetric."""
    theta = ansatz.init(jax.random.key(seed))
    return theta + 0.3 * jax.random.normal(jax.random.key(seed + 7), theta.shape)


def image_index(perm, flip, states):
    return hilbert.states_to_index(states[:, perm] * (-1 if flip else 1))


CASES = [
    ("chain", 6, {"momentum": 3, "point_group": "odd", "spin_flip": -1}),
    ("chain", 8, {"momentum": 1, "spin_flip": 1}),
    ("chain", 10, {"momentum": 0, "point_group": "even", "spin_flip": 1}),
    ("square", 3, {"momentum": [1, 2], "spin_flip": -1}),
    ("square", 3, {"momentum": [0, 0], "point_group": "B2"}),
    ("square", 4, {"momentum": [2, 2], "point_group": "A2", "spin_flip": 1}),
    # smaller little groups and C4v's E (the states odd under the rotation by 180 degrees)
    ("square", 3, {"momentum": [0, 0], "point_group": "E", "spin_flip": 1}),
    ("square", 3, {"momentum": [1, 0], "point_group": "odd"}),
    ("square", 3, {"momentum": [1, 2], "point_group": "even", "spin_flip": -1}),
    ("square", 4, {"momentum": [2, 0], "point_group": "B1", "spin_flip": 1}),
    ("square", 4, {"momentum": [2, 2], "point_group": "E"}),
]


@pytest.mark.parametrize("kind,L,sym", CASES)
def test_projection_is_the_sum_over_the_group_and_has_the_asked_eigenvalues(kind, L, sym):
    point = spec(kind, L, symmetry={**sym, "project": "train"}, model="tfim")
    ansatz, p = make_ansatz(point), plan(point)
    theta = perturbed(ansatz)
    plain = make_ansatz(spec(kind, L, model="tfim"))
    full = build_group(point.lattice.build(), p.sector)
    n = point.n_sites
    states = hilbert.all_states(n, "full") if n <= 10 else np.asarray(jax.random.rademacher(jax.random.key(0), (300, n)), np.int8)
    s = jnp.asarray(states, jnp.float64)
    # the brute-force sum over every element, in plain complex arithmetic
    values = np.exp(np.asarray(jax.jit(plain.log_psi)(theta, jnp.asarray(full.apply(states), jnp.float64))))  # (B, G)
    brute = values @ np.conj(full.characters)
    projected = np.exp(np.asarray(jax.jit(ansatz.log_psi)(theta, s)))
    assert np.allclose(projected, brute, rtol=1e-10, atol=1e-12 * np.abs(brute).max())
    if n <= 10:  # the whole state vector: ψ(T_g s) = χ(g) ψ(s) for every element
        for perm, flip, chi in zip(full.perms, full.flips, full.characters):
            assert np.allclose(projected[image_index(perm, flip, states)], chi * projected, atol=1e-10 * np.abs(projected).max())


def test_coset_projection_of_an_equivariant_network():
    """A GCNN over translations with the characters of k = π is projected onto the point group and
    spin flip only (4 cosets instead of 24), and equals the full sum over the group / |T|."""
    sym = {"momentum": 3, "point_group": "even", "spin_flip": -1, "project": "train"}
    gcnn = {"name": "gcnn", "features": [3, 2], "layers": 2, "dtype": "float64"}
    point = spec(ansatz=gcnn, symmetry=sym)
    p = plan(point)
    assert len(p.cosets) == 4
    assert np.allclose(p.network_characters, [1, -1, 1, -1, 1, -1])
    ansatz = make_ansatz(point)
    theta = perturbed(ansatz)
    states = hilbert.all_states(6, "full")
    plain = make_ansatz(spec(ansatz=gcnn, symmetry={"momentum": 3, "point_group": None, "spin_flip": None}))
    full = build_group(point.lattice.build(), p.sector)
    brute = np.exp(np.asarray(jax.jit(plain.log_psi)(theta, jnp.asarray(full.apply(states), jnp.float64)))) @ np.conj(
        full.characters
    )
    projected = np.exp(np.asarray(jax.jit(ansatz.log_psi)(theta, jnp.asarray(states, jnp.float64))))
    assert np.allclose(projected * 6, brute, rtol=1e-10, atol=1e-12 * np.abs(brute).max())
    assert ansatz.real_output  # real characters keep ψ real (signs only)


@pytest.mark.parametrize(
    "resnet",
    [
        {"name": "resnet", "features": 2, "layers": 1, "dtype": "float64"},
        {"name": "vit", "features": 2, "heads": 1, "dtype": "float64"},
    ],
    ids=["resnet", "vit"],
)
def test_translation_invariant_networks_are_projected_on_the_point_group_and_spin_flip_only(resnet):
    """The residual network and the transformer are invariant under translations, so their projection
    onto k = 0, A1 and even spin parity on the 4 x 4 square sums over 8 x 2 = 16 cosets (not 256
    elements), and equals the full sum over the group / |T| (on random configurations: the ones that
    would break it)."""
    sym = {"momentum": [0, 0], "point_group": "A1", "spin_flip": 1, "project": "train"}
    point = spec("square", 4, ansatz=resnet, symmetry=sym, model="j1j2")
    p = plan(point)
    assert len(p.cosets) == 16 and p.network_characters is None
    ansatz = make_ansatz(point)
    theta = perturbed(ansatz)
    states = np.asarray(jax.random.rademacher(jax.random.key(0), (40, 16)), np.int8)
    plain = make_ansatz(spec("square", 4, ansatz=resnet, model="j1j2"))
    full = build_group(point.lattice.build(), p.sector)
    assert len(full.perms) == 256
    brute = np.exp(np.asarray(jax.jit(plain.log_psi)(theta, jnp.asarray(full.apply(states), jnp.float64)))) @ np.conj(
        full.characters
    )
    projected = np.exp(np.asarray(jax.jit(ansatz.log_psi)(theta, jnp.asarray(states, jnp.float64))))
    assert np.allclose(projected * 16, brute, rtol=1e-10, atol=1e-12 * np.abs(brute).max())


def test_gcnn_characters_give_the_momentum():
    point = spec(ansatz={"name": "gcnn", "features": [4]}, symmetry={"momentum": 1, "point_group": None, "spin_flip": None})
    ansatz = make_ansatz(point)
    assert not ansatz.real_output  # k = π/3: complex characters
    theta = perturbed(ansatz)
    states = hilbert.all_states(6, "full")
    psi = np.exp(np.asarray(jax.jit(ansatz.log_psi)(theta, jnp.asarray(states, jnp.float64))))
    shift = point.lattice.build().translations[1]  # (T s)_i = s_{i+1}
    assert np.allclose(psi[image_index(shift, False, states)], np.exp(2j * np.pi / 6) * psi, atol=1e-10)


def test_defaults_follow_the_ground_state_rule():
    assert plan(spec()).sector == Sector()  # an unsymmetric network is in no sector
    gcnn = plan(spec(ansatz={"name": "gcnn", "features": [4]}))
    assert gcnn.sector == Sector((3,), None, None)  # L = 6 without the sign rule: k = π
    assert plan(spec(ansatz={"name": "gcnn", "features": [4]}, marshall=True)).sector == Sector((0,), None, None)
    projected = spec(symmetry={"project": "train"})
    assert projected.symmetry.sector == Sector((3,), "even", -1)
    assert parse_spec(projected.to_raw()) == projected
    given = spec(symmetry={"momentum": 0, "project": "train"})  # what is named makes the sector
    assert given.symmetry.sector == Sector((0,), None, None)
    assert spec().to_dict().get("symmetry") is None  # no symmetry: the hash of every earlier point stays


PG = "symmetry.point_group"


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"ansatz": {"name": "rbm_symm", "alpha": 2}}, "symmetry.momentum"),  # k = π: an invariant network cannot
        ({"symmetry": {"momentum": 3}}, "symmetry.project"),  # an rbm is in no sector unless projected
        ({"symmetry": {"momentum": 1, "point_group": "even", "project": "train"}}, "symmetry.point_group"),
        ({"symmetry": {"momentum": [1, 1], "project": "train"}}, "symmetry.momentum"),
        ({"symmetry": {"spin_flip": 2, "project": "train"}}, "symmetry.spin_flip"),
        ({"symmetry": {"point_group": "A1", "project": "train"}}, "symmetry.point_group"),
        ({"symmetry": {"project": "final"}}, "symmetry.final_steps"),
        ({"symmetry": {"project": "sometimes"}}, "symmetry.project"),
        (
            {"ansatz": {"name": "gcnn", "features": [2], "symmetries": "space_group"}, "symmetry": {"momentum": 3}},
            "symmetry.point_group",
        ),
        ({"kind": "chain", "L": 7, "symmetry": {"project": "train"}}, "symmetry.momentum"),  # the rule does not know
        # the little group of (π, 0) is C2v: no E there; (π/2, 0) keeps one reflection: even or odd
        ({"kind": "square", "L": 4, "symmetry": {"momentum": [2, 0], "point_group": "E", "project": "train"}}, PG),
        ({"kind": "square", "L": 4, "symmetry": {"momentum": [1, 0], "point_group": "B1", "project": "train"}}, PG),
        # a space-group network's sum has no E and no (π, 0)
        (
            {
                "kind": "square",
                "L": 4,
                "ansatz": {"name": "gcnn", "features": [2], "symmetries": "space_group"},
                "symmetry": {"momentum": [2, 0], "point_group": "A1"},
            },
            "symmetry.point_group",
        ),
        (
            {
                "kind": "square",
                "L": 4,
                "ansatz": {"name": "rbm_symm", "symmetries": "space_group"},
                "symmetry": {"momentum": [0, 0], "point_group": "E"},
            },
            "symmetry.point_group",
        ),
        (  # one integer on a square lattice: named, not a traceback
            {
                "kind": "square",
                "L": 4,
                "ansatz": {"name": "rbm_symm", "symmetries": "space_group"},
                "symmetry": {"momentum": 2, "point_group": "A1"},
            },
            "symmetry.momentum",
        ),
    ],
)
def test_bad_sectors_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(SpecError) as err:
        spec(**kwargs)
    assert err.value.field == field


def test_autoregressive_networks_are_not_projected():
    with pytest.raises(SpecError) as err:
        spec(ansatz={"name": "arnn", "features": [4]}, symmetry={"project": "train"}, sampler={"kind": "direct", "n_chains": 4})
    assert err.value.field == "symmetry.project"


@pytest.mark.slow
def test_projected_networks_reach_their_sectors_exact_energies(tmp_path):
    """The periodic 6-site Heisenberg chain without the sign rule has its ground state at k = π:
    a projected RBM reaches it to 1e-6, and asked for k = 0 it reaches the k = 0 sector's own
    exact energy, which the summary joins."""
    base = {"model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 6}, "sampler": {"kind": "exact"}}
    base["optimizer"] = {"n_iter": 300, "learning_rate": 0.05}
    base["ansatz"] = {"name": "rbm", "alpha": 2}
    ground = nqs_sweep.run({**base, "symmetry": {"project": "train"}}, out=tmp_path / "gs", progress=False).summary.iloc[0]
    assert ground["symmetry"] == "k=(π) even flip=-1"
    assert ground["exact_energy"] == pytest.approx(-11.211102550927976, abs=1e-9)  # the full ground state
    assert abs(ground["energy"] - ground["exact_energy"]) / abs(ground["exact_energy"]) < 1e-6
    k0 = nqs_sweep.run({**base, "symmetry": {"momentum": 0, "project": "train"}}, out=tmp_path / "k0", progress=False)
    row = k0.summary.iloc[0]
    assert row["symmetry"] == "k=(0)"
    assert row["exact_energy"] == pytest.approx(-8.47213595499958, abs=1e-9)  # the k = 0 sector's own
    assert abs(row["energy"] - row["exact_energy"]) / abs(row["exact_energy"]) < 1e-6


@pytest.mark.slow
def test_final_stage_projection(tmp_path):
    """project: final trains the plain network, then projects it for the last final_steps steps
    (the history says which), and the point is in the whole sector at the end."""
    raw = {
        "model": {"name": "heisenberg"},
        "lattice": {"kind": "chain", "L": 6},
        "sampler": {"kind": "exact"},
        "optimizer": {"n_iter": 150, "learning_rate": 0.05},
        "ansatz": {"name": "rbm", "alpha": 2},
        "symmetry": {"project": "final", "final_steps": 30},
    }
    result = nqs_sweep.run(raw, out=tmp_path, progress=False)
    history, row = result.history, result.summary.iloc[0]
    assert list(history["projected"].iloc[[0, 119, 120, 149]]) == [0.0, 0.0, 1.0, 1.0]
    assert row["symmetry"] == "k=(π) even flip=-1"
    plain_error = abs(history["energy"].iloc[119] - row["exact_energy"])
    assert abs(row["energy"] - row["exact_energy"]) < plain_error  # the projection helps at once
    assert row["rel_error"] < 1e-5


def test_the_docs_example_is_a_valid_spec():
    """docs/symmetry.md's spec block parses, and names the sector its comments say."""
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[1] / "docs" / "symmetry.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks, "docs/symmetry.md has no yaml block"
    point = parse_spec(yaml.safe_load(blocks[0]))
    assert plan(point).label(point.lattice.L) == "k=(π) even flip=-1"
    assert point.symmetry.project == "train"


def test_the_readme_example_is_a_valid_symmetry():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## Symmetry sectors", 1)[1].split("\n## ", 1)[0]
    block = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, re.S)[0])
    point = spec(symmetry=block["symmetry"])
    assert plan(point).label(6) == "k=(π) even flip=-1"


def test_references_in_a_sector_reach_past_the_plain_limit():
    """A chain of 28 sites is past Lanczos on its zero-magnetisation sector (4e7 states) but its
    ground state's symmetry block is 3.6e5: a point in that sector gets a reference dimension the
    study compares with exact.max_dim, and a point in no sector keeps the Hilbert sector's."""
    from nqs_sweep.api import check_exact_feasible
    from nqs_sweep.models.projection import reference_dim

    raw = {"model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 28}, "ansatz": {"name": "rbm"}}
    raw["sampler"] = {"move": "exchange"}
    plain = parse_spec(raw)
    with pytest.raises(SpecError):
        check_exact_feasible(plain)
    assert reference_dim(plain) == 40116600
    sector = parse_spec({**raw, "symmetry": {"project": "train"}})
    check_exact_feasible(sector)
    assert reference_dim(sector) == pytest.approx(40116600 / 112)
    past = parse_spec({**raw, "lattice": {"kind": "chain", "L": 34}, "symmetry": {"project": "train"}})
    with pytest.raises(SpecError) as err:
        check_exact_feasible(past)
    assert err.value.field == "lattice.L"


@pytest.mark.parametrize(
    "ansatz,sym,model",
    [
        ({"name": "rbm", "alpha": 1, "dtype": "complex128"}, {"momentum": 1, "spin_flip": -1, "project": "train"}, "tfim"),
        ({"name": "rbm_symm", "alpha": 2, "dtype": "float64"}, {"project": "train"}, "heisenberg"),
    ],
)
def test_projected_flip_kernels_equal_the_forward_pass(ansatz, sym, model):
    """The network's incremental kernels carried through the projection give the local energies
    and the Metropolis chain of full forward passes of the projected network."""
    from nqs_sweep.mc.estimators import local_energies
    from nqs_sweep.mc.sampler import init_chains, metropolis_sample
    from nqs_sweep.physics.hamiltonians import build_hamiltonian

    point = spec("chain", 8, ansatz=ansatz, symmetry=sym, model=model, marshall=model == "heisenberg")
    fast = make_ansatz(point)
    assert fast.flip_ratio_tree is not None
    theta = perturbed(fast)
    plain = lambda th, s: fast.log_psi(th, s)  # noqa: E731  (no kernels: the generic path)
    ham = build_hamiltonian(point)
    s = jnp.asarray(jax.random.rademacher(jax.random.key(3), (40, 8)), jnp.float64)
    # Where ψ_χ vanishes by symmetry (a state fixed by an element of character ≠ 1) it is zero up to
    # rounding, and E_loc is noise on both paths: compare on the others.
    # Each pass jitted: op by op, every operation of the projected network compiled on its own
    # (16.3 s and 12.8 s for the two cases, against 7.3 s and 6.4 s jitted, one run each).
    log_amp = np.real(np.asarray(jax.jit(fast.log_psi)(theta, s)))
    s = s[log_amp > log_amp.max() - 15]
    assert len(s) > 25
    e_loc = {net: jax.jit(lambda th, x, net=net: local_energies(ham, net, th, x))(theta, s) for net in (fast, plain)}
    np.testing.assert_allclose(e_loc[fast], e_loc[plain], rtol=1e-9, atol=1e-9)
    chains = jax.jit(lambda k, th: init_chains(k, fast, th, 4, 8, "full", jnp.float64))(jax.random.key(4), theta)
    kw = {"n_per_chain": 20, "n_discard": 5, "sweep_size": 8, "move": "local", "exchange_bonds": ham.exch_bonds}
    a, b = (
        jax.jit(lambda th, c, k, net=net: metropolis_sample(net, th, c, k, **kw)[0])(theta, chains, jax.random.key(5))
        for net in (fast, plain)
    )
    np.testing.assert_array_equal(a.configs, b.configs)
