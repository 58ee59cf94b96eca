"""Restricted Boltzmann machine (Carleo & Troyer 2017).

log ψ(s) = a·s + Σ_j log cosh(b_j + W_j·s), with M = alpha·N hidden units.

Besides the forward pass, the RBM has the kernels that make it fast:
- a cache of the hidden pre-activations θ_j = b_j + W_j·s (in 64-bit, of e^{−2θ_j}),
  updated in O(K·M) when K spins flip (Metropolis moves, off-diagonal terms of the
  local energy);
- its log-derivatives in factored form: ∂/∂a = s, ∂/∂b = tanh θ, ∂/∂W = tanh θ ⊗ s,
  so the Jacobian never has to be formed for sample-space (MinSR) solves.
"""

import jax
import jax.numpy as jnp

from nqs_sweep.dynamics import initial_states
from nqs_sweep.models.activations import log_cosh
from nqs_sweep.models.registry import DTYPES, Built, Network, any_product_state, register_network


def init(key: jax.Array, n_sites: int, n_hidden: int, dtype, scale: float) -> dict:
    ka, kb, kw = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    return {"a": normal(ka, (n_sites,)), "b": normal(kb, (n_hidden,)), "W": normal(kw, (n_hidden, n_sites))}


def preactivations(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    """θ = s Wᵀ + b: (..., N) -> (..., M)."""
    return s.astype(params["W"].dtype) @ params["W"].T + params["b"]


def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    """s: (B, N) -> (B,) complex."""
    return s.astype(params["W"].dtype) @ params["a"] + jnp.sum(log_cosh(preactivations(params, s)), axis=-1)


def _exp_cache(dtype) -> bool:
    # In 64-bit the cache is e^{−2θ}, updated by multiplication: the sampler's inner loop then
    # evaluates no exponential (it took half of W1's sampling time). It saturates only past
    # |Re θ| ~ 354, where the ratios below keep their limits; in 32-bit it would saturate at
    # |Re θ| ~ 44, which a trained float32 network can reach, so there the cache stays θ.
    return jnp.finfo(dtype).bits == 64


def flip_cache(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    """The per-configuration cache of flip_ratio: e^{−2θ} (64-bit) or θ (32-bit), (..., M)."""
    pre = preactivations(params, s)
    return jnp.exp(-2 * pre) if _exp_cache(pre.dtype) else pre


def flip_tables(params: dict) -> dict:
    """What flip_ratio needs of the parameters, once per parameter set: Wᵀ and e^{∓2Wᵀ}.

    Stored site-major (N, M) so that a move reads whole rows: on a GPU, gathering columns
    of (M, N) arrays for thousands of chains was the sampler's bottleneck.
    """
    wt = params["W"].T
    return {"a": params["a"], "wt": wt, "exp_m2w": jnp.exp(-2 * wt), "exp_p2w": jnp.exp(2 * wt)}


def _logistic_pair(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(σ(2x), σ(−2x)) = ((1 + tanh x)/2, (1 − tanh x)/2) without cancellation or overflow."""
    flip = jnp.real(x) < 0
    e = jnp.exp(-2 * jnp.where(flip, -x, x))  # |e| <= 1
    hi, lo = 1 / (1 + e), e / (1 + e)
    return jnp.where(flip, lo, hi), jnp.where(flip, hi, lo)


def _block_size(m: int, largest: int) -> int:
    """The largest divisor of m up to largest (a reshape without padding keeps the kernel fused)."""
    return max(b for b in range(1, min(m, largest) + 1) if m % b == 0)


def flip_ratio(tables: dict, s: jnp.ndarray, cache: jnp.ndarray, sites: jnp.ndarray, active: jnp.ndarray):
    """(log ψ(s') − log ψ(s), cache of s') for s (N,) with the spins at sites (K,) flipped where active (K,),
    K = 2 for a pair, 1 for a single flip (Ansatz.single_flip_kernel).

    With d_j the change of θ_j: cosh(θ_j + d_j)/cosh θ_j = e^{d_j} σ(2θ_j) + e^{−d_j} σ(−2θ_j),
    a sum of two positive terms for real networks, so accurate to a few ulps whatever the sizes.
    A flip of site i has e^{±d_j} = e^{∓2 s_i W_ji}, read from tables made once per parameter
    set; two flips multiply. The M factors are multiplied in blocks before a logarithm: M/32
    logarithms per move where a forward pass takes M log cosh.
    """
    wt = tables["wt"]
    up = (s[sites] > 0)[:, None]
    on = active[:, None]
    # e^{+d} and e^{−d} per hidden unit, d = −2 Σ_k s_k W_{j,k} over the flipped sites k
    e_plus = jnp.prod(jnp.where(on, jnp.where(up, tables["exp_m2w"][sites], tables["exp_p2w"][sites]), 1), axis=0)
    e_minus = jnp.prod(jnp.where(on, jnp.where(up, tables["exp_p2w"][sites], tables["exp_m2w"][sites]), 1), axis=0)
    ds = -2 * s[sites].astype(wt.dtype) * active.astype(wt.dtype)
    if _exp_cache(wt.dtype):
        # σ(2θ) = 1/(1 + e) for e = e^{−2θ}, and σ(−2θ) = 1 − σ(2θ): one division, and the
        # limits 0 and 1 kept when e underflows to 0 or overflows to ∞. The subtraction loses
        # only what e^{−d}·σ(−2θ) adds below an ulp of the factor. e^{−2θ'} = e · (e^{−d})².
        p = 1 / (1 + cache)
        factors = e_minus + (e_plus - e_minus) * p
        new_cache = cache * (e_minus * e_minus)
    else:
        p, q = _logistic_pair(cache)
        factors = e_plus * p + e_minus * q
        # An elementwise sum, not a (2,) x (2, M) dot: inside the sampler loop a dot is a separate kernel.
        new_cache = cache + jnp.sum(ds[:, None] * wt[sites], axis=0)
    # Multiply in blocks, one logarithm per block: a block's product is bounded by e^{Σ|d_j|} over
    # its units, so it cannot overflow before |W| ~ 11 (float64, 32 units) or ~ 5 (float32, 8);
    # a 2π jump of a complex log is harmless, callers use exp and Re.
    m = factors.shape[0]
    block = _block_size(m, 32 if jnp.finfo(wt.dtype).bits == 64 else 8)
    log_sum = jnp.sum(jnp.log(jnp.prod(factors.reshape(m // block, block), axis=1)))
    return jnp.sum(tables["a"][sites] * ds) + log_sum, new_cache


def jacobian_blocks(params: dict, s: jnp.ndarray) -> dict:
    """∂ log ψ / ∂p for each parameter array p as a row-wise Kronecker pair (U, V): row b is U_b ⊗ V_b (U_b if V is None)."""
    s = s.astype(params["W"].dtype)
    t = jnp.tanh(preactivations(params, s))
    return {"a": (s, None), "b": (t, None), "W": (t, s)}


def build(a, lattice, sector: str) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    size = round(a.alpha * n)
    kernels = {"cache_tree": flip_cache, "flip_tables_tree": flip_tables, "flip_ratio_tree": flip_ratio}
    kernels["single_flip_kernel"] = True  # flip_ratio takes moves of any number of sites
    if not jnp.issubdtype(dtype, jnp.complexfloating):
        kernels["jacobian_blocks_tree"] = jacobian_blocks
    return Built(lambda key: init(key, n, size, dtype, a.init_scale), log_psi, kernels, product_state(n, copies=1))


def product_state(n_sites: int, copies: int):
    """Built.product_state of the RBM family: zero hidden biases, seeded weights, a visible bias
    along z (dynamics.initial_states); ``copies`` hidden units share each row of W."""
    return lambda params, direction, infidelity, key: initial_states.product_params(
        "rbm", params, direction, n_sites, infidelity, key, copies
    )


register_network(
    Network(
        "rbm",
        build,
        "restricted Boltzmann machine, alpha N hidden units",
        product_state_check=any_product_state,
        activations=("cosh",),
    )
)
