"""Monte Carlo statistics of a chain-shaped sample: mean, error, split-R̂, τ_corr.

Conventions (as NetKet): τ_corr is the integrated autocorrelation time with τ = 0
for independent samples, so the variance of the mean is σ²(1 + 2τ)/N. τ is
estimated from the chain-averaged autocorrelation function (FFT) with Sokal's
automatic window (smallest W with W >= c (1 + 2 τ(W)), c = 5).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

SOKAL_C = 5.0


class Stats(NamedTuple):
    mean: jnp.ndarray
    error: jnp.ndarray  # error of the mean, autocorrelation-corrected
    variance: jnp.ndarray
    r_hat: jnp.ndarray
    tau_corr: jnp.ndarray
    error_naive: jnp.ndarray  # as if samples were independent


def autocorrelation(x: jnp.ndarray) -> jnp.ndarray:
    """Normalised autocorrelation ρ(t), averaged over chains. x: (n_chains, n)."""
    n = x.shape[1]
    xc = x - jnp.mean(x, axis=1, keepdims=True)
    f = jnp.fft.rfft(xc, n=2 * n, axis=1)
    acov = jnp.fft.irfft(f * jnp.conj(f), axis=1)[:, :n] / n
    acov = jnp.mean(acov, axis=0)
    return acov / jnp.where(acov[0] > 0, acov[0], 1.0)


def integrated_time(x: jnp.ndarray) -> jnp.ndarray:
    """τ_corr of x: (n_chains, n); 0 for independent samples."""
    n = x.shape[1]
    if n < 2:  # one sample per chain: no lag to correlate
        return jnp.zeros((), jnp.real(x).dtype)
    rho = autocorrelation(x)
    tau_w = jnp.cumsum(rho[1:])  # τ(W) for W = 1..n-1
    windows = jnp.arange(1, n)
    ok = windows >= SOKAL_C * (1 + 2 * tau_w)
    w = jnp.where(jnp.any(ok), jnp.argmax(ok), n - 2)
    return jnp.maximum(tau_w[w], 0.0)


def split_r_hat(x: jnp.ndarray) -> jnp.ndarray:
    """Gelman-Rubin R̂ on chains split in halves (Vehtari et al. 2021, without ranks)."""
    n_chains, n = x.shape
    half = n // 2
    if half < 2:
        return jnp.full((), jnp.nan)
    halves = jnp.concatenate([x[:, :half], x[:, n - half :]], axis=0)
    means = jnp.mean(halves, axis=1)
    within = jnp.mean(jnp.var(halves, axis=1, ddof=1))
    between = jnp.var(means, ddof=1)  # = B / n in the usual notation
    var_plus = (half - 1) / half * within + between
    return jnp.sqrt(var_plus / within)


def chain_stats(x: jnp.ndarray) -> Stats:
    """Statistics of x: (n_chains, n_per_chain) real or complex samples.

    The mean keeps the dtype of x; error, R̂ and τ are those of the real part
    (the imaginary part of a local energy averages to zero).
    """
    n_chains, n = x.shape
    total = n_chains * n
    mean = jnp.mean(x)
    variance = jnp.mean(jnp.abs(x - mean) ** 2)
    xr = jnp.real(x)
    tau = integrated_time(xr)
    var_r = jnp.var(xr)
    return Stats(
        mean=mean,
        error=jnp.sqrt(var_r * (1 + 2 * tau) / total),
        variance=variance,
        r_hat=split_r_hat(xr),
        tau_corr=tau,
        error_naive=jnp.sqrt(var_r / total),
    )


def weighted_stats(x: jnp.ndarray, weights: jnp.ndarray) -> Stats:
    """Exact expectation over an enumerated space: weights are the probabilities."""
    mean = jnp.sum(weights * x)
    variance = jnp.sum(weights * jnp.abs(x - mean) ** 2)
    zero = jnp.zeros((), jnp.real(mean).dtype)
    nan = jnp.full((), jnp.nan, zero.dtype)
    return Stats(mean=mean, error=zero, variance=variance, r_hat=nan, tau_corr=nan, error_naive=zero)


def reweighted_chain_stats(x: jnp.ndarray, weights: jnp.ndarray) -> Stats:
    """Statistics of x: (n_chains, n_per_chain) drawn from |ψ|^p with normalised importance weights
    (B,) to |ψ|²: the self-normalised mean Σ w x and variance Σ w |x − mean|², with the error, R̂
    and τ of the ratio estimator to first order (delta method): those of z = mean + B w (x − mean),
    whose plain chain mean is the mean itself. Uniform weights give chain_stats."""
    n_chains, n = x.shape
    flat = x.reshape(-1)
    mean = jnp.sum(weights * flat)
    variance = jnp.sum(weights * jnp.abs(flat - mean) ** 2)
    z = (mean + weights.size * weights * (flat - mean)).reshape(n_chains, n)
    linear = chain_stats(z)
    return linear._replace(mean=mean, variance=variance)


# When a run's sampling is not to be trusted (Vehtari et al. 2021 for R̂; τ against the chain
# length: the error bar then rests on few independent samples; a chain that almost never moves).
HEALTH_LIMITS = {"r_hat": 1.1, "tau_fraction": 0.1, "acceptance": 0.02}


def health_flags(r_hat: float, tau_corr: float, chain_length: int, acceptance: float, fallbacks: int = 0, steps: int = 0) -> str:
    """The problems of a finished run, comma-separated ('' when none): split-R̂ above 1.1, τ_corr
    above a tenth of a chain's length, mean acceptance below 2 %, and the optimisation steps whose
    linear solve fell back (a Cholesky that failed and went to the pseudo-inverse, or conjugate
    gradients that missed their tolerance): a run that needed it is not silently the same as one
    that did not. NaN (an enumeration has no chains) raises nothing."""
    flags = []
    if r_hat > HEALTH_LIMITS["r_hat"]:
        flags.append(f"r_hat={r_hat:.2f}")
    if tau_corr > HEALTH_LIMITS["tau_fraction"] * chain_length:
        flags.append(f"tau={tau_corr:.0f} of {chain_length}")
    if acceptance < HEALTH_LIMITS["acceptance"]:
        flags.append(f"acceptance={acceptance:.3f}")
    if fallbacks:
        flags.append(f"solver_fallback={fallbacks} of {steps} steps")
    return ", ".join(flags)
