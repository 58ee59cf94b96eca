"""Exact quench dynamics for references: Lanczos–Krylov propagation of the state vector.

The evolving Hamiltonian is the same sparse operator as the exact ground state's
(matrix-free in the full space, CSR in the zero-magnetisation sector). Each interval
between measurement times is covered by Krylov steps e^{-iHτ}v ≈ β Q e^{-iTτ} e₁
(Lanczos, full reorthogonalisation), with τ halved until the standard a-posteriori
error estimate β_m |[e^{-iTτ}e₁]_m| is below ``tol``. Imaginary time uses e^{-Hτ}
and renormalises. Observables are those of observables.py, in the same (Marshall-
rotated, when asked) frame as the variational state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nqs_sweep.mc.observables import OBSERVABLES
from nqs_sweep.measure import flat_exact
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import full_space_operator, ground_state, sector_matrix
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.quench import QuenchSpec, initial_point_spec

KRYLOV_DIM = 24
KRYLOV_TOL = 1e-12


def _operator(spec):
    ham = build_hamiltonian(spec, xp=np)
    if spec.sector == "full":
        return full_space_operator(ham, spec.n_sites)
    return sector_matrix(ham, spec.n_sites, spec.sector)


def initial_vector(q: QuenchSpec) -> np.ndarray:
    """The exact initial state: the ground state of the initial couplings, or the product state."""
    n = q.n_sites
    if q.initial.kind == "ground_state":
        return ground_state(initial_point_spec(q), keep_vector=True).ground_state.astype(np.complex128)
    dim = 2**n
    if q.initial.direction == "x":
        return np.full(dim, 1 / math.sqrt(dim), np.complex128)
    v = np.zeros(dim, np.complex128)
    v[0] = 1.0  # index 0: every bit 0, every spin up
    return v


def krylov_propagate(matvec, v: np.ndarray, tau: float, kind: str, m: int = KRYLOV_DIM, tol: float = KRYLOV_TOL) -> np.ndarray:
    """e^{-iHτ} v (kind 'real') or e^{-Hτ} v / ‖·‖ (kind 'imaginary')."""
    done = 0.0
    while tau - done > 1e-15 * max(1.0, tau):
        beta = np.linalg.norm(v)
        q = [v / beta]
        alpha, betas = [], []
        for j in range(m):
            w = matvec(q[j])
            a = np.vdot(q[j], w).real
            w = w - a * q[j] - (betas[-1] * q[j - 1] if j else 0)
            for qi in q:  # full reorthogonalisation: cheap at these m, and T stays faithful
                w = w - np.vdot(qi, w) * qi
            alpha.append(a)
            b = np.linalg.norm(w)
            if b < 1e-14 * beta or j == m - 1:
                betas.append(b)
                break
            betas.append(b)
            q.append(w / b)
        k = len(alpha)
        t_mat = np.diag(alpha) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
        mu, u = np.linalg.eigh(t_mat)
        step = tau - done
        while True:
            if kind == "real":
                c = u @ (np.exp(-1j * step * mu) * u[0])
            else:
                c = u @ (np.exp(-step * (mu - mu[0])) * u[0])
            err = betas[-1] * abs(c[-1]) if betas[-1] >= 1e-14 * beta else 0.0
            if err <= tol or step < 1e-12:
                break
            step /= 2
        v = beta * (np.stack(q[:k], axis=1) @ c)
        if kind == "imaginary":
            v = v / np.linalg.norm(v)
        done += step
    return v


@dataclass(frozen=True)
class ExactContext:
    """What the exact estimators of nqs_sweep.mc.observables read: the lattice, the spins of every
    basis state of the sector (one array per site), and the Hamiltonian's operator."""

    lattice: Lattice
    n_sites: int
    marshall_sign: bool
    spins: list
    hamiltonian: Any


def exact_context(spec, op) -> ExactContext:
    n = spec.n_sites
    basis = hilbert.sector_indices(n, spec.sector)
    spins = [1 - 2 * ((basis >> (n - 1 - i)) & 1).astype(np.int8) for i in range(n)]
    return ExactContext(spec.lattice.build(), n, spec.marshall_sign, spins, op)


def _diagonal_observables(q: QuenchSpec, ctx: ExactContext) -> dict[str, np.ndarray]:
    return {name: OBSERVABLES[name].diagonal(ctx) for name in q.dynamics.observables if OBSERVABLES[name].diagonal is not None}


def measure(q: QuenchSpec, v: np.ndarray, ctx: ExactContext, diagonals: dict[str, np.ndarray]) -> dict[str, float]:
    p = np.abs(v) ** 2
    p = p / p.sum()
    out = {}
    for name in q.dynamics.observables:
        if name in diagonals:
            out[name] = float(p @ diagonals[name])
        else:
            out[name] = OBSERVABLES[name].exact(ctx, v)
    # the point's measurements ('renyi2: sites 0-5', ...), up to measure.MAX_EXACT_SITES sites
    out.update(flat_exact(q.point, v, q.point.marshall_sign))
    return out


def exact_trajectory(q: QuenchSpec, times: list[float], v0: np.ndarray | None = None) -> tuple[list[dict[str, float]], float]:
    """Observables of the exact state at ``times`` (increasing, from 0), starting from v0 (default:
    :func:`initial_vector`); returns (rows, seconds)."""
    start = time.perf_counter()
    op = _operator(q.point)
    ctx = exact_context(q.point, op)
    diagonals = _diagonal_observables(q, ctx)
    v = initial_vector(q) if v0 is None else np.asarray(v0, np.complex128)
    rows, t_prev = [], 0.0
    for t in times:
        if t > t_prev:
            v = krylov_propagate(lambda x: op @ x, v, t - t_prev, q.dynamics.kind)
            t_prev = t
        rows.append(measure(q, v, ctx, diagonals))
    return rows, time.perf_counter() - start
