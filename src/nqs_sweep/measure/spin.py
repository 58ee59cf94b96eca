"""Spin measurements linear in Pauli strings: correlations, structure factor, staggered
magnetisation, dimer correlations, and strings the user names.

Distances are Euclidean, between minimum images on periodic lattices; a distance class is every
pair (i < j) at that distance, averaged. Momenta are q = 2π n / L per direction, on open lattices
too (there S(q) is the Fourier transform of the finite system's correlations).
"""

from __future__ import annotations

import numpy as np

from nqs_sweep.measure.base import PauliMeasurement, Row, register_measurement
from nqs_sweep.measure.pauli import PauliString, hermitian_product, z_string
from nqs_sweep.physics.lattice import Lattice

COMPONENTS = ("zz", "xx", "yy")


def distance_classes(lattice: Lattice, pairs: np.ndarray) -> dict[float, list[int]]:
    """|r_j − r_i| (rounded to 1e-9) -> indices into pairs, in increasing distance."""
    d = lattice.displacements[pairs[:, 0], pairs[:, 1]]
    dist = np.round(np.sqrt((d.astype(float) ** 2).sum(axis=1)), 9)
    return {float(r): list(np.nonzero(dist == r)[0]) for r in np.unique(dist)}


def all_pairs(n: int) -> np.ndarray:
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1)


class Correlations(PauliMeasurement):
    name = "correlations"
    description = "C(r) = mean over pairs i < j at distance r of ⟨σᵃ_i σᵃ_j⟩, per component a"
    options = {"components": ["zz"]}

    def parse(self, raw, lattice, sector, path):
        from nqs_sweep.spec import SpecError

        opts = super().parse(raw, lattice, sector, path)
        comps = opts["components"]
        if not isinstance(comps, list) or not comps or any(c not in COMPONENTS for c in comps) or len(set(comps)) < len(comps):
            raise SpecError(f"{path}.components", f"must be a non-empty list drawn from {', '.join(COMPONENTS)}; got {comps!r}")
        return opts

    def rows(self, lattice, options):
        pairs = all_pairs(lattice.n_sites)
        rows = []
        for comp in options["components"]:
            op = comp[0].upper()
            for r, members in distance_classes(lattice, pairs).items():
                terms = tuple((1.0 / len(members), PauliString.of({pairs[k, 0]: op, pairs[k, 1]: op})) for k in members)
                rows.append(Row(f"{comp} r={r:g}", r, terms))
        return rows


def momenta(lattice: Lattice) -> list[tuple[int, ...]]:
    """Every lattice momentum as integers n (q = 2π n / L), in row-major order."""
    if lattice.kind == "chain":
        return [(n,) for n in range(lattice.L)]
    return [(nx, ny) for ny in range(lattice.L) for nx in range(lattice.L)]


def momentum_label(n: tuple[int, ...], L: int) -> str:
    return f"q=2π({','.join(map(str, n))})/{L}"


def structure_factor_terms(lattice: Lattice, weights_of_pair) -> tuple:
    """(1/N) Σ_ij w_ij σᶻ_i σᶻ_j written as strings: the diagonal i = j gives Σ_i w_ii / N times
    the identity, and each pair i < j appears twice."""
    n = lattice.n_sites
    pairs = all_pairs(n)
    w = weights_of_pair(pairs)
    diagonal = weights_of_pair(np.stack([np.arange(n), np.arange(n)], axis=1)).sum() / n
    return ((float(diagonal), PauliString(())), *((2.0 * float(c) / n, z_string(p)) for c, p in zip(w, pairs) if c != 0))


class StructureFactor(PauliMeasurement):
    name = "structure_factor"
    description = "S(q) = (1/N) Σ_ij e^{iq·(r_i − r_j)} ⟨σᶻ_i σᶻ_j⟩ at every lattice momentum"

    def rows(self, lattice, options):
        coords = lattice.coords.astype(float)
        rows = []
        for k, n in enumerate(momenta(lattice)):
            q = 2 * np.pi * np.array(n) / lattice.L
            terms = structure_factor_terms(lattice, lambda p, q=q: np.cos((coords[p[:, 1]] - coords[p[:, 0]]) @ q))
            rows.append(Row(momentum_label(n, lattice.L), float(k), terms))
        return rows


