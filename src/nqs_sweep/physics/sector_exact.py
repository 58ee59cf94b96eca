"""Lanczos in a symmetry sector: the orbit-representative basis of a group with characters.

Within the Hilbert sector (full space or zero magnetisation), the states with
ψ(T_g s) = χ(g) ψ(s) are fixed by their values on one representative r per orbit (the
smallest basis index): ψ(T_g r) = χ(g) ψ(r). A representative whose stabiliser has a character
≠ 1 carries ψ(r) = 0 and is dropped. In the orthonormal coefficients c_r = √|O_r| ψ(r) (|O_r| the
orbit size) the Hamiltonian is

    M[r, r'] = Σ_{s' ∈ O_r'} H[r, s'] χ(g_s')* √(|O_r| / |O_r'|),    T_g_s' s' = r',

built from the same bond tables as physics.exact. The block is |G| times smaller than the
Hilbert sector (up to the orbits shortened by a stabiliser), and complex where χ is.

Finding each state's representative costs O(|G| N) bit operations per state of the Hilbert
sector; that pass, not the Lanczos, bounds the size (see docs/symmetry.md for timings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import _diagonal, _off_diagonal_terms
from nqs_sweep.physics.hamiltonians import Hamiltonian
from nqs_sweep.physics.symmetry import SymmetryGroup


@dataclass(frozen=True)
class SectorBasis:
    basis: np.ndarray  # sorted indices of the Hilbert sector
    rep_position: np.ndarray  # (D,) position in ``basis`` of each state's representative
    phase: np.ndarray  # (D,) χ(g)* with T_g s = r: ψ(s) = phase ψ(r)
    reps: np.ndarray  # positions (in basis) of the kept representatives, increasing
    orbit: np.ndarray  # (R,) orbit size of each kept representative
    block_of: np.ndarray  # (D,) index in reps of each state's representative, -1 if dropped

    @property
    def dim(self) -> int:
        return len(self.reps)


def _image(index: np.ndarray, perm: np.ndarray, flip: bool, n_sites: int) -> np.ndarray:
    """Basis index of T_g s for every s: bit N-1-i of the image is bit N-1-perm[i] of s, flipped if f."""
    out = np.zeros_like(index)
    for i, src in enumerate(perm.tolist()):
        out |= ((index >> (n_sites - 1 - src)) & 1) << (n_sites - 1 - i)
    if flip:
        out ^= (1 << n_sites) - 1
    return out


def sector_basis(n_sites: int, hilbert_sector: str, group: SymmetryGroup) -> SectorBasis:
    basis = hilbert.sector_indices(n_sites, hilbert_sector)
    rep = basis.copy()
    phase = np.ones(basis.shape, np.complex128)
    stab_size = np.zeros(basis.shape, np.int32)
    stab_char = np.zeros(basis.shape, np.complex128)
    for perm, flip, chi in zip(group.perms, group.flips, group.characters):
        image = _image(basis, perm, bool(flip), n_sites)
        smaller = image < rep
        rep = np.where(smaller, image, rep)
        phase = np.where(smaller, np.conj(chi), phase)
        fixed = image == basis
        stab_size += fixed
        stab_char += np.where(fixed, chi, 0)
    rep_position = np.searchsorted(basis, rep)
    keep = (rep == basis) & (np.abs(stab_char - stab_size) < 1e-9)
    reps = np.nonzero(keep)[0]
    block_of = np.full(basis.shape, -1, np.int64)
    block_of[reps] = np.arange(len(reps))
    orbit = len(group) // stab_size[reps]
    return SectorBasis(basis, rep_position, phase, reps, orbit, block_of[rep_position])


def sector_block(ham: Hamiltonian, n_sites: int, sb: SectorBasis, dtype) -> sp.csr_matrix:
    """M of the module docstring, (R, R)."""
    basis, reps = sb.basis, sb.reps
    r_index = basis[reps]
    rows, cols, vals = [np.arange(sb.dim)], [np.arange(sb.dim)], [_diagonal(ham, r_index, n_sites).astype(dtype)]
    sqrt_orbit = np.sqrt(sb.orbit.astype(np.float64))
    for mask, c, antiparallel_only, i, j in _off_diagonal_terms(ham, n_sites):
        keep = np.ones(sb.dim, bool)
        if antiparallel_only:
            keep = (((r_index >> (n_sites - 1 - i)) ^ (r_index >> (n_sites - 1 - j))) & 1).astype(bool)
        src = np.nonzero(keep)[0]
        pos = np.searchsorted(basis, r_index[src] ^ mask)  # inside the Hilbert sector by construction
        target = sb.block_of[pos]
        alive = target >= 0
        src, pos, target = src[alive], pos[alive], target[alive]
        rows.append(src)
        cols.append(target)
        element = c * sb.phase[pos] * sqrt_orbit[src] / sqrt_orbit[target]
        vals.append(element.real if dtype == np.float64 else element)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(sb.dim, sb.dim))


@dataclass(frozen=True)
class SectorResult:
    energy: float
    block_dim: int
    hilbert_dim: int
    runtime_s: float
    basis: SectorBasis | None = None
    vector: np.ndarray | None = None  # coefficients c_r on the kept representatives


def sector_ground_state(
    ham: Hamiltonian, n_sites: int, hilbert_sector: str, group: SymmetryGroup, keep_vector: bool = False
) -> SectorResult:
    """Lowest eigenvalue of H among the states of the sector (ValueError if the sector is empty)."""
    start = time.perf_counter()
    sb = sector_basis(n_sites, hilbert_sector, group)
    if sb.dim == 0:
        raise ValueError("the symmetry sector is empty on this lattice and Hilbert sector")
    dtype = np.float64 if group.is_real else np.complex128
    block = sector_block(ham, n_sites, sb, dtype)
    if sb.dim <= 64:
        evals, evecs = np.linalg.eigh(block.toarray())
    else:
        v0 = np.random.default_rng(0).standard_normal(sb.dim).astype(dtype)
        evals, evecs = eigsh(block, k=1, which="SA", v0=v0, tol=1e-12)
    runtime = time.perf_counter() - start
    vec = evecs[:, 0] if keep_vector else None
    return SectorResult(float(evals[0]), sb.dim, len(sb.basis), runtime, sb if keep_vector else None, vec)


def expand(result: SectorResult) -> np.ndarray:
    """The sector's state on the whole Hilbert sector (sorted basis), normalised."""
    sb, c = result.basis, result.vector
    if sb is None or c is None:
        raise ValueError("expand needs sector_ground_state(..., keep_vector=True)")
    psi_rep = c / np.sqrt(sb.orbit)
    out = np.zeros(len(sb.basis), np.complex128)
    alive = sb.block_of >= 0
    out[alive] = sb.phase[alive] * psi_rep[sb.block_of[alive]]
    return out / np.linalg.norm(out)
