"""Translation-equivariant residual convolutional network (after Chen & Heyl, Nat. Phys. 20,
1476 (2024), and He et al.'s pre-activation ResNet).

The spins sit on the periodic lattice as an image with one channel (a chain is a line, a square
lattice an L × L grid, site y L + x at row y, column x). Every convolution is periodic with an
ansatz.kernel-wide window in each direction and ansatz.features channels:

    x_0 = conv_0(s)
    x_l = x_{l-1} + conv_{l,2}(σ(conv_{l,1}(σ(x_{l-1}))))          l = 1 .. ansatz.layers
    log ψ(s) = log Σ_r exp(Σ_f w_f σ(x_L[r, f]))

A periodic convolution commutes with the lattice translations, so every x_l moves with the
spins and the final sum over positions r makes ψ invariant under translations (momentum 0): the
network is ``symmetric`` over ``translations`` and a projection (symmetry.project) needs only
the point group and the spin flip on top. Residual blocks start near the identity (their second
convolution at ansatz.init_scale) and w at init_scale, so ψ starts nearly uniform however deep.
σ is log cosh or tanh (ansatz.activation); complex dtypes give ψ a phase.

Parameters: k^d F + F + layers · 2 (k^d F² + F) + F, for kernel k, dimension d, F channels.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models.activations import HIDDEN_ACTIVATIONS, log_sum_exp
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network


def _conv_init(key: jax.Array, shape: tuple[int, ...], scale: float, dtype) -> dict:
    kw = jax.random.split(key)[0]  # the split keeps the initial values of the measured runs
    return {"W": scale * jax.random.normal(kw, shape, dtype), "b": jnp.zeros(shape[-1:], dtype)}


def init(key: jax.Array, dim: int, kernel: int, channels: int, blocks: int, dtype, scale: float) -> dict:
    window = (kernel,) * dim
    fan = kernel**dim * channels
    keys = jax.random.split(key, 2 * blocks + 2)
    return {
        "input": _conv_init(keys[0], (*window, 1, channels), 1 / np.sqrt(kernel**dim), dtype),
        "blocks": [
            {
                "a": _conv_init(keys[2 * i + 1], (*window, channels, channels), 1 / np.sqrt(fan), dtype),
                "b": _conv_init(keys[2 * i + 2], (*window, channels, channels), scale / np.sqrt(fan), dtype),
            }
            for i in range(blocks)
        ],
        "output": scale * jax.random.normal(keys[-1], (channels,), dtype),
    }


def _numbers(dim: int) -> tuple[str, str, str]:
    spatial = "HW"[:dim] if dim == 2 else "W"
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


def _valid_conv(padded: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    dim = padded.ndim - 2
    return jax.lax.conv_general_dilated(padded, w, (1,) * dim, "VALID", dimension_numbers=_numbers(dim))


def _windows(padded: jnp.ndarray, window: tuple[int, ...]) -> jnp.ndarray:
    """Every kernel offset's slice of the padded image: (B, K, *grid, C) from (B, *padded grid, C), K = prod(window)."""
    grid = tuple(n - k + 1 for n, k in zip(padded.shape[1:-1], window))
    offsets = np.ndindex(*window)
    slices = [padded[(slice(None), *(slice(o, o + n) for o, n in zip(offset, grid)))] for offset in offsets]
    return jnp.stack(slices, axis=1)


@jax.custom_jvp
def _conv(padded: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """lax.conv, with its derivative in the kernel written as windows · kernel tangent (below).

    The per-sample Jacobian (vmap of jacrev over configurations) batches the kernel's cotangent.
    For lax.conv's own rule that is a convolution with both operands batched, which XLA lowers to
    a grouped convolution: on a CPU 95.6 s for 1024 configurations of the 4x4 network in
    docs/accuracy.md. Written as a contraction of the padded input's windows with the kernel, its
    transpose under vmap is one batched matrix product (0.66 s, measured there). The input's derivative stays
    a convolution (its kernel is not batched). A JVP rule, not a VJP one, so forward mode (the
    dense references of the tests) works too.
    """
    return _valid_conv(padded, w)


@_conv.defjvp
def _conv_jvp(primals, tangents):
    padded, w = primals
    d_padded, d_w = tangents
    window = w.shape[:-2]
    patches = _windows(padded, window)
    spatial = "xy"[: len(window)]
    d_kernel = jnp.einsum(f"bk{spatial}c,kco->b{spatial}o", patches, d_w.reshape(-1, *w.shape[-2:]))
    return _valid_conv(padded, w), _valid_conv(d_padded, w) + d_kernel


def periodic_conv(x: jnp.ndarray, layer: dict, kernel: int) -> jnp.ndarray:
    """x (B, *grid, C_in) -> (B, *grid, C_out), wrapping around every direction of the grid."""
    dim = x.ndim - 2
    lo, hi = (kernel - 1) // 2, kernel // 2
    padded = jnp.pad(x, [(0, 0), *([(lo, hi)] * dim), (0, 0)], mode="wrap")
    return _conv(padded, layer["W"]) + layer["b"]


def make_log_psi(grid: tuple[int, ...], kernel: int, activation: str):
    sigma = HIDDEN_ACTIVATIONS[activation]

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        dtype = params["output"].dtype
        batch = s.shape[:-1]
        x = s.reshape(-1, *grid, 1).astype(dtype)
        x = periodic_conv(x, params["input"], kernel)
        for block in params["blocks"]:
            h = periodic_conv(sigma(x), block["a"], kernel)
            x = x + periodic_conv(sigma(h), block["b"], kernel)
        z = (sigma(x) @ params["output"]).reshape(len(x), -1)  # (B, positions)
        return log_sum_exp(z.astype(jnp.result_type(z.dtype, jnp.complex64))).reshape(batch)

    return log_psi


def build(a, lattice, sector: str) -> Built:
    grid = (lattice.L,) if lattice.kind == "chain" else (lattice.L, lattice.L)
    channels, blocks = a.features[0], a.layers
    dtype = DTYPES[a.dtype]
    return Built(
        lambda key: init(key, len(grid), a.kernel, channels, blocks, dtype, a.init_scale),
        make_log_psi(grid, a.kernel, a.activation),
        {},
    )


def check_kernel(ansatz_spec, lattice) -> tuple[str, str] | None:
    """What the lattice and the residual sum refuse of the spec, as (field, message), or None."""
    if len(set(ansatz_spec.features)) > 1:
        channels = list(ansatz_spec.features)
        return "ansatz.features", f"a residual block adds its output to its input: all blocks need equal channels; got {channels}"
    if ansatz_spec.kernel > lattice.L:
        return "ansatz.kernel", f"a window of {ansatz_spec.kernel} sites per direction exceeds L = {lattice.L}"
    return None


register_network(
    Network(
        "resnet",
        build,
        "translation-equivariant residual CNN: periodic convolutions, pre-activation residual blocks, a sum over positions",
        deep=True,
        symmetric=True,
        per_site_features=True,
        groups=("translations",),
        kernel=check_kernel,
    )
)
