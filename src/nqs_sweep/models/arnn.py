"""Autoregressive networks: masked dense layers (arnn; MADE, Sharir et al., PRL 124, 020503,
2020) and masked convolutions (arnn_conv).

ψ(s) = Π_i ψ_i(s_i | s_<i), sites in lattice order (row-major on the square lattice).
Every site carries ``F`` features per layer. The first layer lets site i see only the
spins s_j with j < i; later layers and the output let it see the features of j <= i,
so site i's output w_i is a function of s_<i alone. Its two logits are z_i(±1) = ±w_i/2
and each conditional is normalised, log ψ_i(σ) = z_i(σ) − ½ log Σ_σ' e^{2 Re z_i(σ')}, so
Σ_s |ψ(s)|² = 1 by construction and exact samples are drawn site by site
(nqs_sweep.mc.sampler.direct_sample). Re w_i is the log-odds of s_i = +1; with complex
parameters Im w_i is the phase difference between the two values, which with the earlier
sites' phases spans every phase function of s up to a global phase. One output per
site rather than two logits: two would carry a direction (their common real shift)
that the normalisation cancels, a parameter that never moves ψ.

The logits also take the earlier spins directly (a masked linear "skip" from the input,
zero bias): every pair product s_i s_j, j < i, is then a tangent direction everywhere,
including at the uniform (+x) state where the output weights are zero and the hidden
layers have no gradient. Without it t-VMC cannot leave that state correctly: its first
step after a quench needs exactly the pair terms of H (measured: TDVP residual 0.16 and
σˣ off by 0.2 at t = 0.05 on the L = 6 Ising chain).

In the zero-magnetisation sector a value that would leave too few spins of the other
sign for the remaining sites gets probability zero, so ψ is normalised on the sector.

Only the (i, j) pairs a mask allows are parameters (packed, scattered into the dense
weight per call), so the parameter count that the QGT rank is measured against has no
masked-out entries. The gauge directions left are the hidden layers' when the output
weights are zero, and, for complex networks, one global phase.

arnn_conv ties the weight of a pair (i, j) to its lattice offset (dy, dx) = r_j − r_i
(a chain is one row): a masked convolution, with the lattice's edges as zero padding
(periodic wrapping would let a site see later ones). The kernel reaches the whole
lattice, so stacking layers leaves no blind spot (the upper-right region that a small
PixelCNN kernel never reaches); its weights number ~2N F² per layer instead of ~N² F²/2
(the biases stay per site, N F per layer). It is contracted as the dense layer with
tied weights: the cost is the dense one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.dynamics import initial_states
from nqs_sweep.models.activations import HIDDEN_ACTIVATIONS
from nqs_sweep.models.registry import DTYPES, Built, Network, any_product_state, register_network


def mask_pairs(n_sites: int, strict: bool, width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows i, cols j, parameter index) of the pairs with j < i (strict) or j <= i.

    ``width`` None: one parameter per pair (dense). Otherwise sites are row-major on rows
    of ``width`` sites and a pair's parameter is that of its offset (convolution).
    """
    rows, cols = np.tril_indices(n_sites, k=-1 if strict else 0)
    if width is None:
        return rows, cols, np.arange(rows.size)
    offsets = np.stack([cols // width - rows // width, cols % width - rows % width], axis=1)
    _, index = np.unique(offsets, axis=0, return_inverse=True)
    return rows, cols, index.reshape(-1)


def init(key: jax.Array, n_sites: int, features: tuple[int, ...], dtype, scale: float, width: int | None = None) -> dict:
    """Hidden layers at variance 1/fan_in (their signal neither dies out nor saturates); the
    output layer and the skip at ``scale``, so the initial conditionals are nearly uniform."""
    widths = (1, *features, 1)
    layers = []
    keys = jax.random.split(key, len(widths))
    for depth, (k, f_in, f_out) in enumerate(zip(keys, widths[:-1], widths[1:])):
        _, _, index = mask_pairs(n_sites, depth == 0, width)
        kw, kb = jax.random.split(k)
        last = depth == len(widths) - 2
        w_scale = scale if last else 1.0 / np.sqrt(max(1, f_in * n_sites // 2))
        layers.append(
            {
                "W": w_scale * jax.random.normal(kw, (int(index.max()) + 1, f_out, f_in), dtype),
                "b": (scale if last else 0.1) * jax.random.normal(kb, (n_sites, f_out), dtype),
            }
        )
    _, _, index = mask_pairs(n_sites, True, width)
    return {"layers": layers, "skip": scale * jax.random.normal(keys[-1], (int(index.max()) + 1, 1, 1), dtype)}


def _dense_weight(packed: jax.Array, rows: np.ndarray, cols: np.ndarray, index: np.ndarray, n_sites: int) -> jax.Array:
    """A packed weight as (N_out, N_in, F_out, F_in), zero where the mask forbids."""
    return jnp.zeros((n_sites, n_sites, *packed.shape[1:]), packed.dtype).at[rows, cols].set(packed[index])


def _dense_weights(params: dict, n_sites: int, width: int | None) -> tuple[list[jax.Array], jax.Array]:
    """Every layer's dense weight (the first strict, the others inclusive) and the skip's (strict)."""
    strict = mask_pairs(n_sites, True, width)
    inclusive = mask_pairs(n_sites, False, width)
    layers = [_dense_weight(layer["W"], *(strict if d == 0 else inclusive), n_sites) for d, layer in enumerate(params["layers"])]
    return layers, _dense_weight(params["skip"], *strict, n_sites)


def _log_conditionals(w: jax.Array, allowed: jax.Array | None) -> jax.Array:
    """Site outputs w (..., 1) -> normalised log ψ_i(+1), log ψ_i(−1) (..., 2); forbidden values get −inf."""
    z = jnp.concatenate([w / 2, -w / 2], axis=-1)
    if allowed is not None:
        z = jnp.where(allowed, z, -jnp.inf)
    return z - 0.5 * jax.nn.logsumexp(2 * jnp.real(z), axis=-1, keepdims=True)


def _allowed(ups: jax.Array, downs: jax.Array, half: int) -> jax.Array:
    """Which of (+1, −1) may still be placed, given the spins of each sign placed so far."""
    return jnp.stack([ups < half, downs < half], axis=-1)


def make_conditionals(n_sites: int, activation: str, zero_magnetization: bool, width: int | None = None):
    """conditionals(params, s (..., N)) -> (..., N, 2): log ψ_i(σ | s_<i) for σ = +1, −1.
    ``width``: None for masked dense layers, the lattice's row length for masked convolutions."""
    sigma = HIDDEN_ACTIVATIONS[activation]
    half = n_sites // 2

    def conditionals(params: dict, s: jax.Array) -> jax.Array:
        batch = s.shape[:-1]
        spins = s.reshape(-1, n_sites, 1)
        dense, skip = _dense_weights(params, n_sites, width)
        x = spins
        for depth, (weight, layer) in enumerate(zip(dense, params["layers"])):
            x = jnp.einsum("ijfg,bjg->bif", weight, x.astype(weight.dtype)) + layer["b"]
            if depth < len(dense) - 1:
                x = sigma(x)
        x = x + jnp.einsum("ijfg,bjg->bif", skip, spins.astype(skip.dtype))
        allowed = None
        if zero_magnetization:
            # Spins of each sign already placed before site i (unset sites are 0 and lie after i).
            sv = s.reshape(-1, n_sites)
            ups = jnp.cumsum(sv > 0, axis=-1) - (sv > 0)
            downs = jnp.cumsum(sv < 0, axis=-1) - (sv < 0)
            allowed = _allowed(ups, downs, half)
        return _log_conditionals(x, allowed).reshape(*batch, n_sites, 2)

    return conditionals


def make_log_psi(conditionals):
    def log_psi(params: dict, s: jax.Array) -> jax.Array:
        cond = conditionals(params, s)
        return jnp.sum(jnp.where(s > 0, cond[..., 0], cond[..., 1]), axis=-1)

    return log_psi


def make_sampler(n_sites: int, activation: str, zero_magnetization: bool, width: int | None = None):
    """draw(params, u (N, B) uniforms) -> configurations (B, N), site by site, with cached layers.

    A forward pass per site would cost N passes of O(N² F²). Instead every layer keeps the
    pre-activations of all sites; when site i is drawn, only its own features are new, and
    they are added to the pre-activations of the sites that see them (O(N F²) per layer).
    The whole draw then costs about one forward pass. Site i is +1 when u_i < p_i(+1), the
    rule of the generic path (nqs_sweep.mc.sampler.direct_sample), so both draw the same samples.
    """
    sigma = HIDDEN_ACTIVATIONS[activation]
    half = n_sites // 2

    def draw(params: dict, u: jax.Array) -> jax.Array:
        layers = params["layers"]
        dense, skip = _dense_weights(params, n_sites, width)
        batch = u.shape[1]
        pre = [jnp.broadcast_to(layer["b"], (batch, *layer["b"].shape)) for layer in layers]
        counts = jnp.zeros((batch, 2), jnp.int32)  # spins placed so far: (+1, −1)

        def site(i, carry):
            pre, counts, s = carry
            pre = list(pre)
            for d in range(1, len(layers)):  # site i's features of layer d−1 are complete: pass them on
                h = sigma(pre[d - 1][:, i])
                pre[d] = pre[d] + jnp.einsum("kfg,bg->bkf", dense[d][:, i], h.astype(dense[d].dtype))
            allowed = _allowed(counts[:, 0], counts[:, 1], half) if zero_magnetization else None
            log_p_up = 2 * jnp.real(_log_conditionals(pre[-1][:, i], allowed)[:, 0])
            up = jnp.log(u[i]) < log_p_up
            spin = jnp.where(up, 1.0, -1.0).astype(s.dtype)
            pre[0] = pre[0] + dense[0][:, i, :, 0][None] * spin[:, None, None].astype(dense[0].dtype)
            pre[-1] = pre[-1] + skip[:, i, :, 0][None] * spin[:, None, None].astype(skip.dtype)
            counts = counts + jnp.stack([up, ~up], axis=-1).astype(counts.dtype)
            return tuple(pre), counts, s.at[:, i].set(spin)

        s0 = jnp.zeros((batch, n_sites), u.dtype)
        return jax.lax.fori_loop(0, n_sites, site, (tuple(pre), counts, s0))[2]

    return draw


def _builder(convolutional: bool):
    def build(a, lattice, sector: str) -> Built:
        n, dtype = lattice.n_sites, DTYPES[a.dtype]
        # a masked convolution ties weights by offset on rows of the lattice (a chain is one row)
        width = (lattice.L if lattice.kind == "square" else n) if convolutional else None
        zero_m = sector == "zero_magnetization"
        conditionals = make_conditionals(n, a.activation, zero_m, width)
        kernels = {"conditionals_tree": conditionals, "draw_tree": make_sampler(n, a.activation, zero_m, width)}
        product_state = lambda params, direction, infidelity, key: initial_states.autoregressive_product(  # noqa: E731
            params, direction, n, infidelity
        )
        return Built(
            lambda key: init(key, n, a.features, dtype, a.init_scale, width), make_log_psi(conditionals), kernels, product_state
        )

    return build


for name, convolutional, description in (
    ("arnn", False, "autoregressive dense network"),
    ("arnn_conv", True, "autoregressive masked-convolution network"),
):
    register_network(
        Network(
            name,
            _builder(convolutional),
            description,
            deep=True,
            per_site_features=True,
            autoregressive=True,
            product_state_check=any_product_state,
        )
    )
