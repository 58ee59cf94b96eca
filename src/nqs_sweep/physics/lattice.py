"""Chain and square lattices: sites, bonds, sublattices and translations.

Sites are numbered row-major (site = y * L + x on the square lattice). Bonds are
unordered pairs (i, j) with i < j, deduplicated, so a periodic lattice with L = 2
does not count the same pair twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

LATTICE_KINDS = ("chain", "square")

# Point-group elements as matrices on integer coordinates. The square's C4v: rotations by 0, 90,
# 180, 270 degrees, then the reflections x -> -x, y -> -y and the two diagonals.
CHAIN_POINT_OPS = (np.array([[1]]), np.array([[-1]]))
SQUARE_POINT_OPS = tuple(
    np.array(m)
    for m in (
        [[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]],
        [[-1, 0], [0, 1]], [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1], [-1, 0]],
    )
)  # fmt: skip


@dataclass(frozen=True)
class Lattice:
    kind: str
    L: int
    pbc: bool = True

    def __post_init__(self) -> None:
        if self.kind not in LATTICE_KINDS:
            raise ValueError(f"lattice kind must be one of {LATTICE_KINDS}, got {self.kind!r}")
        if self.L < 2:
            raise ValueError(f"lattice L must be >= 2, got {self.L}")

    @property
    def n_sites(self) -> int:
        return self.L if self.kind == "chain" else self.L * self.L

    @property
    def is_bipartite(self) -> bool:
        # Open lattices are always bipartite; periodic ones need an even L so the
        # wrap-around bond joins opposite sublattices.
        return (not self.pbc) or self.L % 2 == 0

    def _coords(self) -> np.ndarray:
        if self.kind == "chain":
            return np.arange(self.L)[:, None]
        y, x = np.divmod(np.arange(self.n_sites), self.L)
        return np.stack([x, y], axis=1)

    @property
    def coords(self) -> np.ndarray:
        """(N, dim) integer coordinates of the sites: x on the chain, (x, y) on the square."""
        return self._coords()

    @cached_property
    def displacements(self) -> np.ndarray:
        """(N, N, dim) r_j − r_i, the minimum image on periodic lattices (components in [−L/2, L/2))."""
        d = self._coords()[None, :, :] - self._coords()[:, None, :]
        if self.pbc:
            d = (d + self.L // 2) % self.L - self.L // 2
        return d

    def _site(self, coords: np.ndarray) -> np.ndarray:
        if self.kind == "chain":
            return coords[:, 0]
        return coords[:, 1] * self.L + coords[:, 0]

    def _bonds_from_offsets(self, offsets: list[tuple[int, ...]]) -> np.ndarray:
        coords = self._coords()
        pairs = set()
        for off in offsets:
            shifted = coords + np.asarray(off)
            if self.pbc:
                shifted = shifted % self.L
                keep = np.ones(len(coords), dtype=bool)
            else:
                keep = np.all((shifted >= 0) & (shifted < self.L), axis=1)
            i = np.arange(self.n_sites)[keep]
            j = self._site(shifted[keep])
            for a, b in zip(i.tolist(), j.tolist()):
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
        return np.array(sorted(pairs), dtype=np.int32).reshape(-1, 2)

    @cached_property
    def nn_bonds(self) -> np.ndarray:
        """Nearest-neighbour bonds, shape (n_bonds, 2)."""
        offsets = [(1,)] if self.kind == "chain" else [(1, 0), (0, 1)]
        return self._bonds_from_offsets(offsets)

    @cached_property
    def nnn_bonds(self) -> np.ndarray:
        """Next-nearest-neighbour bonds: distance 2 on the chain, diagonals on the square."""
        offsets = [(2,)] if self.kind == "chain" else [(1, 1), (1, -1)]
        return self._bonds_from_offsets(offsets)

    @cached_property
    def sublattice(self) -> np.ndarray:
        """0/1 checkerboard label of each site (meaningful for Marshall signs when bipartite)."""
        return (self._coords().sum(axis=1) % 2).astype(np.int8)

    @cached_property
    def translations(self) -> np.ndarray:
        """Permutations implementing every lattice translation, shape (n_translations, n_sites).

        Row t maps site i to the site it is moved to; ``s[translations[t]]`` is the
        translated configuration. Open lattices have only the identity.
        """
        coords = self._coords()
        if not self.pbc:
            return np.arange(self.n_sites, dtype=np.int32)[None, :]
        dim = coords.shape[1]
        shifts = np.stack(np.meshgrid(*[np.arange(self.L)] * dim, indexing="ij"), -1).reshape(-1, dim)
        return np.stack([self._site((coords + sh) % self.L) for sh in shifts]).astype(np.int32)

    def transform(self, matrix: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        """The permutation of the map x -> M x + shift, as a row of ``point_group``.

        Periodic lattices rotate and reflect about site 0 (then translate, modulo L); open ones
        about the centre. Row convention as ``translations``: ``s[perm]`` is the moved configuration.
        """
        coords = self._coords()
        op = np.atleast_2d(np.asarray(matrix))
        shift = np.zeros(coords.shape[1], int) if shift is None else np.asarray(shift)
        if self.pbc:
            moved = (coords @ op.T + shift) % self.L
        else:  # about the centre: doubled coordinates 2x - (L - 1) are symmetric around 0
            moved = ((2 * coords - (self.L - 1)) @ op.T + (self.L - 1)) // 2 + shift
        return self._site(moved).astype(np.int32)

    @cached_property
    def point_group(self) -> np.ndarray:
        """Permutations of the point group about the origin (periodic) or the centre (open).

        Square: the 8 elements of C4v (rotations by 0, 90, 180, 270 degrees and four
        reflections); chain: identity and reflection. Same convention as ``translations``.
        Duplicates (which small lattices have, e.g. L = 2) are removed, identity first.
        """
        ops = CHAIN_POINT_OPS if self.kind == "chain" else SQUARE_POINT_OPS
        return _unique_rows(np.stack([self.transform(op) for op in ops]))

    @cached_property
    def space_group(self) -> np.ndarray:
        """Every translation composed with every point-group element: shape (|G|, n_sites).

        8 L^2 elements on the periodic L x L square lattice (L >= 3), 2 L on the periodic chain
        (L >= 3); the point group alone on open lattices. Same convention as ``translations``:
        ``s[space_group[g]]`` is the transformed configuration. Identity first.
        """
        composed = [t[p] for t in self.translations for p in self.point_group]
        return _unique_rows(np.stack(composed).astype(np.int32))

    def symmetry_group(self, name: str) -> np.ndarray:
        """The permutation table of ``name``: 'translations' or 'space_group'."""
        if name == "translations":
            return self.translations
        if name == "space_group":
            return self.space_group
        raise ValueError(f"symmetries must be 'translations' or 'space_group', got {name!r}")


def _unique_rows(perms: np.ndarray) -> np.ndarray:
    """Distinct rows in order of first appearance."""
    seen: dict[tuple[int, ...], None] = {}
    for row in perms.tolist():
        seen.setdefault(tuple(row), None)
    return np.array(list(seen), dtype=np.int32)


def group_tables(perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multiplication and inverse tables of a permutation group.

    With (T_g s)_i = s[perms[g, i]], composition T_a T_b = T_{a·b} gives
    perms[a·b] = perms[b][perms[a]]. Returns (product, inverse): product[a, b] is the
    index of a·b, inverse[a] the index of a⁻¹. Raises ValueError if ``perms`` is not closed.
    """
    perms = np.ascontiguousarray(perms, dtype=np.int32)
    index = {row.tobytes(): k for k, row in enumerate(perms)}
    n_group = len(perms)
    product = np.empty((n_group, n_group), dtype=np.int32)
    for a in range(n_group):
        composed = np.ascontiguousarray(perms[:, perms[a]])  # row b: perms[b][perms[a]]
        for b, row in enumerate(composed):
            k = index.get(row.tobytes())
            if k is None:
                raise ValueError(f"the permutations are not closed under composition ({a}·{b})")
            product[a, b] = k
    identity = index.get(np.arange(perms.shape[1], dtype=np.int32).tobytes())
    if identity is None:
        raise ValueError("the permutations do not contain the identity")
    inverse = np.argmax(product == identity, axis=1).astype(np.int32)
    return product, inverse
