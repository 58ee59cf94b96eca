"""One Lanczos step on a trained state: the energy of ψ₁ = ψ + α (H − μ) ψ at the best α.

ψ₁ lies in span{ψ, Hψ}, so its best energy is the lower eigenvalue of H restricted to that span
(Sorella, PRB 64, 024512 (2001); Becca and Sorella, *Quantum Monte Carlo Approaches for
Correlated Systems*, ch. 6). With μ = ⟨H⟩, σ² = ⟨(H − μ)²⟩ and m₃ = ⟨(H − μ)³⟩ over ψ, the
2 × 2 problem in the basis {ψ, (H − μ)ψ} gives

    E₁ = μ − 2σ⁴ / (m₃ + √(m₃² + 4σ⁶)),

the lower root of σ²λ² − m₃λ − σ⁴ = 0 written without cancellation (at m₃ = 0, E₁ = μ − σ).
ψ₁ is a variational state like ψ, so E₁ ≥ E₀ when the moments are exact. Every moment comes
from local quantities,

    ((H − μ)²ψ)(s)/ψ(s) = G(s) − 2μ E_L(s) + μ²,
    G(s) = (H²ψ)(s)/ψ(s) = H_ss E_L(s) + Σ_{s'≠s} H_ss' ψ(s')/ψ(s) E_L(s'),

so the step costs the local energies of every connected s' of every sample: about C times a
plain evaluation for C nonzero terms per row of H. Which samples they are averaged over is
:func:`split_estimate`'s business: σ² and m₃ can live where |ψ|² never goes. An enumeration
(the exact sampler) gives E₁ exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep.mc.estimators import connected_amplitudes, local_energies, map_needed_moves
from nqs_sweep.mc.sampler import LogPsi, Sample
from nqs_sweep.physics.hamiltonians import Hamiltonian, connected_moves, diagonal

if TYPE_CHECKING:
    from nqs_sweep.mc.estimate import Hyper
    from nqs_sweep.problem import Problem

# Connected configurations whose local energies are evaluated together: the nonzero terms are
# gathered first (about half of a Heisenberg row is an exchange of parallel spins, zero) and
# evaluated in groups of this many, as far as they go.
GROUP = 4096
# Sweeps discarded by the chains of |(H − μ)ψ|², which start from samples of |ψ|^p.
RESIDUAL_DISCARD = 8


class LanczosEstimate(NamedTuple):
    energy: jax.Array  # E₁, the energy after one Lanczos step
    error: jax.Array  # its jackknife error over chains (0 for an enumeration)
    energy_psi: jax.Array  # ⟨H⟩ of ψ itself on the same sample
    variance: jax.Array  # σ² of ψ on the same sample


def second_local_energies(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array, s: jax.Array, e_loc: jax.Array) -> jax.Array:
    """G(s) = (H²ψ)(s)/ψ(s) for s (B, N), given E_L(s) (B,): (B,) complex."""
    sites, active = connected_moves(ham)
    amps = connected_amplitudes(ham, log_psi, theta, s)  # (B, C)
    needed = amps != 0

    def energies(moved: jax.Array, rows: jax.Array) -> jax.Array:
        return local_energies(ham, log_psi, theta, moved)

    e_moved = map_needed_moves(energies, s, sites, active, needed, GROUP, amps.dtype)
    # Terms never evaluated (or padding past the sector, where ψ may not be finite) are masked.
    off = jnp.sum(jnp.where(needed, amps * jnp.where(needed, e_moved, 0.0), 0.0), axis=-1)
    return diagonal(ham, s) * e_loc + off


def step_energy(mu: jax.Array, variance: jax.Array, m3: jax.Array) -> jax.Array:
    """E₁ from the mean, variance and third central moment of H over ψ (μ itself at σ² = 0).

    The lower root λ = (m₃ − √(m₃² + 4σ⁶)) / 2σ² in whichever of its two forms adds terms of one
    sign: −2σ⁴ / (m₃ + √…) for m₃ ≥ 0, the plain one for m₃ < 0."""
    positive = variance > 0
    safe = jnp.where(positive, variance, 1.0)
    root = jnp.sqrt(m3**2 + 4 * safe**3)
    lam = jnp.where(m3 >= 0, -2 * safe**2 / jnp.where(m3 + root > 0, m3 + root, 1.0), (m3 - root) / (2 * safe))
    return mu + jnp.where(positive, lam, 0.0)


def exact_estimate(e_loc: jax.Array, g: jax.Array, probabilities: jax.Array) -> LanczosEstimate:
    """E₁ on an enumeration: local energies (B,), G (B,) and the probabilities |ψ|² (B,) of every
    configuration. Centred about μ before the third moment is formed, so nothing cancels."""
    mu = jnp.sum(probabilities * jnp.real(e_loc))
    d = e_loc - mu
    variance = jnp.sum(probabilities * jnp.abs(d) ** 2)
    m3 = jnp.sum(probabilities * jnp.real(jnp.conj(d) * (g - 2 * mu * e_loc + mu**2)))
    energy = step_energy(mu, variance, m3)
    return LanczosEstimate(energy, jnp.zeros_like(energy), mu, variance)


def _jackknife(values: jax.Array) -> jax.Array:
    n = values.shape[0]
    return jnp.sqrt((n - 1) / n * jnp.sum((values - jnp.mean(values)) ** 2))


def split_estimate(
    sample: Sample,
    e_loc: jax.Array,
    g: jax.Array,
    weights: jax.Array,
    residual: Sample,
    e_phi: jax.Array,
    g_phi: jax.Array,
    mu: jax.Array,
) -> LanczosEstimate:
    """E₁ from a sample of |ψ|² (μ, and σ² as E[((H − μ)²ψ)/ψ]) and one of |φ|², φ = (H − μ)ψ
    (m₃ = σ² E_φ[((H − μ)φ)/φ], φ's own energy about μ).

    Where ψ nearly vanishes on configurations that H connects to large amplitudes, |φ|² lives
    there and |ψ|² never visits them: on the 4×4 J1-J2 state of config/j1j2_4x4.yaml, 99.99 % of
    σ² sits on configurations of |ψ|² < 1e-7, so E[|E_L − μ|²] and E[conj(E_L − μ)·…] over |ψ|²
    missed σ² by 10⁴ and m₃ by far more. The split estimators each stay on their own sample's
    support; the two samples are independent, and their jackknife variances add.
    """
    g_shift = jnp.real(g - 2 * mu * e_loc + mu**2)  # ((H − μ)²ψ)/ψ
    d_phi = e_phi - mu
    r_phi = jnp.real((g_phi - 2 * mu * e_phi + mu**2) / d_phi)  # ((H − μ)φ)/φ

    def energy(w1, x1, w2, x2):
        return step_energy(mu, x1 / w1, x1 / w1 * (x2 / w2))

    w2 = jnp.full(r_phi.shape, 1.0 / r_phi.size, r_phi.dtype)
    sums = (jnp.sum(weights), jnp.sum(weights * g_shift), jnp.sum(w2), jnp.sum(w2 * r_phi))
    e1 = energy(*sums)
    variance = sums[1] / sums[0]

    def per_chain(sample_, w, x):
        n = sample_.configs.shape[0]
        return jnp.sum(w.reshape(n, -1), axis=1), jnp.sum((w * x).reshape(n, -1), axis=1)

    cw1, cx1 = per_chain(sample, weights, g_shift)
    cw2, cx2 = per_chain(residual, w2, r_phi)
    out_1 = energy(sums[0] - cw1, sums[1] - cx1, sums[2], sums[3])
    out_2 = energy(sums[0], sums[1], sums[2] - cw2, sums[3] - cx2)
    # μ is held at its estimate in the two jackknives (φ's sample was drawn with it); E₁ moves
    # with μ at first order, so μ's own error is added (its covariance with the rest is ignored).
    _, cmu = per_chain(sample, weights, jnp.real(e_loc))
    mu_out = (jnp.sum(weights * jnp.real(e_loc)) - cmu) / (sums[0] - cw1)
    error = jnp.sqrt(_jackknife(out_1) ** 2 + _jackknife(out_2) ** 2 + _jackknife(mu_out) ** 2)
    return LanczosEstimate(e1, error, mu, variance)


def residual_state(log_psi: LogPsi, ham: Hamiltonian, mu: jax.Array) -> LogPsi:
    """log φ(s) for φ = (H − μ)ψ: log ψ(s) + log(E_L(s) − μ)."""

    def log_phi(theta: jax.Array, s: jax.Array) -> jax.Array:
        d = local_energies(ham, log_psi, theta, s) - mu
        return log_psi(theta, s) + jnp.log(d.astype(jnp.result_type(d.dtype, jnp.complex64)))

    return log_phi


def make_lanczos_step(problem: Problem, n_samples: int):
    """Jitted (θ, chains, key, hyper) -> LanczosEstimate from two fresh samples of n_samples each."""
    from nqs_sweep.mc.estimate import draw_sample, expectation_weights
    from nqs_sweep.mc.sampler import metropolis_sample

    p = problem

    def lanczos(theta: jax.Array, chains, key: jax.Array, hyper: Hyper) -> LanczosEstimate:
        k_psi, k_phi = jax.random.split(key)
        sample, chains = draw_sample(p, theta, chains, k_psi, hyper, n_samples)
        configs = sample.configs.reshape(-1, p.n_sites)
        e_loc = local_energies(hyper.ham, p.ansatz, theta, configs)
        g = second_local_energies(hyper.ham, p.ansatz, theta, configs, e_loc)
        weights = expectation_weights(sample, e_loc.size, jnp.real(e_loc).dtype)
        if p.sampler.kind == "exact":
            return exact_estimate(e_loc, g, weights)
        mu = jnp.sum(weights * jnp.real(e_loc))
        log_phi = residual_state(p.ansatz, hyper.ham, mu)
        residual, _ = metropolis_sample(
            log_phi,
            theta,
            chains._replace(log_psi=log_phi(theta, chains.configs)),
            k_phi,
            n_per_chain=n_samples // p.sampler.n_chains,
            n_discard=max(p.sampler.n_discard, RESIDUAL_DISCARD),
            sweep_size=p.sampler.sweep_size,
            move=p.sampler.move,
            exchange_bonds=hyper.ham.exch_bonds,
        )
        phi_configs = residual.configs.reshape(-1, p.n_sites)
        e_phi = local_energies(hyper.ham, p.ansatz, theta, phi_configs)
        g_phi = second_local_energies(hyper.ham, p.ansatz, theta, phi_configs, e_phi)
        return split_estimate(sample, e_loc, g, weights, residual, e_phi, g_phi, mu)

    return jax.jit(lanczos)
