"""Exact ground states by sparse Lanczos (scipy ``eigsh``), built from the same bond tables.

The full space is matrix-free: basis index k has site i in bit N-1-i, so a flip
of a set of sites is k XOR mask and needs no index lookup. At 2^24 amplitudes each
vector costs 128 MiB; the index, the diagonal, the Lanczos vectors and the
temporaries of a matvec make a few GiB in all. The zero-magnetisation sector is a CSR matrix over the sorted sector
basis (positions found by binary search once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import Hamiltonian, build_hamiltonian
from nqs_sweep.spec import PointSpec, SpecError

# Largest Hilbert (or sector) dimension we diagonalise: the full space of 24 spins,
# the zero-magnetisation sector of 26. Lanczos there takes minutes on 2 cores.
MAX_EXACT_DIM = 2**24


@dataclass(frozen=True)
class ExactResult:
    energy: float
    hilbert_dim: int
    sector: str
    runtime_s: float
    ground_state: np.ndarray | None = None  # in the sector basis, sorted basis index


def check_feasible(spec: PointSpec) -> int:
    """The dimension to diagonalise, or a SpecError if it is past the limit."""
    dim = hilbert.hilbert_dim(spec.n_sites, spec.sector)
    if dim > MAX_EXACT_DIM:
        raise SpecError(
            "lattice.L",
            f"exact diagonalisation needs a Hilbert dimension <= {MAX_EXACT_DIM} "
            f"(N <= 24 sites in the full space, N <= 26 at zero magnetisation); "
            f"this point has N={spec.n_sites}, sector {spec.sector}, dimension {dim}",
        )
    return dim


def has_closed_form(spec: PointSpec) -> bool:
    """The periodic Ising chain in the full space maps to free fermions (Jordan-Wigner), at any
    L >= 3 (two sites have one bond, not two: lattice.py merges the wrap-around bond). An
    antiferromagnetic chain maps to the ferromagnet only when L is even."""
    if spec.model.name != "tfim" or spec.lattice.kind != "chain" or not spec.lattice.pbc or spec.sector != "full":
        return False
    if spec.lattice.L < 3:
        return False
    return spec.model.coupling("J") >= 0 or spec.lattice.L % 2 == 0


def free_fermion_energy(L: int, J: float, h: float) -> float:
    """Ground-state energy of H = -J Σ σᶻᵢσᶻᵢ₊₁ - h Σ σˣᵢ on the periodic chain of L sites.

    The ground state lies in the even-parity sector, where the fermions are antiperiodic:
    E₀ = -Σ_k sqrt(J² + h² - 2|J||h| cos k) over k = (2n+1)π/L, n = 0..L-1 (Pfeuty 1970).
    """
    k = np.pi * (2 * np.arange(L) + 1) / L
    J, h = abs(J), abs(h)
    return float(-np.sum(np.sqrt(J * J + h * h - 2 * J * h * np.cos(k))))


def _bit(n_sites: int, site: np.ndarray) -> np.ndarray:
    return np.left_shift(np.int64(1), (n_sites - 1 - np.asarray(site)).astype(np.int64))


def _diagonal(ham: Hamiltonian, basis: np.ndarray, n_sites: int) -> np.ndarray:
    diag = np.zeros(basis.shape, np.float64)
    for (i, j), c in zip(ham.zz_bonds, ham.zz_coef):
        differ = ((basis >> (n_sites - 1 - i)) ^ (basis >> (n_sites - 1 - j))) & 1
        diag += c * (1 - 2 * differ)
    return diag


def _off_diagonal_terms(ham: Hamiltonian, n_sites: int):
    """(mask, coefficient, needs_antiparallel, i, j) for every off-diagonal term."""
    for site, c in zip(ham.flip_sites, ham.flip_coef):
        yield _bit(n_sites, site), c, False, site, site
    for (i, j), c in zip(ham.exch_bonds, ham.exch_coef):
        yield _bit(n_sites, i) | _bit(n_sites, j), c, True, i, j


def full_space_operator(ham: Hamiltonian, n_sites: int) -> LinearOperator:
    idx = np.arange(2**n_sites, dtype=np.int64)
    diag = _diagonal(ham, idx, n_sites)
    terms = list(_off_diagonal_terms(ham, n_sites))

    def matvec(x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        y = diag * x
        for mask, c, antiparallel_only, i, j in terms:
            gathered = x[idx ^ mask]
            if antiparallel_only:  # recomputed per call: a stored mask per bond would cost 8 bytes x 2^N each
                gathered = gathered * (((idx >> (n_sites - 1 - i)) ^ (idx >> (n_sites - 1 - j))) & 1)
            y += c * gathered
        return y

    return LinearOperator((idx.size, idx.size), matvec=matvec, dtype=np.float64)


def sector_matrix(ham: Hamiltonian, n_sites: int, sector: str) -> sp.csr_matrix:
    basis = hilbert.sector_indices(n_sites, sector)
    dim = basis.size
    rows, cols, vals = [np.arange(dim)], [np.arange(dim)], [_diagonal(ham, basis, n_sites)]
    for mask, c, antiparallel_only, i, j in _off_diagonal_terms(ham, n_sites):
        keep = np.ones(dim, bool)
        if antiparallel_only:
            keep = (((basis >> (n_sites - 1 - i)) ^ (basis >> (n_sites - 1 - j))) & 1).astype(bool)
        src = np.nonzero(keep)[0]
        target = basis[src] ^ mask
        pos = np.searchsorted(basis, target)
        inside = (pos < dim) & (basis[np.minimum(pos, dim - 1)] == target)
        rows.append(pos[inside])
        cols.append(src[inside])
        vals.append(np.full(inside.sum(), c))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim))


def ground_state(spec: PointSpec, keep_vector: bool = False) -> ExactResult:
    """Lowest eigenvalue of H in the spec's sector (the Marshall rotation leaves it unchanged)."""
    dim = check_feasible(spec)
    start = time.perf_counter()
    ham = build_hamiltonian(spec, xp=np)
    n = spec.n_sites
    op = full_space_operator(ham, n) if spec.sector == "full" else sector_matrix(ham, n, spec.sector)
    if dim <= 64:
        dense = op.toarray() if sp.issparse(op) else op @ np.eye(dim)
        evals, evecs = np.linalg.eigh(dense)
        energy, vec = evals[0], evecs[:, 0]
    else:
        # A random start vector: a uniform one can be orthogonal to the ground state
        # by symmetry (momentum π ground states of the Heisenberg chain, say).
        v0 = np.random.default_rng(0).standard_normal(dim)
        evals, evecs = eigsh(op, k=1, which="SA", v0=v0, tol=1e-12)
        energy, vec = evals[0], evecs[:, 0]
    return ExactResult(float(energy), dim, spec.sector, time.perf_counter() - start, vec if keep_vector else None)


