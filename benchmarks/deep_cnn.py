"""The W4 network: one flax module that both codes run unchanged (nqs-sweep as a plug-in,
``ansatz: {module: benchmarks.deep_cnn:DeepCNN}``; NetKet as its model).

A translation-invariant deep CNN in the style of Choo et al. (PRB 100, 125124 (2019)) and Chen
and Heyl's ResNet without the skips: ``depth`` periodic convolutions of ``features`` channels
with a ``kernel`` × ``kernel`` window, each followed by a smooth nonlinearity, and log ψ the sum
of the last layer over positions and channels. Real float64 parameters: with the Marshall sign
folded into the Hamiltonian the benchmark is about speed, not about the sign structure.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


def n_params(features: int, depth: int, kernel: int) -> int:
    """Weights and biases of DeepCNN (one input channel)."""
    first = kernel * kernel * features + features
    return first + (depth - 1) * (kernel * kernel * features * features + features)


class DeepCNN(nn.Module):
    L: int
    features: int = 20
    depth: int = 4
    kernel: int = 3

    @nn.compact
    def __call__(self, x):
        lead = x.shape[:-1]
        h = x.reshape(-1, self.L, self.L, 1).astype(jnp.float64)
        r = self.kernel // 2
        init = nn.initializers.variance_scaling(0.5, "fan_in", "normal")
        for _ in range(self.depth):
            h = jnp.pad(h, ((0, 0), (r, r), (r, r), (0, 0)), mode="wrap")  # periodic boundaries
            h = nn.Conv(self.features, (self.kernel, self.kernel), padding="VALID", param_dtype=jnp.float64, kernel_init=init)(h)
            h = nn.softplus(h) - jnp.log(2.0)  # smooth, zero at zero: the initial state is near uniform
        return jnp.sum(h, axis=(1, 2, 3)).reshape(lead)
