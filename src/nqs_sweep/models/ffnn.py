"""One-hidden-layer network ψ(s) = Σ_j V_j act(W_j·s + b_j) (the design card's ffnn).

The sum is taken in log space (a complex log-sum-exp), so large pre-activations do
not overflow and sign changes of ψ become phases of iπ.
"""

import jax
import jax.numpy as jnp

from nqs_sweep.models.activations import LOG_ACTIVATIONS


def init(key: jax.Array, n_sites: int, n_hidden: int, dtype, scale: float) -> dict:
    kb, kw, kv = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    # V near 1 starts ψ as a positive, nearly uniform state; random signs would
    # start it near a node of ψ where log ψ and its gradient blow up.
    return {"b": normal(kb, (n_hidden,)), "W": normal(kw, (n_hidden, n_sites)), "V": 1 + normal(kv, (n_hidden,))}


def make_log_psi(activation: str):
    log_act = LOG_ACTIVATIONS[activation]

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        W = params["W"]
        cdtype = jnp.result_type(W.dtype, jnp.complex64)
        z = s.astype(W.dtype) @ W.T + params["b"]
        terms = jnp.log(params["V"].astype(cdtype)) + log_act(z).astype(cdtype)
        shift = jax.lax.stop_gradient(jnp.max(jnp.real(terms), axis=-1, keepdims=True))
        return shift[..., 0] + jnp.log(jnp.sum(jnp.exp(terms - shift), axis=-1))

    return log_psi
