"""Vision Transformer for spins with factored attention (after Viteritti, Rende & Becca, Phys. Rev.
Lett. 130, 236401 (2023), and Rende, Viteritti, Bardone, Becca & Goldt, Commun. Phys. 7, 260 (2024)).

Tokens. Each site r carries the token of its patch: the ansatz.patch-wide window of spins that
starts at r (b sites on a chain, b × b on the square lattice, periodic), embedded linearly into
F = ansatz.features dimensions. Rende et al. cut the lattice into N / b^d disjoint patches, and
their network is then invariant only under translations by b; with a token per site it is
invariant under every translation (momentum 0), at b^d times their attention cost, so a
projection (symmetry.project) needs only the point group and the spin flip on top, as for resnet.

Encoder blocks (ansatz.layers of them, pre-layer-norm residual):

    x = x + W_O [A_h LN(x) W_V^h]_h        factored attention, h = 1 .. ansatz.heads
    x = x + W_2 σ(W_1 LN(x))               a two-layer perceptron of width 2F

Factored attention has no queries or keys: head h mixes the tokens with weights a_h[r_i − r_j]
that depend only on the displacement between the two sites (periodic), so A_h commutes with the
translations. That is the translation-invariant form of Rende et al.; its weights do not depend
on the spins, which they found no worse than softmax attention on J1-J2 and far cheaper.

Output. z = Σ_i x_i (the sum over positions makes ψ invariant), and log ψ = Σ_k σ(W z + c)_k, F
units, as their final layer. Every parameter has ansatz.dtype (a complex dtype gives ψ a phase;
layer norm then centres and scales by the mean modulus), σ is ansatz.activation. The residual
branches' output weights and the final layer start at ansatz.init_scale, so the network starts
near the identity and ψ near uniform however deep.

Parameters: b^d F + F + layers (6F² + 8F + H N) + F² + F, for N sites and H heads.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models.activations import HIDDEN_ACTIVATIONS
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network

MLP_WIDTH = 2  # the perceptron's hidden width in units of F
LAYER_NORM_EPS = 1e-6


def displacements(L: int, dim: int) -> np.ndarray:
    """(N, N) index of the periodic displacement r_i − r_j (site y L + x at row y, column x)."""
    coords = np.array(list(np.ndindex(*(L,) * dim)))  # site n = row-major coordinates
    diff = (coords[:, None, :] - coords[None, :, :]) % L
    return np.ravel_multi_index(tuple(diff[..., k] for k in range(dim)), (L,) * dim).astype(np.int32)


def patch_sites(L: int, dim: int, patch: int) -> np.ndarray:
    """(N, b^d) the sites of each site's patch: the window of b per direction starting at it."""
    coords = np.array(list(np.ndindex(*(L,) * dim)))
    offsets = np.array(list(np.ndindex(*(patch,) * dim)))
    window = (coords[:, None, :] + offsets[None, :, :]) % L
    return np.ravel_multi_index(tuple(window[..., k] for k in range(dim)), (L,) * dim).astype(np.int32)


def _dense(key, n_in: int, n_out: int, scale: float, dtype) -> dict:
    return {"W": scale / np.sqrt(n_in) * jax.random.normal(key, (n_in, n_out), dtype), "b": jnp.zeros(n_out, dtype)}


def _norm(n: int, dtype) -> dict:
    return {"g": jnp.ones(n, dtype), "b": jnp.zeros(n, dtype)}


