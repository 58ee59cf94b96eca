"""Symmetry sectors: momentum, point-group irreps and spin-flip parity, as characters of a group.

A group element g acts on a configuration as (T_g s)_i = f_g s[p_g[i]]: a site permutation p_g
(translation, rotation, reflection, or a product) and an optional global spin flip f_g = −1.
With T_a T_b = T_{a·b}, perms[a·b] = perms[b][perms[a]] (physics.lattice.group_tables).

A sector is a one-dimensional representation χ of that group: the states with

    ψ(T_g s) = χ(g) ψ(s)   for every g.

The projection ψ_χ(s) = Σ_g χ(g)* ψ(T_g s) maps any ψ into the sector (models.projection).

Quantum numbers, as the spec writes them (``symmetry:``):

- ``momentum``: integers n, one per lattice direction, k = 2π n / L; the translation by a
  lattice vector r has χ = exp(i k·r), where (T_r s)_i = s_{i + r}. Periodic lattices only.
- ``point_group``: an irrep of the little group of the momentum (of the whole point group about
  site 0 when no momentum is given, or about the centre on open lattices). Chain: ``even``/``odd``
  (the reflection's character), at k = 0 and π only. Square, at k = 0 and (π, π), C4v: ``A1``,
  ``A2``, ``B1``, ``B2`` (Bradley-Cracknell: B1 is even under the axis reflections, odd under the
  diagonal ones) and the two-dimensional ``E``, taken as the states odd under the rotation by 180
  degrees (A and B states are even under it, E states odd). At (π, 0) and (0, π), C2v (the rotation
  by 180 degrees and the axis reflections): ``A1``, ``A2``, ``B1``, ``B2`` with characters
  (+,+), (+,−), (−,+), (−,−) under (the rotation, the reflection x → −x). Where one reflection
  alone keeps k (k = (q, 0) or (q, π): y → −y; (0, q) or (π, q): x → −x; (q, q): x ↔ y;
  (q, −q): x ↔ −y), Cs: ``even``/``odd`` under it. Elsewhere only the identity keeps k, and
  ``point_group`` is refused.
- ``spin_flip``: the parity ±1 under flipping every spin (every built-in model commutes with it;
  in the zero-magnetisation sector it needs an even number of sites, which that sector needs anyway).

Characters are propagated from the generators over the whole group by breadth-first search; a
set of quantum numbers that is not a representation (an inconsistency met on the way) is refused.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nqs_sweep.physics.lattice import Lattice

# Point-group operations on integer coordinates (and on momenta: C4v's matrices are orthogonal).
_REFLECT = np.array([[-1]])
_C4, _C2 = np.array([[0, -1], [1, 0]]), np.array([[-1, 0], [0, -1]])
_MX, _MY = np.array([[-1, 0], [0, 1]]), np.array([[1, 0], [0, -1]])
_MD, _MD2 = np.array([[0, 1], [1, 0]]), np.array([[0, -1], [-1, 0]])
_REFLECTIONS = {"x": _MX, "y": _MY, "d": _MD, "d'": _MD2}

# The irreps of each little group as characters of its generators. Every irrep here is a
# one-dimensional representation of a subgroup of the space group, which is what the projection,
# the networks' characters and the sector Lanczos need. C4v's two-dimensional E is the exception
# that fits: A1, A2, B1 and B2 are even under the rotation by 180 degrees and E is odd (its
# character there is -2), so at k = 0 and (π, π) the E states are exactly those odd under it.
LITTLE_GROUP_IRREPS: dict[str, dict[str, tuple[tuple[np.ndarray, int], ...]]] = {
    "chain": {"even": ((_REFLECT, 1),), "odd": ((_REFLECT, -1),)},
    "C4v": {
        "A1": ((_C4, 1), (_MX, 1)),
        "A2": ((_C4, 1), (_MX, -1)),
        "B1": ((_C4, -1), (_MX, 1)),
        "B2": ((_C4, -1), (_MX, -1)),
        "E": ((_C2, -1),),
    },
    # at (π, 0) and (0, π): the rotation by 180 degrees and the axis reflections
    "C2v": {"A1": ((_C2, 1), (_MX, 1)), "A2": ((_C2, 1), (_MX, -1)), "B1": ((_C2, -1), (_MX, 1)), "B2": ((_C2, -1), (_MX, -1))},
    # where one reflection alone keeps k
    **{f"Cs({name})": {"even": ((op, 1),), "odd": ((op, -1),)} for name, op in _REFLECTIONS.items()},
}
POINT_GROUP_NAMES: dict[str, tuple[str, ...]] = {"chain": ("even", "odd"), "square": ("A1", "A2", "B1", "B2", "E", "even", "odd")}


def little_group(kind: str, L: int, momentum: tuple[int, ...] | None) -> str | None:
    """The name of the little group of k = 2π n / L in LITTLE_GROUP_IRREPS (the whole point group
    without a momentum); None when only the identity keeps k."""
    if kind == "chain":
        return "chain" if momentum is None or (2 * momentum[0]) % L == 0 else None
    if momentum is None:
        return "C4v"
    n = np.asarray(momentum)
    keeps = lambda op: bool(np.all((op @ n - n) % L == 0))  # noqa: E731
    if keeps(_C4):
        return "C4v"
    if keeps(_C2):
        return "C2v"
    for name, op in _REFLECTIONS.items():
        if keeps(op):
            return f"Cs({name})"
    return None


PROJECTIONS = ("none", "train", "final")


class SectorError(ValueError):
    """Quantum numbers that do not name a sector of this lattice and model; ``field`` is the
    spec field at fault (symmetry.momentum, symmetry.point_group, symmetry.spin_flip)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Sector:
    """Quantum numbers; None leaves that part of the group out of the sector."""

    momentum: tuple[int, ...] | None = None
    point_group: str | None = None
    spin_flip: int | None = None

    @property
    def is_empty(self) -> bool:
        return self.momentum is None and self.point_group is None and self.spin_flip is None

    def label(self, L: int | None = None) -> str:
        """'k=(0,π) A1 flip=+1', 'none' when no symmetry is fixed (k in units of π when L is given)."""
        if self.is_empty:
            return "none"
        parts = []
        if self.momentum is not None:
            parts.append("k=(" + ",".join(_momentum_text(n, L) for n in self.momentum) + ")")
        if self.point_group is not None:
            parts.append(self.point_group)
        if self.spin_flip is not None:
            parts.append(f"flip={self.spin_flip:+d}")
        return " ".join(parts)

    def restricted(self, translations: bool, point_group: bool, spin_flip: bool) -> Sector:
        """The quantum numbers of the parts of the group that are kept."""
        return Sector(
            self.momentum if translations else None,
            self.point_group if point_group else None,
            self.spin_flip if spin_flip else None,
        )


