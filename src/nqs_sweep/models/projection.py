"""Which symmetry sector a point's network is in, and the projection of any network onto one.

A point's sector comes from its spec's ``symmetry`` (physics.symmetry for the quantum numbers),
or, when the spec has none, from the ground-state rule (physics.symmetry.ground_state_sector).
Three things follow from it:

- an equivariant network (gcnn) takes the sector's characters on its own group in its final
  sum; an invariant one (rbm_symm) can only be in the trivial one there, and is refused otherwise;
- ``symmetry.project: train`` (or ``final``, for the last ``final_steps`` steps) projects the
  network, built in or plug-in, onto the whole sector,

      ψ_χ(s) = Σ_c χ(c)* ψ(T_c s),

  summed stably in log space (complex log-sum-exp) over one representative c per coset of the
  group the network is already covariant under (for a gcnn over translations: the point group
  and the spin flip; for an unsymmetric network: every element);
- the exact reference is the sector's own ground state (physics.sector_exact), and the tables
  carry the sector's label in the ``symmetry`` column ("none" for a network in no sector).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models.activations import log_conj, log_sum_exp
from nqs_sweep.models.registry import NETWORKS
from nqs_sweep.physics.hamiltonians import MODELS, build_hamiltonian
from nqs_sweep.physics.symmetry import (
    Sector,
    SectorError,
    SymmetryGroup,
    build_group,
    check_sector,
    ground_state_sector,
    little_group,
)

if TYPE_CHECKING:
    from nqs_sweep.spec import PointSpec


# A reference in a symmetry sector costs one pass over the Hilbert sector to find the orbits
# (QuSpin: 38 s for the 1.6e8 states of the L = 30 chain, docs/symmetry.md) and a Lanczos in a
# block about |G| times smaller; past this Hilbert dimension the pass is refused.
MAX_SECTOR_HILBERT_DIM = 2**30


@dataclass(frozen=True, eq=False)
class SymmetryPlan:
    sector: Sector  # the part of the asked sector the point's network is in: label, exact reference
    network_characters: np.ndarray | None  # χ on the rows of the network's own group (gcnn)
    cosets: SymmetryGroup | None  # what the projection sums over; None: no projection
    # A trained pair product (sign_prior: z2_pair_product) times a symmetric network, projected:
    # the network's own group, over which the projection sums the pair product alone.
    pair_product_group: SymmetryGroup | None = None

    def label(self, L: int) -> str:
        return self.sector.label(L)


def _trivial(kind: str, dim: int, point_group: bool) -> Sector:
    return Sector((0,) * dim, ("even" if kind == "chain" else "A1") if point_group else None, None)


def default_sector(spec: PointSpec) -> Sector | None:
    """The ground state's sector by the rule of physics.symmetry (None where it does not know)."""
    lat = spec.lattice.build()
    ham = build_hamiltonian(spec, xp=np)
    return ground_state_sector(lat, np.asarray(ham.flip_coef), np.asarray(ham.exch_coef), np.asarray(ham.exch_bonds))


