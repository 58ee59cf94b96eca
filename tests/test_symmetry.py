"""Symmetry sectors: characters, the ground state's sector, and Lanczos in a sector, against full
diagonalisation on the whole Hilbert space."""

import numpy as np
import pytest

from nqs_sweep.models.projection import default_sector
from nqs_sweep.physics import exact, hilbert
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.lattice import Lattice, group_tables
from nqs_sweep.physics.sector_exact import sector_ground_state
from nqs_sweep.physics.symmetry import LITTLE_GROUP_IRREPS, Sector, SectorError, build_group, little_group
from nqs_sweep.spec import parse_spec


def point(model, kind, L, marshall=False, hilbert_sector="full", **couplings):
    move = "exchange" if hilbert_sector == "zero_magnetization" else "local"
    return parse_spec(
        {
            "model": {"name": model, **couplings},
            "lattice": {"kind": kind, "L": L},
            "ansatz": {"name": "rbm"},
            "marshall_sign": marshall,
            "sampler": {"move": move},
            "hilbert": {"sector": hilbert_sector},
        }
    )


def image_index(group_perm, flip, states):
    moved = states[:, group_perm] * (-1 if flip else 1)
    return hilbert.states_to_index(moved)


def all_sectors(lat: Lattice):
    """Every supported combination of quantum numbers on the lattice."""
    dim = 1 if lat.kind == "chain" else 2
    momenta = [tuple(int(x) for x in np.unravel_index(i, (lat.L,) * dim)) for i in range(lat.L**dim)]
    for k in momenta:
        group = little_group(lat.kind, lat.L, k)
        for pg in [None, *(LITTLE_GROUP_IRREPS[group] if group else [])]:
            for flip in (None, 1, -1):
                yield Sector(k, pg, flip)


def little_group_order(lat: Lattice, sector: Sector) -> int:
    """Point-group elements in the sector's group: the little group's order; 2 for E (the rotation by 180 degrees)."""
    if sector.point_group is None:
        return 1
    if sector.point_group == "E":
        return 2
    return {"chain": 2, "C4v": 8, "C2v": 4}.get(little_group(lat.kind, lat.L, sector.momentum), 2)


def test_little_groups_of_the_square_lattice():
    momenta = [(0, 0), (2, 2), (2, 0), (0, 2), (1, 0), (1, 2), (0, 1), (1, 1), (1, 3), (2, 1)]
    expected = ["C4v", "C4v", "C2v", "C2v", "Cs(y)", "Cs(y)", "Cs(x)", "Cs(d)", "Cs(d')", "Cs(x)"]
    assert [little_group("square", 4, k) for k in momenta] == expected
    assert little_group("square", 5, (1, 2)) is None and little_group("chain", 6, (1,)) is None
    assert little_group("square", 4, None) == "C4v" and little_group("chain", 6, (3,)) == "chain"


@pytest.mark.parametrize("kind,L", [("chain", 6), ("chain", 8), ("square", 3), ("square", 4)])
def test_characters_are_a_representation(kind, L):
    lat = Lattice(kind, L)
    for sector in all_sectors(lat):
        g = build_group(lat, sector)
        # the permutations alone repeat when the spin flip is in: check on the sub-table without it
        no_flip = ~g.flips
        perms, chars = g.perms[no_flip], g.characters[no_flip]
        product, _ = group_tables(perms)
        assert np.allclose(chars[product], chars[:, None] * chars[None, :])
        assert np.allclose(np.abs(g.characters), 1)
        assert len(perms) == L ** (1 if kind == "chain" else 2) * little_group_order(lat, sector)


