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


class TinyCNN(nn.Module):
    """A periodic 1D convolution, two layers: the kind of module whose per-configuration
    Jacobian the CPU takes one configuration at a time (nqs_sweep.mc.estimators)."""

    features: int = 3
    kernel: int = 3
    param_dtype: str = "float64"

    @nn.compact
    def __call__(self, x):
        dtype = jnp.dtype(self.param_dtype)
        init = nn.initializers.normal(0.3)
        h = x[..., None]
        for _ in range(2):
            r = self.kernel // 2
            h = jnp.pad(h, ((0, 0), (r, r), (0, 0)), mode="wrap")
            h = nn.Conv(self.features, (self.kernel,), padding="VALID", param_dtype=dtype, kernel_init=init, bias_init=init)(h)
            h = jnp.tanh(h)
        return jnp.sum(h, axis=(1, 2))
