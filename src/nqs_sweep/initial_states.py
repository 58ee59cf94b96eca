"""Parameters that make an ansatz represent a product initial state.

+x (every spin along x) is the uniform state ψ(s) = const: zero couplings between
visible and hidden units and no visible bias represent it exactly. The hidden
biases are drawn at random instead of set to zero: at b = 0 the derivatives with
respect to the weights vanish (tanh(0) = 0) and the TDVP could never move them.
+z (all up) is the limit a → ∞ of a visible bias; we set a finite a_i = K with
(1 + e^{-4K})^{-N} = 1 − infidelity, the stated overlap with |↑…↑⟩.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from nqs_sweep.models import Ansatz

HIDDEN_BIAS_SCALE = 0.5


def polarisation_bias(n_sites: int, infidelity: float) -> float:
    """K with (1 + e^{-4K})^{-N} = 1 − infidelity."""
    per_site = (1.0 - infidelity) ** (-1.0 / n_sites) - 1.0
    return -math.log(per_site) / 4.0


def product_state_theta(ansatz: Ansatz, direction: str, n_sites: int, infidelity: float, key: jax.Array) -> jax.Array:
    """θ representing the product state along ``direction`` (x or z)."""
    params = ansatz.init_params(key)
    keys = set(params)
    if keys not in ({"a", "b", "W"}, {"b", "W", "V"}):
        raise ValueError(f"no product-state construction for the ansatz {ansatz.name!r} (parameters {sorted(keys)})")
    b = params["b"]
    out = dict(params)
    out["b"] = HIDDEN_BIAS_SCALE * jax.random.normal(key, b.shape, b.dtype)
    out["W"] = jnp.zeros_like(params["W"])
    if "a" in params:
        bias = polarisation_bias(n_sites, infidelity) if direction == "z" else 0.0
        out["a"] = jnp.full_like(params["a"], bias)
    else:  # ffnn: ψ = Σ_j V_j act(b_j) is constant when W = 0
        if direction == "z":
            raise ValueError("the ffnn cannot represent a z-polarised state")
        out["V"] = jnp.ones_like(params["V"])
    flat, _ = ravel_pytree(out)
    return ansatz.to_real(flat)
