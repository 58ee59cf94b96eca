"""The TDVP equation of motion: θ̇ from samples, with its regularisation and diagnostics.

For real parameters θ (complex networks are split into [Re p, Im p], see models/),
McLachlan's principle min ‖Σ_k ΔO_k θ̇_k − Δg‖ over θ̇ gives S θ̇ = F with
S = Re⟨ΔO* ΔO⟩ and F = Re⟨ΔO* Δg⟩, where the target is Δg = −i ΔE_loc in real time
(S θ̇ = Im⟨ΔO* ΔE⟩, the "S θ̇ = −iF" of the complex form) and Δg = −ΔE_loc in
imaginary time. Centring (Δ) removes the norm and global phase, which the
projective dynamics leaves free. In the real row form of estimators.centred_real_rows,
the problem is the least-squares system Õ θ̇ ≈ ỹ.

S is singular or nearly so; the solve works in its eigenbasis S = V diag(λ) Vᵀ with
ρ = Vᵀ F and θ̇ = V diag(f_k / λ_k) ρ, where the filter f is
  diag_shift  λ/(λ + ε)                                           (Tikhonov)
  pinv        1 / (1 + (rcond λ_max / λ)^6)                       (smooth cutoff)
  snr         the pinv filter × 1 / (1 + (threshold / SNR_k)^6)   (Schmitt & Heyl 2020)
SNR_k = |ρ_k| √n / σ_k, with σ_k the standard deviation over samples of the k-th
component's per-sample contribution; with exact enumeration there is no noise and
the SNR filter is 1.

The TDVP residual r² = ‖Õθ̇ − ỹ‖² / ‖ỹ‖² is the relative squared distance between
the exact and the variational update (‖ỹ‖² is the energy variance).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep.mc.estimate import Hyper, estimate
from nqs_sweep.mc.estimators import centred_real_rows, log_derivatives
from nqs_sweep.mc.sampler import ChainState
from nqs_sweep.problem import Problem
from nqs_sweep.quench import DynamicsSpec, Regularization

SMOOTH_POWER = 6


class TDVPInfo(NamedTuple):
    energy: jax.Array
    energy_error: jax.Array
    variance: jax.Array
    residual: jax.Array  # r², relative
    n_kept: jax.Array  # directions with filter > 1/2
    qgt_max: jax.Array  # largest eigenvalue of S
    qgt_min_kept: jax.Array  # smallest eigenvalue among the kept directions
    acceptance: jax.Array


def regularised_direction(
    o_t: jax.Array, y: jax.Array, reg: Regularization, n_blocks: int, stochastic: bool
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """θ̇ solving Õᵀ Õ θ̇ = Õᵀ ỹ with the regularisation ``reg``.

    ``n_blocks`` is the number of row blocks per sample in Õ (2: real and imaginary
    parts; 1: real rows only), used to form per-sample SNR contributions.
    Returns (θ̇, filter, eigenvalues, S).
    """
    s = o_t.T @ o_t
    evals, evecs = jnp.linalg.eigh(s)
    rho = evecs.T @ (o_t.T @ y)
    lam_max = jnp.maximum(evals[-1], jnp.finfo(evals.dtype).tiny)
    pos = evals > 0
    safe = jnp.where(pos, evals, 1.0)
    if reg.kind == "diag_shift":
        inv = jnp.where(pos | (reg.diag_shift > 0), 1.0 / (jnp.where(pos, evals, 0.0) + reg.diag_shift), 0.0)
        filt = jnp.where(pos, evals, 0.0) * inv
        return evecs @ (inv * rho), filt, evals, s
    filt = jnp.where(pos, 1.0 / (1.0 + (reg.rcond * lam_max / safe) ** SMOOTH_POWER), 0.0)
    if reg.kind == "snr" and stochastic:
        n = o_t.shape[0] // n_blocks
        proj = (o_t @ evecs) * y[:, None]  # (rows, P): each row's contribution to ρ
        per_sample = jnp.sum(proj.reshape(n_blocks, n, -1), axis=0) * n  # Q_k(s), mean over s = ρ_k
        sigma = jnp.sqrt(jnp.maximum(jnp.mean(per_sample**2, axis=0) - rho**2, 0.0))
        snr = jnp.abs(rho) * jnp.sqrt(n) / jnp.where(sigma > 0, sigma, jnp.finfo(sigma.dtype).tiny)
        filt = filt / (1.0 + (reg.snr_threshold / jnp.maximum(snr, jnp.finfo(snr.dtype).tiny)) ** SMOOTH_POWER)
    return evecs @ (filt * rho / safe), filt, evals, s


def target_rows(e_t: jax.Array, kind: str, n_blocks: int) -> jax.Array:
    """ỹ: the real row form of √w(−iΔE) (real time) or √w(−ΔE) (imaginary time)."""
    if kind == "imaginary":
        return -e_t
    if n_blocks != 2:
        raise ValueError("real-time evolution needs complex parameters (both row blocks)")
    n = e_t.shape[0] // 2
    return jnp.concatenate([e_t[n:], -e_t[:n]])  # −i(a + ib) = b − ia


def make_rhs(problem: Problem, dyn: DynamicsSpec):
    """rhs(theta, chains, key, hyper) -> (θ̇, chains, info, S): the TDVP right-hand side.

    Not jitted itself: the integrator step that calls it is. S is returned for the
    QGT error norm of the adaptive integrator.
    """
    ansatz = problem.ansatz
    real_only = ansatz.real_output
    n_blocks = 1 if real_only else 2
    stochastic = problem.sampler.kind != "exact"

    def rhs(theta: jax.Array, chains: ChainState, key: jax.Array, hyper: Hyper):
        est = estimate(problem, theta, chains, key, hyper, problem.sampler.n_samples)
        configs, e_loc, weights, stats, chains = est.configs, est.e_loc, est.weights, est.stats, est.chains
        o = log_derivatives(ansatz, theta, configs)
        o_t, e_t = centred_real_rows(o, e_loc, weights, real_only=real_only)
        y = target_rows(e_t, dyn.kind, n_blocks)
        theta_dot, filt, evals, qgt = regularised_direction(o_t, y, dyn.regularization, n_blocks, stochastic)
        resid = o_t @ theta_dot - y
        y2 = jnp.sum(y**2)
        kept = filt > 0.5
        info = TDVPInfo(
            energy=jnp.real(stats.mean),
            energy_error=stats.error,
            variance=stats.variance,
            residual=jnp.sum(resid**2) / jnp.where(y2 > 0, y2, 1.0),
            n_kept=jnp.sum(kept),
            qgt_max=evals[-1],
            qgt_min_kept=jnp.min(jnp.where(kept, evals, jnp.inf)),
            acceptance=est.sample.acceptance,
        )
        return theta_dot, chains, info, qgt

    return rhs
