"""Chain and square lattices: bond tables, sublattices, translations, site numbering."""

import itertools

import numpy as np
import pytest

from nqs_sweep.physics.lattice import Lattice

LATTICES = [
    pytest.param(Lattice("chain", 6, True), id="chain-L6-pbc"),
    pytest.param(Lattice("chain", 6, False), id="chain-L6-open"),
    pytest.param(Lattice("chain", 5, True), id="chain-L5-pbc"),
    pytest.param(Lattice("chain", 5, False), id="chain-L5-open"),
    pytest.param(Lattice("chain", 2, True), id="chain-L2-pbc"),
    pytest.param(Lattice("square", 4, True), id="square-L4-pbc"),
    pytest.param(Lattice("square", 4, False), id="square-L4-open"),
    pytest.param(Lattice("square", 3, True), id="square-L3-pbc"),
    pytest.param(Lattice("square", 3, False), id="square-L3-open"),
    pytest.param(Lattice("square", 2, True), id="square-L2-pbc"),
]
BIPARTITE = [p for p in LATTICES if p.values[0].is_bipartite]


def bond_set(bonds):
    return {tuple(b) for b in np.asarray(bonds).tolist()}


@pytest.mark.parametrize(
    "lattice, n_nn, n_nnn",
    [
        pytest.param(Lattice("chain", 6, True), 6, 6, id="chain-L6-pbc"),
        pytest.param(Lattice("chain", 6, False), 5, 4, id="chain-L6-open"),
        pytest.param(Lattice("chain", 2, True), 1, 0, id="chain-L2-pbc"),
        pytest.param(Lattice("chain", 2, False), 1, 0, id="chain-L2-open"),
        pytest.param(Lattice("square", 4, True), 32, 32, id="square-L4-pbc"),
        pytest.param(Lattice("square", 4, False), 24, 18, id="square-L4-open"),
        pytest.param(Lattice("square", 3, True), 18, 18, id="square-L3-pbc"),
        pytest.param(Lattice("square", 2, True), 4, 2, id="square-L2-pbc"),
    ],
)
def test_bond_counts(lattice, n_nn, n_nnn):
    """Nearest- and next-nearest-neighbour bond counts, with L=2 wrap-around pairs counted once."""
    assert lattice.nn_bonds.shape == (n_nn, 2)
    assert lattice.nnn_bonds.shape == (n_nnn, 2)


def test_chain_L2_pbc_dedupes_to_one_bond():
    """On a periodic chain of 2 sites the forward and wrap-around bonds are the same pair."""
    assert bond_set(Lattice("chain", 2, True).nn_bonds) == {(0, 1)}


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("which", ["nn_bonds", "nnn_bonds"])
def test_bonds_ordered_unique_in_range(lattice, which):
    """Every bond is (i, j) with 0 <= i < j < N, and no bond appears twice."""
    bonds = getattr(lattice, which)
    assert bonds.ndim == 2 and bonds.shape[1] == 2
    assert np.issubdtype(bonds.dtype, np.integer)
    if len(bonds):
        assert np.all(bonds[:, 0] < bonds[:, 1])
        assert bonds.min() >= 0 and bonds.max() < lattice.n_sites
    assert len(bond_set(bonds)) == len(bonds)


@pytest.mark.parametrize("lattice", [p for p in LATTICES if p.values[0].kind == "square" and p.values[0].L >= 3])
def test_nn_and_nnn_disjoint_on_square(lattice):
    """On the square lattice (L >= 3) no pair is both a nearest and a next-nearest neighbour."""
    assert not bond_set(lattice.nn_bonds) & bond_set(lattice.nnn_bonds)


@pytest.mark.parametrize(
    "lattice, bipartite",
    [
        (Lattice("chain", 6, True), True),
        (Lattice("chain", 5, True), False),
        (Lattice("chain", 5, False), True),
        (Lattice("square", 4, True), True),
        (Lattice("square", 3, True), False),
        (Lattice("square", 3, False), True),
    ],
    ids=["chain-even-pbc", "chain-odd-pbc", "chain-odd-open", "square-even-pbc", "square-odd-pbc", "square-odd-open"],
)
def test_is_bipartite(lattice, bipartite):
    """Periodic lattices with odd L are not bipartite; open ones always are."""
    assert lattice.is_bipartite is bipartite


