"""Translation-symmetric RBM: one filter per feature, shared over all translations.

log ψ(s) = a Σ_i s_i + Σ_f Σ_t log cosh(b_f + W_f·T_t s); alpha is the number of
features, so the parameter count is 1 + alpha (N + 1), independent of the
number of translations.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models.activations import log_cosh


def init(key: jax.Array, n_sites: int, n_features: int, dtype, scale: float) -> dict:
    ka, kb, kw = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    return {"a": normal(ka, ()), "b": normal(kb, (n_features,)), "W": normal(kw, (n_features, n_sites))}


def make_log_psi(translations: np.ndarray):
    perms = jnp.asarray(translations)

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        s = s.astype(params["W"].dtype)
        orbit = s[..., perms]  # (B, T, N)
        theta = jnp.einsum("btn,fn->btf", orbit, params["W"]) + params["b"]
        return params["a"] * jnp.sum(s, axis=-1) + jnp.sum(log_cosh(theta), axis=(-2, -1))

    return log_psi
