"""Numerically safe log-activations for complex arguments."""

import jax.numpy as jnp


def log_cosh(z: jnp.ndarray) -> jnp.ndarray:
    """log cosh z without overflow: cosh is even, so fold to Re z >= 0 first."""
    w = jnp.where(jnp.real(z) < 0, -z, z)
    return w + jnp.log1p(jnp.exp(-2 * w)) - jnp.log(2.0).astype(w.dtype)


def log_tanh(z: jnp.ndarray) -> jnp.ndarray:
    # tanh changes sign, so the log is taken in the complex plane (a phase of iπ).
    return jnp.log(jnp.tanh(z.astype(jnp.result_type(z, jnp.complex64))))


LOG_ACTIVATIONS = {"cosh": log_cosh, "tanh": log_tanh}

# The nonlinearity inside deep networks (ffnn hidden layers, gcnn layers) for each
# activation name: log cosh keeps the RBM's cosh structure (a sum of log cosh is the
# log of a product of cosh) and grows only linearly; tanh is bounded.
HIDDEN_ACTIVATIONS = {"cosh": log_cosh, "tanh": jnp.tanh}