def test_quantum_numbers_that_are_no_representation_are_refused():
    lat = Lattice("chain", 6)
    with pytest.raises(SectorError) as err:
        build_group(lat, Sector((1,), "even", None))
    assert err.value.field == "symmetry.point_group"
    with pytest.raises(SectorError) as err:
        build_group(Lattice("square", 4, pbc=False), Sector((0, 0), None, None))
    assert err.value.field == "symmetry.momentum"
    with pytest.raises(SectorError) as err:  # (π, 0): C2v has no E, and its irreps are named
        build_group(Lattice("square", 4), Sector((2, 0), "E", None))
    assert err.value.field == "symmetry.point_group" and "A1, A2, B1, B2" in str(err.value) and "C2v" in str(err.value)
    with pytest.raises(SectorError) as err:  # only the identity keeps k = (2π/5)(1, 2)
        build_group(Lattice("square", 5), Sector((1, 2), "even", None))
    assert err.value.field == "symmetry.point_group"
    with pytest.raises(SectorError):
        build_group(Lattice("square", 4), Sector((1, 0), "A1", None))  # Cs: even or odd


def full_ground_state(spec):
    res = exact.ground_state(spec, keep_vector=True)
    basis = hilbert.sector_indices(spec.n_sites, spec.sector)
    psi = np.zeros(2**spec.n_sites)
    psi[basis] = res.ground_state
    return res.energy, psi


RULE_CASES = [
    ("heisenberg", "chain", 6, False, {}),
    ("heisenberg", "chain", 8, False, {}),
    ("heisenberg", "chain", 10, False, {}),
    ("heisenberg", "chain", 6, True, {}),
    ("j1j2", "chain", 8, False, {"J2": 0.3}),
    ("j1j2", "chain", 10, False, {"J2": 0.45}),
    ("j1j2", "chain", 12, True, {"J2": 0.4}),
    ("xxz", "chain", 8, False, {"Delta": 2.0}),
    ("tfim", "chain", 8, False, {"h": 0.5}),
    ("tfim", "chain", 7, False, {"h": -0.8}),
    ("tfim", "square", 3, False, {"h": 2.0}),
    ("heisenberg", "square", 4, False, {}),
    ("j1j2", "square", 4, False, {"J2": 0.5}),
    ("j1j2", "square", 4, True, {"J2": 0.5}),
]


@pytest.mark.parametrize("model,kind,L,marshall,couplings", RULE_CASES)
def test_ground_state_rule_against_lanczos(model, kind, L, marshall, couplings):
    """The rule's sector holds the full-space ground state: its eigenvalues under every generator
    and under the spin flip are the rule's characters, and Lanczos in the sector finds its energy."""
    sector_kind = "zero_magnetization" if model != "tfim" and L ** (1 if kind == "chain" else 2) >= 10 else "full"
    spec = point(model, kind, L, marshall, sector_kind, **couplings)
    rule = default_sector(spec)
    assert rule is not None
    e_full, psi = full_ground_state(spec)
    lat = spec.lattice.build()
    group = build_group(lat, rule)
    states = hilbert.all_states(spec.n_sites, "full")
    for perm, flip, chi in zip(group.perms, group.flips, group.characters):
        moved = psi[image_index(perm, flip, states)]
        assert np.allclose(moved, chi * psi, atol=1e-8), (perm, flip, chi)
    res = sector_ground_state(build_hamiltonian(spec, xp=np), spec.n_sites, spec.sector, lat, rule)
    assert res.energy == pytest.approx(e_full, abs=1e-9)
    assert res.block_dim < hilbert.hilbert_dim(spec.n_sites, spec.sector) / 4


def test_rule_does_not_guess_past_its_range():
    assert default_sector(point("j1j2", "square", 4, J2=0.8)) is None  # J2 > J1 / 2: the signs may not hold
    assert default_sector(point("heisenberg", "chain", 7)) is None  # odd periodic chain: not bipartite
    assert default_sector(point("j1j2", "chain", 8, J2=0.5)) is None  # Majumdar-Ghosh: k = 0 and π degenerate