@lru_cache(maxsize=256)
def plan(spec: PointSpec) -> SymmetryPlan:
    """The point's sector; SectorError naming the spec field when the network cannot be in it."""
    lat = spec.lattice.build()
    a = spec.ansatz
    network = None if a.module else NETWORKS[a.name]
    # A trained pair product times a symmetric network is not symmetric once F leaves its start.
    # Projected, it is: the pair product is summed over the network's group (sign_prior.
    # wrap_trainable), which costs |H| determinants instead of |H| networks, and the projection
    # sums the product over the rest. Unprojected, the point is in no sector.
    given = spec.symmetry
    trained_pair_product = spec.sign_prior == "z2_pair_product"
    projected = given is not None and given.project != "none"
    symmetric = network is not None and network.symmetric and (projected or not trained_pair_product)
    own_group = lat.symmetry_group(a.symmetries) if symmetric else None
    covers_point_group = symmetric and a.symmetries == "space_group"
    dim = 1 if lat.kind == "chain" else 2
    if given is None:
        if not symmetric:
            return SymmetryPlan(Sector(), None, None)
        rule = default_sector(spec)
        quantum = rule if rule is not None else _trivial(lat.kind, dim, covers_point_group)
        project = "none"
    else:
        quantum, project = given.sector, given.project
    if quantum.spin_flip is not None and not MODELS[spec.model.name].spin_flip_symmetric:
        raise SectorError("symmetry.spin_flip", f"the {spec.model.name} does not commute with the spin flip: leave spin_flip out")

    characters = None
    own = Sector()
    if symmetric:
        own = quantum.restricted(translations=True, point_group=covers_point_group, spin_flip=False)
        whole = "chain" if lat.kind == "chain" else "C4v"
        check_sector(lat, own)  # a malformed momentum or an irrep its little group lacks, named first
        if (
            covers_point_group
            and own.point_group is not None
            and (own.point_group == "E" or little_group(lat.kind, lat.L, own.momentum) != whole)
        ):
            raise SectorError(
                "symmetry.point_group",
                f"{a.name} with ansatz.symmetries: space_group sums over the whole space group, whose one-dimensional "
                f"irreps are those of {whole} at the momenta it keeps; {own.label(lat.L)} is not one of them: use "
                "ansatz.symmetries: translations with symmetry.project: train (the projection takes the point group)",
            )
        if own.momentum is None:
            raise SectorError("symmetry.momentum", f"{a.name} is covariant under translations: name the momentum")
        if covers_point_group and own.point_group is None:
            raise SectorError(
                "symmetry.point_group",
                f"{a.name} with ansatz.symmetries: space_group is covariant under the point group: name its irrep, "
                "or use ansatz.symmetries: translations",
            )
        group = build_group(lat, own)
        lookup = {p.tobytes(): c for p, c in zip(group.perms, group.characters)}
        characters = np.array([lookup[row.astype(np.int32).tobytes()] for row in own_group])
        if not network.takes_characters and np.any(np.abs(characters - 1) > 1e-12):
            field = "symmetry.momentum" if any(own.momentum) else "symmetry.point_group"
            raise SectorError(
                field,
                f"{a.name} is invariant under its group (every character 1): it represents "
                f"{_trivial(lat.kind, dim, covers_point_group).label(lat.L)} only, and this point's sector is {own.label(lat.L)}"
                + ("" if given is not None else " (the ground state's, by the rule of docs/symmetry.md)")
                + ". Use gcnn, or an unsymmetric network with symmetry.project: train, or marshall_sign: true where it applies",
            )
        if np.all(np.abs(characters - 1) < 1e-12):
            characters = None

    cosets = None
    if project != "none":
        if quantum.is_empty:
            raise SectorError("symmetry.project", "projection needs quantum numbers: name momentum, point_group or spin_flip")
        if network is not None and network.autoregressive:
            raise SectorError(
                "symmetry.project",
                f"{a.name} is sampled directly from its normalised conditionals, which a projection would break: "
                "use project: none, or a network sampled by Metropolis",
            )
        full = build_group(lat, quantum)
        subgroup = own_group if symmetric else np.arange(lat.n_sites, dtype=np.int32)[None]
        cosets = full.coset_representatives(subgroup)
        sector = quantum
    else:
        if given is not None and not symmetric:
            name = a.module or a.name
            raise SectorError(
                "symmetry.project",
                f"{name} sums over no group, so it is in no sector unless projected: set project: train (or final), "
                "or leave symmetry out",
            )
        if given is not None:
            build_group(lat, quantum)  # quantum numbers the network does not use are still checked
        sector = own
    pair_product_group = None
    if symmetric and trained_pair_product:
        n_own = len(own_group)
        pair_product_group = SymmetryGroup(np.asarray(own_group, np.int32), np.zeros(n_own, bool), np.ones(n_own, complex))
    return SymmetryPlan(sector, characters, cosets, pair_product_group)


