"""A researcher's own network, outside the package: a complex RBM written as a flax module
(the tests load it by path, as a study names it)."""

import flax.linen as nn
import jax.numpy as jnp


class TinyRBM(nn.Module):
    features: int = 2
    scale: float = 0.3

    @nn.compact
    def __call__(self, x):
        init = nn.initializers.normal(self.scale)
        h = nn.Dense(self.features, param_dtype=jnp.complex128, kernel_init=init, bias_init=init)(x)
        a = self.param("a", init, (x.shape[-1],), jnp.complex128)
        return jnp.sum(jnp.log(jnp.cosh(h)), axis=-1) + x @ a


def pair(n_sites, width=2, scale=0.3):
    """The same network as a pair of plain JAX functions (init, apply), real parameters."""
    import jax

    def init(key):
        kw, kb = jax.random.split(key)
        return {"W": scale * jax.random.normal(kw, (n_sites, width)), "b": scale * jax.random.normal(kb, (width,))}

    def apply(params, s):
        return jnp.sum(jnp.log(jnp.cosh(s @ params["W"] + params["b"])), axis=-1)

    return init, apply


class NotANetwork:
    pass


class WrongShape(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(x)  # two numbers per configuration, not one log ψ