def _momentum_text(n: int, L: int | None) -> str:
    if L is None:
        return str(n)
    if n % L == 0:
        return "0"
    num, den = 2 * n, L  # k / π = 2n / L, reduced
    g = np.gcd(num, den)
    num, den = num // g, den // g
    return ("π" if num == 1 else f"{num}π") + ("" if den == 1 else f"/{den}")


@dataclass(frozen=True, eq=False)
class SymmetryGroup:
    """The elements of a sector's group with their characters."""

    perms: np.ndarray  # (G, N) int32: (T_g s)_i = flips[g] s[perms[g, i]]
    flips: np.ndarray  # (G,) bool
    characters: np.ndarray  # (G,) complex128

    def __len__(self) -> int:
        return len(self.perms)

    @property
    def is_real(self) -> bool:
        return bool(np.all(np.abs(self.characters.imag) < 1e-12))

    def apply(self, s: np.ndarray) -> np.ndarray:
        """T_g s for every g: (..., N) -> (..., G, N)."""
        sign = np.where(self.flips, -1, 1).astype(s.dtype)
        return s[..., self.perms] * sign[:, None]

    def coset_representatives(self, subgroup: np.ndarray) -> SymmetryGroup:
        """One element c of each coset H·c, for H the permutations ``subgroup`` (no flips) under which a
        network is already covariant. A network with ψ(T_h s) = χ(h) ψ(s) on H gives
        Σ_g χ(g)* ψ(T_g s) = |H| Σ_c χ(c)* ψ(T_c s): the projection needs only the representatives."""
        index = {(p.tobytes(), bool(f)): g for g, (p, f) in enumerate(zip(self.perms, self.flips))}
        sub = np.asarray(subgroup, np.int32)
        for h in sub:
            if (h.tobytes(), False) not in index:
                raise ValueError("the network's group is not a subgroup of the sector's group")
        covered = np.zeros(len(self), bool)
        reps = []
        for g in range(len(self)):
            if covered[g]:
                continue
            reps.append(g)
            for h in sub:  # h·g: perm p_g[p_h], flip f_g
                covered[index[(self.perms[g][h].astype(np.int32).tobytes(), bool(self.flips[g]))]] = True
        reps = np.array(reps)
        return SymmetryGroup(self.perms[reps], self.flips[reps], self.characters[reps])