class _Cosets:
    """The coset representatives as arrays: T_c s = signs[c] s[perms[c]], and where site j lands."""

    def __init__(self, cosets: SymmetryGroup):
        self.n = len(cosets)
        self.perms = jnp.asarray(cosets.perms)
        self.landing = jnp.asarray(np.argsort(cosets.perms, axis=1))  # (T_c s)_i = s_j for i = landing[c, j]
        self.signs = jnp.asarray(np.where(cosets.flips, -1.0, 1.0))
        self.log_weights = log_conj(cosets.characters)

    def orbit(self, s: jax.Array) -> jax.Array:
        """(..., N) -> (..., C, N)."""
        return s[..., self.perms] * self.signs.astype(s.dtype)[:, None]

    def combine(self, lp: jax.Array) -> jax.Array:
        """log Σ_c χ(c)* ψ(T_c s) from log ψ(T_c s) (..., C)."""
        z = lp.astype(jnp.result_type(lp.dtype, jnp.complex64))
        return log_sum_exp(z + self.log_weights.astype(z.dtype))


def orbit_function(cosets: SymmetryGroup) -> Callable:
    """s (..., N) -> (T_c s) (..., C, N)."""
    return _Cosets(cosets).orbit


def project(log_psi_tree: Callable, cosets: SymmetryGroup) -> Callable:
    """log ψ_χ(s) = log Σ_c χ(c)* ψ(T_c s) for a batched log ψ on (..., N)."""
    c = _Cosets(cosets)

    def projected(params, s: jax.Array) -> jax.Array:
        batch, n = s.shape[:-1], s.shape[-1]
        lp = log_psi_tree(params, c.orbit(s).reshape(-1, n)).reshape(*batch, c.n)
        return c.combine(lp)

    return projected


def project_kernels(log_psi_tree: Callable, kernels: dict, cosets: SymmetryGroup) -> dict:
    """The network's incremental flip kernels carried through the projection: the cache of s is the
    network's cache of every T_c s with its log ψ(T_c s); a move flips, in T_c s, the sites it
    lands on. A proposal then costs C kernel updates instead of C forward passes ({} without
    kernels)."""
    if not all(k in kernels for k in ("cache_tree", "flip_tables_tree", "flip_ratio_tree")):
        return {}
    c = _Cosets(cosets)
    base_cache, base_ratio = kernels["cache_tree"], kernels["flip_ratio_tree"]

    def cache_tree(params, s: jax.Array):
        batch, n = s.shape[:-1], s.shape[-1]
        orbit = c.orbit(s).reshape(-1, n)
        caches = jax.tree.map(lambda x: x.reshape(*batch, c.n, *x.shape[1:]), base_cache(params, orbit))
        lp = log_psi_tree(params, orbit).reshape(*batch, c.n)
        return caches, lp.astype(jnp.result_type(lp.dtype, jnp.complex64))

    def flip_ratio_tree(tables, s: jax.Array, cache, sites: jax.Array, active: jax.Array):
        caches, lp = cache
        ratios, new_caches = jax.vmap(base_ratio, in_axes=(None, 0, 0, 0, None))(
            tables, c.orbit(s), caches, c.landing[:, sites], active
        )
        new_lp = lp + ratios
        return c.combine(new_lp) - c.combine(lp), (new_caches, new_lp)

    return {
        "cache_tree": cache_tree,
        "flip_tables_tree": kernels["flip_tables_tree"],
        "flip_ratio_tree": flip_ratio_tree,
        "single_flip_kernel": kernels.get("single_flip_kernel", False),  # the landing sites of any move
    }


def reference_dim(spec: PointSpec) -> float:
    """The dimension an exact reference of the point diagonalises: the Hilbert sector, or for a
    point in a symmetry sector its block (estimated as the Hilbert sector over the group's order;
    inf past MAX_SECTOR_HILBERT_DIM). Compared with a study's exact.max_dim."""
    from nqs_sweep.physics import hilbert

    dim = hilbert.hilbert_dim(spec.n_sites, spec.sector)
    sector = plan(spec).sector
    if sector.is_empty:
        return dim
    if dim > MAX_SECTOR_HILBERT_DIM:
        return float("inf")
    return dim / len(build_group(spec.lattice.build(), sector))
