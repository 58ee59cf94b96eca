"""Group-convolutional network (Cohen & Welling 2016; Roth & MacDonald 2021 for spins).

The group G is a permutation group of the lattice (translations, or the space group):
(T_g s)_i = s[perms[g, i]]. Feature maps are functions on G with F channels:

    layer 1:   x[g, f] = σ(W_f · T_g s + b_f)                 (a symmetric-RBM embedding)
    layer l:   x'[g, f] = σ(Σ_{k, f'} K[f, f', k] x[k·g, f'] + b'_f)   (a group convolution)
    output:    log ψ(s) = log Σ_g χ(g)* exp(Σ_f x_L[g, f])

With T_a T_b = T_{a·b}, replacing s by T_u s maps x[g] to x[g·u] in layer 1 (x[g] is a
function of T_g T_u s = T_{g·u} s). A group convolution that multiplies by k on the
left commutes with this right translation: Σ_k K[k] x[k·g·u] is the new map at g·u.
The final sum over g then gives ψ(T_u s) = χ(u) ψ(s): the sector of the characters χ (all 1:
exactly invariant; physics.symmetry for the convention). σ is log cosh (activation: cosh)
or tanh; the first layer alone with log cosh gives ψ = Σ_g Π_f cosh(W_f·T_g s + b_f).

``readout: dense`` makes the network approximately symmetric (after Kufel, Kemp, Vu, Linsel,
Laumann & Yao 2024): the symmetric block is followed by a small unsymmetric one, a weight per
group element and channel, log ψ = log Σ_g exp(Σ_f R[g, f] x_L[g, f]). R starts at 1 (the
symmetric network exactly); learning it lets ψ break the symmetry where the state, or a
local minimum of the symmetric manifold, calls for it, for |G| F_L more parameters.

Parameters: F_1 (N + 1) + Σ_{l>1} F_l (F_{l-1} |G| + 1), plus |G| F_L with the dense readout.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models.activations import HIDDEN_ACTIVATIONS, log_conj, log_sum_exp
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network
from nqs_sweep.physics.lattice import group_tables


def init(
    key: jax.Array, n_sites: int, n_group: int, features: tuple[int, ...], dtype, scale: float, readout: str = "symmetric"
) -> dict:
    """The last layer starts at ``scale`` (ψ nearly uniform); earlier ones at variance 1/fan_in;
    a dense readout at 1 (the symmetric network)."""
    fan_in = (n_sites, *(f * n_group for f in features[:-1]))
    layers = []
    for depth, (k, n_in, n_out) in enumerate(zip(jax.random.split(key, len(features)), fan_in, features)):
        kw, kb = jax.random.split(k)
        w_scale = scale if depth == len(features) - 1 else 1 / np.sqrt(n_in)
        shape = (n_out, n_sites) if depth == 0 else (n_out, features[depth - 1], n_group)
        layers.append({"W": w_scale * jax.random.normal(kw, shape, dtype), "b": scale * jax.random.normal(kb, (n_out,), dtype)})
    if readout == "dense":
        return {"layers": layers, "readout": jnp.ones((n_group, features[-1]), dtype)}
    return {"layers": layers}


def make_group_conv(product: np.ndarray, inverse: np.ndarray):
    """conv(x, K)[..., g, f] = Σ_{k, f'} K[f, f', k] x[..., k·g, f'], for x: (..., G, F'), K: (F, F', G).

    Evaluated as a (G, G) matrix per channel pair, K[:, :, h·g⁻¹], built once per call and
    independent of the batch. Its derivative in K is written on x gathered at k·g instead:
    the transpose of the matrix form would hold an (F, F', G, G) cotangent per sample when
    log-derivatives are taken sample by sample; this one holds x[k·g] of size (G, G, F').
    """
    kernel_index = jnp.asarray(product[:, inverse].T)  # [g, h] -> h·g⁻¹, the k with k·g = h
    conv_index = jnp.asarray(product.T)  # [g, k] -> k·g

    @jax.custom_jvp
    def conv(x, K):
        return jnp.einsum("...he,fegh->...gf", x, K[:, :, kernel_index])

    @conv.defjvp
    def conv_jvp(primals, tangents):
        x, K = primals
        dx, dK = tangents
        out = conv(x, K)
        d_out = jnp.einsum("...he,fegh->...gf", dx, K[:, :, kernel_index])
        d_out = d_out + jnp.einsum("...gke,fek->...gf", x[..., conv_index, :], dK)
        return out, d_out

    return conv


def make_log_psi(perms: np.ndarray, activation: str, characters: np.ndarray | None = None):
    conv = make_group_conv(*group_tables(perms))
    perms = jnp.asarray(perms)
    # log χ(g)*: iπ where χ = -1, so the sum runs over complex numbers whenever a character is not 1
    log_weights = None if characters is None else log_conj(characters)
    sigma = HIDDEN_ACTIVATIONS[activation]

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        first, *rest = params["layers"]
        s = s.astype(first["W"].dtype)
        x = sigma(jnp.einsum("...gn,fn->...gf", s[..., perms], first["W"]) + first["b"])  # (..., G, F)
        for layer in rest:
            x = sigma(conv(x, layer["W"]) + layer["b"])
        z = jnp.sum(x * params["readout"], axis=-1) if "readout" in params else jnp.sum(x, axis=-1)  # (..., G)
        cz = z.astype(jnp.result_type(z.dtype, jnp.complex64))
        if log_weights is not None:
            cz = cz + log_weights.astype(cz.dtype)
        return log_sum_exp(cz)

    return log_psi


def build(a, lattice, sector: str, characters: np.ndarray | None = None) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    group = lattice.symmetry_group(a.symmetries)
    return Built(
        lambda key: init(key, n, len(group), a.features, dtype, a.init_scale, a.readout),
        make_log_psi(group, a.activation, characters),
        {},
    )


register_network(
    Network(
        "gcnn",
        build,
        "group-convolutional network over a lattice group",
        deep=True,
        symmetric=True,
        per_site_features=True,
        readouts=("symmetric", "dense"),
        takes_characters=True,
    )
)