@pytest.mark.parametrize("lattice", BIPARTITE)
def test_nn_bonds_join_opposite_sublattices(lattice):
    """On a bipartite lattice every nearest-neighbour bond joins sublattice 0 to sublattice 1."""
    sub = lattice.sublattice
    assert set(np.unique(sub).tolist()) == {0, 1}
    assert np.all(sub[lattice.nn_bonds[:, 0]] != sub[lattice.nn_bonds[:, 1]])


@pytest.mark.parametrize("lattice", [Lattice("chain", 5, True), Lattice("square", 3, True)], ids=["chain-L5", "square-L3"])
def test_odd_periodic_has_frustrated_nn_bond(lattice):
    """On a periodic lattice with odd L some nearest-neighbour bond joins equal sublattices."""
    sub = lattice.sublattice
    assert np.any(sub[lattice.nn_bonds[:, 0]] == sub[lattice.nn_bonds[:, 1]])


@pytest.mark.parametrize("lattice", [p for p in BIPARTITE if p.values[0].kind == "square"])
def test_square_nnn_bonds_join_equal_sublattices(lattice):
    """On a bipartite square lattice every diagonal (next-nearest) bond stays on one sublattice."""
    sub = lattice.sublattice
    assert np.all(sub[lattice.nnn_bonds[:, 0]] == sub[lattice.nnn_bonds[:, 1]])


@pytest.mark.parametrize("lattice", LATTICES)
def test_translations_are_permutations(lattice):
    """Each translation is a permutation of the sites, and they are all distinct."""
    t = lattice.translations
    expected = (lattice.L if lattice.kind == "chain" else lattice.L**2) if lattice.pbc else 1
    assert t.shape == (expected, lattice.n_sites)
    for row in t:
        assert sorted(row.tolist()) == list(range(lattice.n_sites))
    assert len({tuple(row) for row in t.tolist()}) == expected
    assert any(np.array_equal(row, np.arange(lattice.n_sites)) for row in t)


def test_open_lattice_has_only_identity():
    """Open lattices have only the identity translation."""
    for lat in (Lattice("chain", 6, False), Lattice("square", 3, False)):
        np.testing.assert_array_equal(lat.translations, np.arange(lat.n_sites)[None, :])


@pytest.mark.parametrize("lattice", LATTICES)
def test_translations_form_a_group(lattice):
    """The composition of two translations, and the inverse of one, is again a translation."""
    t = lattice.translations
    rows = {tuple(row) for row in t.tolist()}
    for a, b in itertools.product(t, repeat=2):
        assert tuple(a[b].tolist()) in rows
    for a in t:
        assert tuple(np.argsort(a).tolist()) in rows


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("which", ["nn_bonds", "nnn_bonds"])
def test_translations_map_bonds_onto_bonds(lattice, which):
    """Translating the bond table gives the same set of bonds."""
    bonds = getattr(lattice, which)
    original = bond_set(bonds)
    for perm in lattice.translations:
        moved = {(min(a, b), max(a, b)) for a, b in perm[bonds].tolist()}
        assert moved == original


@pytest.mark.parametrize("pbc", [True, False], ids=["pbc", "open"])
def test_square_row_major_numbering(pbc):
    """Sites are numbered site = y * L + x: on the 3x3 square, site 4 is (1, 1), site 5 is (2, 1)."""
    lat = Lattice("square", 3, pbc)
    coords = lat._coords()
    assert tuple(coords[4].tolist()) == (1, 1)
    assert tuple(coords[5].tolist()) == (2, 1)
    assert tuple(coords[7].tolist()) == (1, 2)
    for site, (x, y) in enumerate(coords.tolist()):
        assert site == y * 3 + x
    neighbours = {j for i, j in lat.nn_bonds.tolist() if i == 4} | {i for i, j in lat.nn_bonds.tolist() if j == 4}
    assert neighbours == {1, 3, 5, 7}


def test_square_horizontal_translation_stays_in_row():
    """The translation taking site 0 to site 1 on the periodic 3x3 square shifts along a row (x -> x + 1)."""
    lat = Lattice("square", 3, True)
    (row,) = [t for t in lat.translations if t[0] == 1]
    np.testing.assert_array_equal(row, [1, 2, 0, 4, 5, 3, 7, 8, 6])


@pytest.mark.parametrize("kind, L", [("triangle", 4), ("chain", 1), ("square", 0)])
def test_invalid_lattice_rejected(kind, L):
    """Unknown kinds and L < 2 are refused at construction."""
    with pytest.raises(ValueError):
        Lattice(kind, L)
