"""Restricted Boltzmann machine (Carleo & Troyer 2017).

log ψ(s) = a·s + Σ_j log cosh(b_j + W_j·s), with M = alpha·N hidden units.
"""

import jax
import jax.numpy as jnp

from nqs_sweep.models.activations import log_cosh


def init(key: jax.Array, n_sites: int, n_hidden: int, dtype, scale: float) -> dict:
    ka, kb, kw = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    return {"a": normal(ka, (n_sites,)), "b": normal(kb, (n_hidden,)), "W": normal(kw, (n_hidden, n_sites))}


def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    """s: (B, N) -> (B,) complex."""
    s = s.astype(params["W"].dtype)
    theta = s @ params["W"].T + params["b"]
    return s @ params["a"] + jnp.sum(log_cosh(theta), axis=-1)