def _translation_generators(lattice: Lattice) -> list[np.ndarray]:
    dim = 1 if lattice.kind == "chain" else 2
    return [lattice.transform(np.eye(dim, dtype=int), np.eye(dim, dtype=int)[d]) for d in range(dim)]


def generators(lattice: Lattice, sector: Sector) -> list[tuple[np.ndarray, bool, complex]]:
    """(perm, flip, χ) of the generators of the sector's group."""
    n = lattice.n_sites
    identity = np.arange(n, dtype=np.int32)
    gens: list[tuple[np.ndarray, bool, complex]] = []
    if sector.momentum is not None:
        for perm, m in zip(_translation_generators(lattice), sector.momentum):
            gens.append((perm, False, complex(np.exp(2j * np.pi * m / lattice.L))))
    if sector.point_group is not None:
        group = little_group(lattice.kind, lattice.L, sector.momentum)
        for op, c in LITTLE_GROUP_IRREPS[group][sector.point_group]:
            gens.append((lattice.transform(op), False, complex(c)))
    if sector.spin_flip is not None:
        gens.append((identity, True, complex(sector.spin_flip)))
    return gens


def check_sector(lattice: Lattice, sector: Sector) -> None:
    """Refuse quantum numbers this lattice does not have (SectorError naming the field)."""
    dim = 1 if lattice.kind == "chain" else 2
    if sector.momentum is not None:
        if not lattice.pbc:
            raise SectorError("symmetry.momentum", "an open lattice has no translations: leave momentum out (or null)")
        if len(sector.momentum) != dim:
            raise SectorError(
                "symmetry.momentum", f"needs {dim} integer(s) n, k = 2π n / L, on a {lattice.kind}; got {list(sector.momentum)}"
            )
    if sector.point_group is not None:
        group = little_group(lattice.kind, lattice.L, sector.momentum)
        where = "" if sector.momentum is None else f" at momentum {list(sector.momentum)} on L={lattice.L}"
        if group is None:
            raise SectorError(
                "symmetry.point_group",
                f"no point-group element but the identity keeps the momentum{where}: drop point_group (null) "
                "or change the momentum",
            )
        irreps = LITTLE_GROUP_IRREPS[group]
        if sector.point_group not in irreps:
            raise SectorError(
                "symmetry.point_group",
                f"must be one of {', '.join(irreps)}{where} (the irreps of its little group {group}, docs/symmetry.md); "
                f"got {sector.point_group!r}",
            )
    if sector.spin_flip is not None and sector.spin_flip not in (1, -1):
        raise SectorError("symmetry.spin_flip", f"must be 1 or -1 (or null); got {sector.spin_flip!r}")


@lru_cache(maxsize=64)
def build_group(lattice: Lattice, sector: Sector) -> SymmetryGroup:
    """Every element of the sector's group with its character (identity first). Cached: a point's
    plan, its reference dimension and its sector Lanczos ask for the same group."""
    check_sector(lattice, sector)
    n = lattice.n_sites
    identity = np.arange(n, dtype=np.int32)
    gens = generators(lattice, sector)
    elements: dict[tuple[bytes, bool], int] = {(identity.tobytes(), False): 0}
    perms, flips, chars = [identity], [False], [1.0 + 0j]
    queue = deque([0])
    while queue:
        a = queue.popleft()
        for perm, flip, chi in gens:
            p = perms[a][perm].astype(np.int32)  # a·g in the T_a T_g convention: p_g[p_a]
            f = flips[a] != flip
            c = chars[a] * chi
            key = (p.tobytes(), f)
            if key in elements:
                if abs(chars[elements[key]] - c) > 1e-9:
                    raise SectorError(
                        "symmetry",
                        f"the quantum numbers {sector.label(lattice.L)} are not a representation of this lattice's group",
                    )
                continue
            elements[key] = len(perms)
            perms.append(p)
            flips.append(f)
            chars.append(c)
            queue.append(elements[key])
    characters = np.array(chars, np.complex128)
    characters[np.abs(characters.imag) < 1e-14] = characters[np.abs(characters.imag) < 1e-14].real
    return SymmetryGroup(np.stack(perms), np.array(flips), characters)


