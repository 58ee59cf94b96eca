"""Feed-forward network ψ(s) = Σ_j V_j act(W_j·x(s) + b_j) (the design card's ffnn).

With ``layers = 1``, x(s) = s: one hidden layer, as the design card has it. With more
layers, x(s) is the output of ``layers - 1`` hidden layers x ← σ(W x + b), where σ is
log cosh for ``activation: cosh`` (smooth, ~|z| for large z, so deep stacks stay
bounded) and tanh for ``activation: tanh``.

The last sum is taken in log space (a complex log-sum-exp), so large pre-activations do
not overflow and sign changes of ψ become phases of iπ.
"""

import jax
import jax.numpy as jnp

from nqs_sweep.models import rbm
from nqs_sweep.models.activations import HIDDEN_ACTIVATIONS, LOG_ACTIVATIONS
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network


def init(key: jax.Array, n_sites: int, widths: tuple[int, ...], dtype, scale: float) -> dict:
    """``widths``: units per hidden layer. The last layer starts at ``scale`` (ψ nearly uniform);
    earlier layers at variance 1/fan_in, so their signal neither dies out nor saturates."""
    widths = tuple(widths)
    if len(widths) == 1:  # the one-layer network, with exactly its former initialisation
        kb, kw, kv = jax.random.split(key, 3)
    else:
        kb, kw, kv, kh = jax.random.split(key, 4)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    fan_in = (n_sites, *widths[:-1])
    # V near 1 starts ψ as a positive, nearly uniform state; random signs would
    # start it near a node of ψ where log ψ and its gradient blow up.
    params = {"b": normal(kb, (widths[-1],)), "W": normal(kw, (widths[-1], fan_in[-1])), "V": 1 + normal(kv, (widths[-1],))}
    if len(widths) > 1:
        hidden = []
        for k, n_in, n_out in zip(jax.random.split(kh, len(widths) - 1), fan_in[:-1], widths[:-1]):
            kw_, kb_ = jax.random.split(k)
            hidden.append({"W": jax.random.normal(kw_, (n_out, n_in), dtype) / jnp.sqrt(n_in), "b": normal(kb_, (n_out,))})
        params["hidden"] = hidden
    return params


def make_log_psi(activation: str):
    log_act = LOG_ACTIVATIONS[activation]
    sigma = HIDDEN_ACTIVATIONS[activation]

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        W = params["W"]
        cdtype = jnp.result_type(W.dtype, jnp.complex64)
        x = s.astype(W.dtype)
        for layer in params.get("hidden", ()):
            x = sigma(x @ layer["W"].T + layer["b"])
        z = x @ W.T + params["b"]
        terms = jnp.log(params["V"].astype(cdtype)) + log_act(z).astype(cdtype)
        shift = jax.lax.stop_gradient(jnp.max(jnp.real(terms), axis=-1, keepdims=True))
        return shift[..., 0] + jnp.log(jnp.sum(jnp.exp(terms - shift), axis=-1))

    return log_psi


def build(a, lattice, sector: str) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    return Built(
        lambda key: init(key, n, a.features, dtype, a.init_scale), make_log_psi(a.activation), {}, rbm.product_state(n, 1)
    )


def product_state_check(a, direction: str) -> tuple[str, str] | None:
    """ψ = Σ_j V_j cosh(W_j·x) with W small is the +x state: one layer, the even activation."""
    if direction == "z":
        return "initial.direction", "the ffnn has no visible bias to polarise along z; use rbm or rbm_symm"
    if a.layers > 1:
        return "ansatz.layers", "a product initial state is built for the one-layer ffnn (layers: 1)"
    if a.activation != "cosh":
        return "ansatz.activation", "a product initial state needs the even activation cosh for the ffnn"
    return None


register_network(
    Network("ffnn", build, "feed-forward network with a log-sum-exp output", deep=True, product_state_check=product_state_check)
)
