"""Translation-symmetric RBM: one filter per feature, shared over all translations.

log ψ(s) = a Σ_i s_i + Σ_f Σ_t log cosh(b_f + W_f·T_t s); alpha is the number of
features, so the parameter count is 1 + alpha (N + 1), independent of the
number of translations.

It is the RBM with alpha |G| hidden units whose rows are the filters permuted by the
group (unit (f, t) has weight W_f[n] on site perms[t, n]), a = a 1 and b_(f,t) = b_f.
Its kernels are the RBM's on those expanded parameters (``expanded_kernels``): a spin
flip updates alpha |G| cached pre-activations in O(alpha |G|) instead of a forward pass of
O(alpha |G| N) (on 4x4 with the space group, 128 group elements, that pass made every
Metropolis proposal cost as much as an RBM of alpha 128). The Jacobian is taken on the
tied parameters by the generic path.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models import rbm
from nqs_sweep.models.activations import log_cosh
from nqs_sweep.models.registry import DTYPES, Built, Network, any_product_state, register_network


def init(key: jax.Array, n_sites: int, n_features: int, dtype, scale: float) -> dict:
    ka, kb, kw = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    return {"a": normal(ka, ()), "b": normal(kb, (n_features,)), "W": normal(kw, (n_features, n_sites))}


def make_log_psi(translations: np.ndarray):
    perms = jnp.asarray(translations)

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        s = s.astype(params["W"].dtype)
        orbit = s[..., perms]  # (B, T, N)
        theta = jnp.einsum("...tn,fn->...tf", orbit, params["W"]) + params["b"]
        return params["a"] * jnp.sum(s, axis=-1) + jnp.sum(log_cosh(theta), axis=(-2, -1))

    return log_psi


def make_expand(perms: np.ndarray):
    """params -> the parameters of the equivalent RBM (rbm.log_psi on them is log_psi here)."""
    # Unit (f, t) puts W_f[n] on site perms[t, n]: on site i it reads W_f at the inverse permutation.
    inverse = jnp.asarray(np.argsort(perms, axis=1))
    n_group, n_sites = inverse.shape

    def expand(params: dict) -> dict:
        w = params["W"]  # (F, N)
        return {
            "a": jnp.full((n_sites,), params["a"], w.dtype),
            "b": jnp.repeat(params["b"], n_group),
            "W": w[:, inverse].reshape(-1, n_sites),
        }

    return expand


def expanded_kernels(perms: np.ndarray) -> dict:
    """The RBM's incremental kernels, on the expanded parameters (for the Ansatz fields)."""
    expand = make_expand(perms)
    return {
        "cache_tree": lambda params, s: rbm.flip_cache(expand(params), s),
        "flip_tables_tree": lambda params: rbm.flip_tables(expand(params)),
        "flip_ratio_tree": rbm.flip_ratio,
    }


def build(a, lattice, sector: str) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    size = round(a.alpha)
    group = lattice.symmetry_group(a.symmetries)
    # a product state's seed scale counts every hidden unit: each filter is repeated over the group
    product_state = rbm.product_state(n, copies=len(group))
    return Built(lambda key: init(key, n, size, dtype, a.init_scale), make_log_psi(group), expanded_kernels(group), product_state)


register_network(
    Network(
        "rbm_symm",
        build,
        "RBM with filters shared over a lattice group",
        symmetric=True,
        per_site_features=True,
        product_state_check=any_product_state,
        activations=("cosh",),
    )
)
