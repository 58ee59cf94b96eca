"""Parameters that make an ansatz represent a product initial state.

+x (every spin along x) is the uniform state ψ(s) = const, which an RBM or ffnn
represents exactly with zero weights. Exactly there, though, the TDVP cannot move:
∂ log ψ/∂W_ji = tanh(b_j + W_j·s) s_i is linear in the spins at W = 0, while the
quench drives pair correlations (σᶻσᶻ terms) that are orthogonal to every linear
function; the state would stay put. So the weights are seeded with small random
values ε and the hidden biases set to zero: then log cosh(W_j·s) ≈ (W_j·s)²/2 moves
the state only at order ε² (infidelity ~ ε⁴ N² M / 2) while the tangent space gets
the pair directions at order ε. ε is chosen from the stated infidelity budget.

+z (all up) is the limit a → ∞ of a visible bias: a_i = K with
(1 + e^{-4K})^{-N} = 1 − infidelity/2, the other half of the budget going to the seed.

The autoregressive networks need no seed: their output layer and input skip at zero
give uniform conditionals (+x exactly), and their tangent directions there include
every pair product s_i s_j through the skip (nqs_sweep.models.arnn). +z sets the
output bias (the log-odds of +1) to K with (1 + e^{-2K})^{-N} = 1 − infidelity.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

if TYPE_CHECKING:  # the networks import this module for their product states
    from nqs_sweep.models import Ansatz


def polarisation_bias(n_sites: int, infidelity: float) -> float:
    """K with (1 + e^{-4K})^{-N} = 1 − infidelity."""
    per_site = (1.0 - infidelity) ** (-1.0 / n_sites) - 1.0
    return -math.log(per_site) / 4.0


def seed_scale(n_sites: int, n_hidden: int, infidelity: float) -> float:
    """ε with ε⁴ N² M / 2 = infidelity (the small-ε estimate of the seed's infidelity)."""
    return (2.0 * infidelity / (n_sites**2 * max(n_hidden, 1))) ** 0.25


def product_state_theta(ansatz: Ansatz, direction: str, n_sites: int, infidelity: float, key: jax.Array) -> jax.Array:
    """θ representing the product state along ``direction`` (x or z) to about ``infidelity``, by
    the network's own construction (its Built.product_state, registered with it).

    Separate amplitude and phase networks split the budget: the amplitude network takes the
    state, the phase network a uniform phase (the +x construction with no visible bias), each
    seeded so that its pair directions are in the tangent space."""
    params = ansatz.init_params(key)
    if ansatz.product_state_tree is None:
        raise ValueError(f"the ansatz {ansatz.name!r} has no product initial state")
    product = ansatz.product_state_tree

    if set(params) == {"amplitude", "phase"}:
        k_amplitude, k_phase = jax.random.split(key)
        params = {
            "amplitude": product(params["amplitude"], direction, infidelity / 2, k_amplitude),
            "phase": product(params["phase"], "x", infidelity / 2, k_phase),
        }
    else:
        params = product(params, direction, infidelity, key)
    flat, _ = ravel_pytree(params)
    return ansatz.to_real(flat)


def product_params(name: str, params: dict, direction: str, n_sites: int, infidelity: float, key, copies: int = 1) -> dict:
    """An RBM or one-layer ffnn along x or z; ``copies``: how many hidden units share each row
    of W (the symmetric RBM's group size), which sets the seed's scale."""
    keys = set(params)
    if not ({"b", "W"} <= keys and ("a" in keys or "V" in keys)):
        raise ValueError(f"no product-state construction for the ansatz {name!r} (parameters {sorted(keys)})")
    w = params["W"]
    seed_budget = infidelity / 2 if direction == "z" else infidelity
    eps = seed_scale(n_sites, w.shape[0] * copies, seed_budget)
    out = dict(params)
    out["b"] = jnp.zeros_like(params["b"])
    out["W"] = eps * jax.random.normal(key, w.shape, w.dtype)
    if "a" in params:
        bias = polarisation_bias(n_sites, infidelity / 2) if direction == "z" else 0.0
        out["a"] = jnp.full_like(params["a"], bias)
    else:  # ffnn (any depth): ψ = Σ_j V_j cosh(W_j·x) with the last layer's W small
        if direction == "z":
            raise ValueError("the ffnn cannot represent a z-polarised state")
        out["V"] = jnp.ones_like(params["V"])
    return out


def autoregressive_product(params: dict, direction: str, n_sites: int, infidelity: float) -> dict:
    last = params["layers"][-1]
    bias = jnp.zeros_like(last["b"])
    if direction == "z":  # p(+1) = 1 / (1 + e^{-2K}) at every site, = 1 − infidelity over N sites
        bias = bias.at[:, 0].set(2 * polarisation_bias(n_sites, infidelity))
    layers = [*params["layers"][:-1], {"W": jnp.zeros_like(last["W"]), "b": bias}]
    return {**params, "layers": layers, "skip": jnp.zeros_like(params["skip"])}