class StaggeredMagnetisation(PauliMeasurement):
    name = "staggered_magnetisation"
    description = "⟨m_s²⟩, m_s = (1/N) Σ_i ε_i σᶻ_i with ε = ±1 on the two sublattices (S(π)/N)"

    def parse(self, raw, lattice, sector, path):
        from nqs_sweep.spec import SpecError

        if not lattice.is_bipartite:
            raise SpecError(path, f"needs a bipartite lattice; a periodic lattice of odd L = {lattice.L} is not")
        return super().parse(raw, lattice, sector, path)

    def rows(self, lattice, options):
        eps = 1 - 2 * lattice.sublattice.astype(float)
        n = lattice.n_sites
        terms = structure_factor_terms(lattice, lambda p: eps[p[:, 0]] * eps[p[:, 1]] / n)
        return [Row("m_s^2", 0.0, terms)]


DIMER_OPERATORS = ("zz", "heisenberg")


def dimer_terms(bond: np.ndarray, operator: str) -> tuple[tuple[float, PauliString], ...]:
    """D_b as (coefficient, string) terms: σᶻ_i σᶻ_j, or σ_i · σ_j = XX + YY + ZZ."""
    if operator == "zz":
        return ((1.0, z_string(bond)),)
    i, j = (int(x) for x in bond)
    return tuple((1.0, PauliString.of({i: op, j: op})) for op in "XYZ")


class Dimers(PauliMeasurement):
    name = "dimers"
    description = (
        "connected dimer correlations ⟨D_b D_b'⟩ − ⟨D⟩² on bonds b along x, per distance between the "
        "bonds' first sites (b ≠ b'); D_b = σᶻ_i σᶻ_j (operator: zz) or σ_i · σ_j (operator: heisenberg, "
        "the symmetrised product ½{D_b, D_b'} where bonds share a site)"
    )
    options = {"operator": "zz"}

    def parse(self, raw, lattice, sector, path):
        from nqs_sweep.spec import SpecError

        opts = super().parse(raw, lattice, sector, path)
        if opts["operator"] not in DIMER_OPERATORS:
            raise SpecError(f"{path}.operator", f"must be one of {', '.join(DIMER_OPERATORS)}; got {opts['operator']!r}")
        # The default is left out of the stored spec: points measured before the option existed keep their hash.
        return {} if opts["operator"] == "zz" else opts

    def rows(self, lattice, options):
        operator = options.get("operator", "zz")
        bonds = lattice.nn_bonds
        d = lattice.displacements[bonds[:, 0], bonds[:, 1]]
        along = (np.abs(d[:, 0]) == 1) & np.all(d[:, 1:] == 0, axis=1)
        # (start, start + x̂): a bond's position is its start, also for the one across the boundary
        along_x = np.where(d[along][:, :1] == 1, bonds[along], bonds[along][:, ::-1])
        if len(along_x) < 2:
            return []
        dimers = [dimer_terms(b, operator) for b in along_x]
        mean_dimer = tuple((c / len(along_x), p) for terms in dimers for c, p in terms)
        pairs = all_pairs(len(along_x))
        first = np.stack([along_x[pairs[:, 0], 0], along_x[pairs[:, 1], 0]], axis=1)
        rows = []
        for r, members in distance_classes(lattice, first).items():
            if r == 0:
                continue
            terms = tuple(
                (c / len(members), p) for k in members for c, p in hermitian_product(dimers[pairs[k, 0]], dimers[pairs[k, 1]])
            )
            rows.append(Row(f"r={r:g}", r, terms, (mean_dimer, mean_dimer)))
        return rows


class PauliStrings(PauliMeasurement):
    name = "pauli"
    description = "⟨P⟩ of each Pauli string named in `strings`, e.g. 'X0 X1', 'Z0 Z3 Z5'"
    options = {"strings": None}

    def parse(self, raw, lattice, sector, path):
        from nqs_sweep.spec import SpecError

        opts = super().parse(raw, lattice, sector, path)
        strings = opts["strings"]
        if not isinstance(strings, list) or not strings:
            raise SpecError(f"{path}.strings", f"must be a non-empty list of Pauli strings such as 'X0 X1'; got {strings!r}")
        parsed = []
        for i, text in enumerate(strings):
            try:
                parsed.append(PauliString.parse(text, lattice.n_sites).label())
            except ValueError as err:
                raise SpecError(f"{path}.strings[{i}]", str(err)) from None
        if len(set(parsed)) < len(parsed):
            raise SpecError(f"{path}.strings", f"lists a string twice: {strings}")
        return {"strings": parsed}

    def rows(self, lattice, options):
        return [
            Row(text, float(k), ((1.0, PauliString.parse(text, lattice.n_sites)),)) for k, text in enumerate(options["strings"])
        ]


for _m in (Correlations(), StructureFactor(), StaggeredMagnetisation(), Dimers(), PauliStrings()):
    register_measurement(_m)