def init(key: jax.Array, n_sites: int, window: int, features: int, heads: int, blocks: int, dtype, scale: float) -> dict:
    keys = jax.random.split(key, 4 * blocks + 2)
    width = MLP_WIDTH * features
    return {
        "embed": _dense(keys[0], window, features, 1.0, dtype),
        "blocks": [
            {
                "norm_1": _norm(features, dtype),
                "attention": jax.random.normal(keys[4 * i + 1], (heads, n_sites), dtype) / np.sqrt(n_sites),
                "value": _dense(keys[4 * i + 2], features, features, 1.0, dtype)["W"],
                "out": _dense(keys[4 * i + 3], features, features, scale, dtype),
                "norm_2": _norm(features, dtype),
                "mlp_1": _dense(jax.random.fold_in(keys[4 * i + 4], 1), features, width, 1.0, dtype),
                "mlp_2": _dense(keys[4 * i + 4], width, features, scale, dtype),
            }
            for i in range(blocks)
        ],
        "final": _dense(keys[-1], features, features, scale, dtype),
    }


def layer_norm(x: jnp.ndarray, p: dict) -> jnp.ndarray:
    centred = x - jnp.mean(x, axis=-1, keepdims=True)
    scale = jnp.sqrt(jnp.mean(jnp.abs(centred) ** 2, axis=-1, keepdims=True) + LAYER_NORM_EPS)
    return centred / scale * p["g"] + p["b"]


def make_log_psi(L: int, dim: int, patch: int, heads: int, activation: str):
    sigma = HIDDEN_ACTIVATIONS[activation]
    gather = jnp.asarray(patch_sites(L, dim, patch))
    disp = jnp.asarray(displacements(L, dim))

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        dtype = params["final"]["W"].dtype
        batch = s.shape[:-1]
        tokens = s.reshape(-1, s.shape[-1])[:, gather].astype(dtype)  # (B, N, b^d)
        x = tokens @ params["embed"]["W"] + params["embed"]["b"]  # (B, N, F)
        n_batch, n_tok, n_feat = x.shape
        for block in params["blocks"]:
            mixing = block["attention"][:, disp]  # (H, N, N): a_h[r_i − r_j]
            v = (layer_norm(x, block["norm_1"]) @ block["value"]).reshape(n_batch, n_tok, heads, n_feat // heads)
            mixed = jnp.einsum("hij,bjhf->bihf", mixing, v).reshape(n_batch, n_tok, n_feat)
            x = x + mixed @ block["out"]["W"] + block["out"]["b"]
            h = sigma(layer_norm(x, block["norm_2"]) @ block["mlp_1"]["W"] + block["mlp_1"]["b"])
            x = x + h @ block["mlp_2"]["W"] + block["mlp_2"]["b"]
        z = jnp.sum(x, axis=1)
        out = jnp.sum(sigma(z @ params["final"]["W"] + params["final"]["b"]), axis=-1)
        return out.reshape(batch)

    return log_psi


def build(a, lattice, sector: str) -> Built:
    dim = 1 if lattice.kind == "chain" else 2
    features = a.features[0]
    return Built(
        lambda key: init(key, lattice.n_sites, a.patch**dim, features, a.heads, a.layers, DTYPES[a.dtype], a.init_scale),
        make_log_psi(lattice.L, dim, a.patch, a.heads, a.activation),
        {},
    )


def check_patch(ansatz_spec, lattice) -> tuple[str, str] | None:
    if ansatz_spec.patch > lattice.L:
        return "ansatz.patch", f"a patch of {ansatz_spec.patch} sites per direction exceeds L = {lattice.L}"
    return None


def check_heads(ansatz_spec, lattice) -> tuple[str, str] | None:
    if len(set(ansatz_spec.features)) > 1:
        channels = list(ansatz_spec.features)
        return "ansatz.features", f"the encoder's residual sums need one width in every block; got {channels}"
    if ansatz_spec.features[0] % ansatz_spec.heads:
        return "ansatz.heads", f"the heads split ansatz.features = {ansatz_spec.features[0]} evenly; got {ansatz_spec.heads}"
    return None


register_network(
    Network(
        "vit",
        build,
        "Vision Transformer: a token per site's patch, factored translation-invariant attention, a sum over positions",
        deep=True,
        symmetric=True,
        per_site_features=True,
        groups=("translations",),
        patch=check_patch,
        heads=check_heads,
    )
)