@pytest.mark.parametrize(
    "kind,L,model,couplings",
    [("chain", 8, "heisenberg", {}), ("chain", 7, "tfim", {"h": 0.7}), ("square", 3, "tfim", {"h": 1.5})],
)
def test_sector_spectra_partition_the_full_spectrum(kind, L, model, couplings):
    """Lanczos in each sector (complex characters included) gives the lowest eigenvalue of H on the
    range of the projector Σ_g χ(g)* T_g, found densely, and its state has the asked eigenvalues;
    the sectors of one momentum and parity together hold the full ground state."""
    spec = point(model, kind, L, **couplings)
    lat = spec.lattice.build()
    ham = build_hamiltonian(spec, xp=np)
    n = spec.n_sites
    dense = exact.full_space_operator(ham, n) @ np.eye(2**n)
    states = hilbert.all_states(n, "full")
    lowest = []
    dim = 1 if kind == "chain" else 2
    for sector in all_sectors(lat):
        if sector.spin_flip is None:
            continue
        group = build_group(lat, sector)
        proj = np.zeros((2**n, 2**n), complex)
        for perm, flip, chi in zip(group.perms, group.flips, group.characters):
            proj[np.arange(2**n), image_index(perm, flip, states)] += np.conj(chi) / len(group)
        u, sv, _ = np.linalg.svd(proj)
        q = u[:, sv > 0.5]
        if q.shape[1] == 0:
            continue
        levels = np.linalg.eigvalsh(q.conj().T @ dense @ q)
        expected = levels[0]
        if sector.point_group == "E":  # the states odd under the rotation by 180 degrees are C4v's E: pairs
            assert levels[1] == pytest.approx(levels[0], abs=1e-9) and q.shape[1] % 2 == 0
        res = sector_ground_state(ham, n, "full", lat, sector, keep_vector=True)
        assert res.block_dim == q.shape[1]
        assert res.energy == pytest.approx(expected, abs=1e-9)
        vec = res.vector  # the sector's state has the asked eigenvalues
        for perm, flip, chi in zip(group.perms, group.flips, group.characters):
            assert np.allclose(vec[image_index(perm, flip, states)], chi * vec, atol=1e-10)
        if sector.point_group is None:  # momentum and parity: a partition of the space
            lowest.append(res.energy)
    assert len(lowest) == 2 * lat.L**dim
    assert min(lowest) == pytest.approx(np.linalg.eigvalsh(dense)[0], abs=1e-9)


@pytest.mark.parametrize("momentum,whole", [((2, 0), ("A1", "A2", "B1", "B2")), ((0, 0), ("A1", "A2", "B1", "B2", "E"))])
def test_the_irreps_of_a_little_group_partition_its_momentum(momentum, whole):
    """4 x 4 Heisenberg at zero magnetisation: the lowest level at a momentum is the lowest over the
    irreps of its little group (C2v at (π, 0), C4v with E at (0, 0)), and E's lowest level is a pair."""
    spec = point("heisenberg", "square", 4, hilbert_sector="zero_magnetization")
    lat, ham = spec.lattice.build(), build_hamiltonian(spec, xp=np)
    at_k = sector_ground_state(ham, 16, spec.sector, lat, Sector(momentum, None, None))
    per_irrep = {pg: sector_ground_state(ham, 16, spec.sector, lat, Sector(momentum, pg, None)) for pg in whole}
    assert sum(r.block_dim for r in per_irrep.values()) == at_k.block_dim  # E's block holds both partners
    assert min(r.energy for r in per_irrep.values()) == pytest.approx(at_k.energy, abs=1e-9)
    if "E" in whole:
        e_block = sector_ground_state(ham, 16, spec.sector, lat, Sector(momentum, "E", None), n_levels=2)
        assert e_block.levels[1] == pytest.approx(e_block.levels[0], abs=1e-8)


def test_labels():
    assert Sector((3,), "even", -1).label(6) == "k=(π) even flip=-1"
    assert Sector((1, 2), None, None).label(6) == "k=(π/3,2π/3)"
    assert Sector().label(6) == "none"