def sign_rule_bound(spec: PointSpec, max_dim: int = 2**20, seed: int = 0) -> float:
    """The lowest energy of any state whose amplitudes are non-negative in the spec's basis (the
    Marshall-rotated one with ``marshall_sign``), times the spec's ``sign_prior`` where it has one:
    what a network with a positive output (real parameters, equal-weight symmetric sums) can reach
    at best, however well it is optimised.

    min over a ≥ 0 of aᵀHa / aᵀa, by L-BFGS-B with the bounds a ≥ 0 from a random positive start,
    then polished: on its support S the minimiser is an eigenvector of H_SS, so where the lowest
    one is positive its eigenvalue is the answer to machine precision. A local minimum, not proven
    global; tests/test_exact.py checks it against every support of two 16-state problems, and on
    4×4 J1-J2 (J2 = 0.5) two random starts agreed to 1e-15 relative. Equal to the ground energy
    where the Hamiltonian is stoquastic in this basis (Perron-Frobenius)."""
    from scipy.optimize import minimize

    if spec.sign_prior == "z2_pair_product":  # its signs are trained: no fixed sign to bound
        raise SpecError("sign_prior", "z2_pair_product trains its signs; the sign-rule bound needs a fixed sign (z2_spin_liquid)")
    dim = check_feasible(spec)
    if dim > max_dim:
        raise SpecError("lattice.L", f"the sign-rule bound is computed up to {max_dim} basis states; this spec has {dim}")
    ham = build_hamiltonian(spec, xp=np)
    n = spec.n_sites
    op = sector_matrix(ham, n, spec.sector)
    if spec.sign_prior != "none":
        op = _signed(op, spec)

    def quotient(a: np.ndarray) -> tuple[float, np.ndarray]:
        norm = a @ a
        ha = op @ a
        e = (a @ ha) / norm
        return e, 2 * (ha - e * a) / norm

    a0 = np.random.default_rng(seed).random(dim) + 0.1
    res = minimize(
        quotient,
        a0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * dim,
        options={"maxiter": 20_000, "ftol": 1e-15, "gtol": 1e-12},
    )
    support = np.nonzero(res.x > 1e-9 * res.x.max())[0]
    block = op[support][:, support]
    if support.size <= 2048:
        vals, vecs = np.linalg.eigh(block.toarray())
    else:
        vals, vecs = eigsh(block, k=1, which="SA", v0=res.x[support], tol=1e-12)
    vec = vecs[:, 0] * np.sign(vecs[:, 0].sum())
    return float(min(vals[0], res.fun)) if np.all(vec > 0) else float(res.fun)


def _signed(op: sp.csr_matrix, spec: PointSpec) -> sp.csr_matrix:
    """D H D with D the spec's sign prior on the sector's basis states: the Hamiltonian in the
    basis where the prior's signs are +1."""
    import jax.numpy as jnp

    from nqs_sweep.models import sign_prior

    f = jnp.asarray(sign_prior.pairing(spec.sign_prior, spec.lattice.build()))
    states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), f.dtype)
    d = np.where(np.asarray(sign_prior.negative(f, states)), -1.0, 1.0)
    return sp.diags(d) @ op @ sp.diags(d)
