"""Numerically safe log-activations for complex arguments, and the complex log-sum-exp of the
group sums (gcnn, models.projection)."""

import jax
import jax.numpy as jnp
import numpy as np


def log_cosh(z: jnp.ndarray) -> jnp.ndarray:
    """log cosh z without overflow: cosh is even, so fold to Re z >= 0 first."""
    w = jnp.where(jnp.real(z) < 0, -z, z)
    return w + jnp.log1p(jnp.exp(-2 * w)) - jnp.log(2.0).astype(w.dtype)


def log_tanh(z: jnp.ndarray) -> jnp.ndarray:
    # tanh changes sign, so the log is taken in the complex plane (a phase of iπ).
    return jnp.log(jnp.tanh(z.astype(jnp.result_type(z, jnp.complex64))))


def log_sum_exp(z: jnp.ndarray) -> jnp.ndarray:
    """log Σ exp(z) over the last axis, for complex z: shifted by the largest real part (the shift
    carries no gradient)."""
    shift = jax.lax.stop_gradient(jnp.max(jnp.real(z), axis=-1, keepdims=True))
    return shift[..., 0] + jnp.log(jnp.sum(jnp.exp(z - shift), axis=-1))


def log_conj(characters: np.ndarray) -> jnp.ndarray:
    """log χ*, the weights of a sum Σ_g χ(g)* ψ_g in log space (log(-1) = iπ)."""
    return jnp.asarray(np.log(np.conj(np.asarray(characters, np.complex128))))


LOG_ACTIVATIONS = {"cosh": log_cosh, "tanh": log_tanh}

# The nonlinearity inside deep networks (ffnn hidden layers, gcnn layers) for each
# activation name: log cosh keeps the RBM's cosh structure (a sum of log cosh is the
# log of a product of cosh) and grows only linearly; tanh is bounded.
HIDDEN_ACTIVATIONS = {"cosh": log_cosh, "tanh": jnp.tanh}
