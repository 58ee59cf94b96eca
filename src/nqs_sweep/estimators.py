"""Local energies and log-derivatives of a batch of configurations."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nqs_sweep.hamiltonians import Hamiltonian, connected, diagonal
from nqs_sweep.sampler import LogPsi


def local_energies(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> jax.Array:
    """E_loc(s) = Σ_s' H_ss' ψ(s')/ψ(s) for s: (B, N) -> (B,) complex."""
    batch, n = s.shape
    s_conn, mels = jax.vmap(connected, in_axes=(None, 0))(ham, s)  # (B, C, N), (B, C)
    lp = log_psi(theta, s)
    lp_conn = log_psi(theta, s_conn.reshape(-1, n)).reshape(batch, -1)
    # Zero elements (exchange of parallel spins) point outside the sector, where ψ
    # may not be finite: mask them instead of multiplying by zero.
    ratio = jnp.where(mels != 0, jnp.exp(lp_conn - lp[:, None]), 0.0)
    return diagonal(ham, s) + jnp.sum(mels * ratio, axis=-1)


def log_derivatives(log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> jax.Array:
    """O_k(s) = ∂ log ψ(s) / ∂θ_k for real θ: (B, P) complex."""

    def re_im(th, x):
        out = log_psi(th, x[None])[0]
        return jnp.stack([out.real, out.imag])

    jac = jax.vmap(jax.jacrev(re_im), in_axes=(None, 0))(theta, s)  # (B, 2, P)
    return jax.lax.complex(jac[:, 0], jac[:, 1])


def centred_real_rows(o: jax.Array, e_loc: jax.Array, weights: jax.Array, real_only: bool = False) -> tuple[jax.Array, jax.Array]:
    """The real, weighted, centred form of (O, E_loc) that SR and MinSR share.

    With Õ = √w [Re ΔO; Im ΔO] and ẽ = √w [Re ΔE; Im ΔE] (2B rows), the QGT is
    S = ÕᵀÕ = Re⟨ΔO* ΔO⟩ and the force is F = Õᵀẽ = Re⟨ΔO* ΔE⟩ = ∇E / 2.
    ``real_only`` (static) keeps the B real rows: for real parameters and a real
    Hamiltonian ψ is real, so Im ΔO = Im ΔE = 0 and the other half would only make
    the MinSR kernel four times larger.
    """
    w = weights[:, None]
    do = o - jnp.sum(w * o, axis=0)
    de = e_loc - jnp.sum(weights * e_loc)
    sw = jnp.sqrt(weights)
    if real_only:
        return sw[:, None] * do.real, sw * de.real
    o_t = jnp.concatenate([sw[:, None] * do.real, sw[:, None] * do.imag], axis=0)
    e_t = jnp.concatenate([sw * de.real, sw * de.imag])
    return o_t, e_t