# --- the ground state's sector -------------------------------------------------------------


def ground_state_sector(lattice: Lattice, flip_coef: np.ndarray, exch_coef: np.ndarray, exch_bonds: np.ndarray) -> Sector | None:
    """The sector of the ground state, from its sign structure, where the rule knows it.

    The coefficients are those of the Hamiltonian in the network's basis (after the Marshall
    rotation where the spec applies it). Exchanges on bonds other than nearest neighbours (J2)
    are frustrating when positive; the rule assumes they do not change the sector while they join
    sites of one sublattice and are at most half the nearest-neighbour ones on the square lattice
    (J1-J2 up to J2 = 0.5, tested against Lanczos on 4×4), less than half on the chain (J2 = J1/2
    is the Majumdar-Ghosh point, where two dimer states at k = 0 and π are degenerate), and does
    not know otherwise. The rule:

    - every nearest-neighbour off-diagonal element ≤ 0 (transverse-field Ising with h ≥ 0; the
      Heisenberg-type models with the sign rule applied): the ground state is positive
      (Perron-Frobenius), so it is in the trivial sector: k = 0, A1 (chain: even), spin flip +1;
    - every single-flip element > 0 and no exchange (Ising with h < 0): ψ = (−1)^(down spins) φ,
      φ > 0: k = 0, A1, spin flip (−1)^N;
    - nearest-neighbour exchanges > 0 on a bipartite lattice, no single flips (Heisenberg-type
      without the sign rule): ψ = Marshall sign × φ at zero magnetisation (where the singlet
      lies, in either Hilbert sector). An element that swaps the two sublattices has
      χ = (−1)^(N/2), one that keeps them χ = +1; the spin flip has (−1)^(N/2). So the periodic
      chain has k = π when N/2 is odd, else 0; even square lattices k = 0.

    Returns None where the rule does not know (frustrated signs, non-bipartite lattices).
    """
    n = lattice.n_sites
    pg = "even" if lattice.kind == "chain" else "A1"
    zero_k = (0,) * (1 if lattice.kind == "chain" else 2) if lattice.pbc else None
    nn = {tuple(b) for b in lattice.nn_bonds.tolist()}
    is_nn = np.array([tuple(b) in nn for b in np.asarray(exch_bonds).tolist()], bool)
    nn_coef, other_coef = exch_coef[is_nn], exch_coef[~is_nn]
    if len(other_coef) and np.any(other_coef > 0):
        sub = lattice.sublattice
        other = np.asarray(exch_bonds)[~is_nn]
        scale = np.max(np.abs(nn_coef)) if len(nn_coef) else 0.0
        frustrating = other_coef > 0
        if not (lattice.is_bipartite and np.all(sub[other[frustrating, 0]] == sub[other[frustrating, 1]])):
            return None
        # At J2 = J1 / 2 the chain is at the Majumdar-Ghosh point: two degenerate dimer states, k = 0 and π.
        bound_exceeded = (
            np.max(other_coef[frustrating]) >= 0.5 * scale
            if lattice.kind == "chain"
            else np.max(other_coef[frustrating]) > 0.5 * scale
        )
        if bound_exceeded:
            return None
    if np.all(flip_coef <= 0) and np.all(nn_coef <= 0):
        return Sector(zero_k, pg, 1)
    if len(exch_coef) == 0 and np.all(flip_coef > 0):
        return Sector(zero_k, pg, (-1) ** n)
    if len(flip_coef) == 0 and np.all(nn_coef > 0) and lattice.is_bipartite and n % 2 == 0:
        sub = lattice.sublattice
        swap = (-1) ** (n // 2)

        def chi(perm: np.ndarray) -> int:
            return 1 if np.array_equal(sub[perm], sub) else swap

        momentum = None
        if lattice.pbc:
            momentum = tuple(0 if chi(t) == 1 else lattice.L // 2 for t in _translation_generators(lattice))
        whole = LITTLE_GROUP_IRREPS["chain" if lattice.kind == "chain" else "C4v"]
        ops = [op for op, _ in whole["even" if lattice.kind == "chain" else "A1"]]
        point_chars = tuple(chi(lattice.transform(op)) for op in ops)
        irreps = {tuple(c for _, c in gens): name for name, gens in whole.items() if len(gens) == len(ops)}
        return Sector(momentum, irreps.get(point_chars), swap)
    return None
