"""The centred, weighted Jacobian Õ that SR and MinSR share, dense or factored.

Õ = diag(√w) (O − 1 wᵀO) for log-derivatives O (B, P) and sample weights w (B,),
so S = ÕᵀÕ and the sample-space kernel is K = ÕÕᵀ (estimators.centred_real_rows
builds the same rows densely). A network whose rows are Kronecker products,
O_b = [U¹_b ⊗ V¹_b, U²_b ⊗ V²_b, ...] (the RBM: ∂_W log ψ = tanh θ ⊗ s), never needs
the B × P matrix for a sample-space solve:

    O Oᵀ = Σ_i (Uⁱ Uⁱᵀ) ⊙ (Vⁱ Vⁱᵀ)          O(B² (m_i + n_i)) instead of O(B² m_i n_i)
    Oᵀ y = [vec(Uⁱᵀ diag(y) Vⁱ)]_i           O(B m_i n_i), no B × P intermediate

and centring and weighting act on K from both sides. For W3 (10×10, alpha=4,
8192 samples, 40 500 parameters) that is a 2.7 GB Jacobian and a 5.4 TFLOP kernel
that are never built.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def upper_triangle_squares(m: jax.Array) -> jax.Array:
    """Σ_{i≤j} |m_ij|² of a square matrix (its upper triangle, diagonal included)."""
    n = m.shape[0]
    return jnp.sum(jnp.where(jnp.arange(n)[:, None] <= jnp.arange(n)[None, :], jnp.abs(m) ** 2, 0))


def _uncentred_kernel(blocks: list, rows: slice, cols: slice) -> jax.Array:
    """Rows and columns of O Oᵀ = Σ_i (Uⁱ Uⁱᵀ) ⊙ (Vⁱ Vⁱᵀ)."""
    grams: dict[int, jax.Array] = {}

    def gram(x: jax.Array) -> jax.Array:
        # The RBM's factors repeat (s and tanh θ appear in two blocks each): one product each.
        if id(x) not in grams:
            grams[id(x)] = x[rows] @ x[cols].T
        return grams[id(x)]

    return sum(gram(u) if v is None else gram(u) * gram(v) for u, v in blocks)


# Row blocks of an upper-triangle kernel, per backend: block i multiplies its rows by the columns
# from its own diagonal on, (1 + ... + b)/b² of the full products (10/16 for 4). The smaller
# products run a little slower per operation; on W1's kernel (1024 samples, one thread) 4 blocks
# took the kernel from 6.5-7.1 to 4.2-5.4 ms (docs/performance.md). Measured on the CPU only: a
# GPU keeps the one whole product until it is measured there.
KERNEL_ROW_BLOCKS = {"cpu": 4}


class FactoredJacobian(NamedTuple):
    blocks: list  # [(U (B, m), V (B, n) or None)]: row b of block i is U_b ⊗ V_b, or U_b where V is None
    weights: jax.Array  # (B,), summing to 1

    @property
    def n_params(self) -> int:
        return sum(u.shape[1] * (1 if v is None else v.shape[1]) for u, v in self.blocks)

    def kernel(self, shift: jax.Array | float = 0.0, upper_only: bool = False) -> jax.Array:
        """K = ÕÕᵀ + shift·I (B, B).

        With ``upper_only`` only the upper triangle (diagonal included) is K's, and the entries
        below the diagonal blocks of KERNEL_ROW_BLOCKS are 0: all that a Cholesky factorisation
        of Kᵀ reads (optim.qgt), for 10/16 of the products on the CPU.
        """
        return self._assemble(shift, upper_only)[0]

    def upper_kernel(self, shift: jax.Array | float = 0.0) -> tuple[jax.Array, jax.Array]:
        """kernel(shift, upper_only=True) and Σ_{i≤j} K_ij² over its upper triangle.

        The sum is reduced from each row block as it is formed, not read back from K: a second
        reader of K would make XLA copy it before the Cholesky factorisation overwrites it.
        """
        return self._assemble(shift, upper_only=True)

    def _assemble(self, shift: jax.Array | float, upper_only: bool) -> tuple[jax.Array, jax.Array]:
        w = self.weights
        n = w.shape[0]

        def gram_times_weights(u: jax.Array, v: jax.Array | None) -> jax.Array:
            # (UUᵀ ⊙ VVᵀ) w = rowsum(U ⊙ (V Mᵀ)) with M = Uᵀ diag(w) V: O(B m n), no pass over B × B
            if v is None:
                return u @ (u.T @ w)
            return jnp.sum((u @ (u.T @ (w[:, None] * v))) * v, axis=1)

        # Centring from both sides needs K w; taken from the factors, it lets XLA form K, centre,
        # weight and shift it in one pass over the B × B matrix.
        kw = sum(gram_times_weights(u, v) for u, v in self.blocks)
        mean = w @ kw
        sw = jnp.sqrt(w)
        n_blocks = KERNEL_ROW_BLOCKS.get(jax.default_backend(), 1) if upper_only else 1
        edges = np.linspace(0, n, n_blocks + 1).round().astype(int)
        rows, upper_squares = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            if hi == lo:
                continue
            first = lo if upper_only else 0  # the first column this row block needs
            k = _uncentred_kernel(self.blocks, slice(lo, hi), slice(first, None))
            centred = k - kw[lo:hi, None] - kw[None, first:] + mean
            # the diagonal starts each block: row lo is column lo, the block's first column or 0 = lo
            block = sw[lo:hi, None] * centred * sw[None, first:] + shift * jnp.eye(hi - lo, n - first, dtype=k.dtype)
            rows.append(jnp.pad(block, ((0, 0), (first, 0))))
            on_or_above = jnp.arange(lo, hi)[:, None] <= jnp.arange(first, n)[None, :]
            upper_squares.append(jnp.sum(jnp.where(on_or_above, jnp.abs(block) ** 2, 0)))
        return jnp.concatenate(rows), sum(upper_squares)

    def squared_norm(self) -> jax.Array:
        """‖Õ‖_F² = tr(ÕÕᵀ) = Σ_b w_b ‖O_b‖² − ‖Ō‖², Ō = Σ_b w_b O_b, in O(B P) without forming Õ."""
        w = self.weights
        rows = sum(jnp.sum(u * u, axis=1) * (1 if v is None else jnp.sum(v * v, axis=1)) for u, v in self.blocks)
        mean = sum(jnp.sum((u.T @ w) ** 2) if v is None else jnp.sum((u.T @ (w[:, None] * v)) ** 2) for u, v in self.blocks)
        return jnp.maximum(w @ rows - mean, 0.0)  # rounding could take a near-zero trace below 0

    def rmatvec(self, y: jax.Array) -> jax.Array:
        """Õᵀ y (P,) for y (B,)."""
        z = jnp.sqrt(self.weights) * y
        z = z - jnp.sum(z) * self.weights  # Õᵀy = Oᵀ(z − (Σz) w) with z = √w ⊙ y
        return jnp.concatenate([u.T @ z if v is None else (u.T @ (z[:, None] * v)).reshape(-1) for u, v in self.blocks])

    def matvec(self, x: jax.Array) -> jax.Array:
        """Õ x (B,) for x (P,)."""
        out, start = 0, 0
        for u, v in self.blocks:
            m, n = u.shape[1], 1 if v is None else v.shape[1]
            xb = x[start : start + m * n]
            start += m * n
            out = out + (u @ xb if v is None else jnp.sum(u * (v @ xb.reshape(m, n).T), axis=1))
        ox = out - self.weights @ out  # centring: Õx = √w ⊙ (Ox − wᵀ(Ox))
        return jnp.sqrt(self.weights) * ox

    def dense(self) -> jax.Array:
        """Õ (B, P), for parameter-space solves."""
        rows = [u if v is None else (u[:, :, None] * v[:, None, :]).reshape(u.shape[0], -1) for u, v in self.blocks]
        o = jnp.concatenate(rows, axis=1)
        do = o - self.weights @ o
        return jnp.sqrt(self.weights)[:, None] * do


class DenseJacobian(NamedTuple):
    rows: jax.Array  # Õ (R, P): already centred and weighted

    @property
    def n_params(self) -> int:
        return self.rows.shape[1]

    def kernel(self, shift: jax.Array | float = 0.0, upper_only: bool = False) -> jax.Array:
        """K = ÕÕᵀ + shift·I (R, R), whole (it is one product either way)."""
        return self.rows @ self.rows.T + shift * jnp.eye(self.rows.shape[0], dtype=self.rows.dtype)

    def upper_kernel(self, shift: jax.Array | float = 0.0) -> tuple[jax.Array, jax.Array]:
        """kernel(shift) and Σ_{i≤j} K_ij² (FactoredJacobian.upper_kernel)."""
        k = self.kernel(shift)
        return k, upper_triangle_squares(k)

    def squared_norm(self) -> jax.Array:
        """‖Õ‖_F² = tr(ÕÕᵀ)."""
        return jnp.sum(jnp.abs(self.rows) ** 2)

    def rmatvec(self, y: jax.Array) -> jax.Array:
        return self.rows.T @ y

    def matvec(self, x: jax.Array) -> jax.Array:
        return self.rows @ x

    def dense(self) -> jax.Array:
        return self.rows


def in_float64(jac: FactoredJacobian | DenseJacobian) -> FactoredJacobian | DenseJacobian:
    """The same Jacobian in float64, for a float32 network's solve.

    The network's passes (sampling, local energies, the rows themselves) are the step's cost and
    keep their single precision; the kernel ÕÕᵀ or S sums B or P products of rows, and its
    Cholesky factor squares the condition number that a diagonal shift of 1e-4 leaves near 1e4 ·
    λ_max/λ_min: a float32 solve would leave no digit. (optim.qgt's mixed-precision solve
    factors in float32 too, but refines the solution with float64 residuals from these rows.)
    """
    return in_dtype(jac, jnp.float64)


def in_dtype(jac: FactoredJacobian | DenseJacobian, dtype) -> FactoredJacobian | DenseJacobian:
    """The same Jacobian in dtype. A repeated factor stays one array (the factored kernel forms
    each Gram matrix once)."""
    cast: dict[int, jax.Array] = {}

    def f(x):
        if x is None:
            return None
        if id(x) not in cast:
            cast[id(x)] = x.astype(dtype)
        return cast[id(x)]

    if isinstance(jac, FactoredJacobian):
        return FactoredJacobian([(f(u), f(v)) for u, v in jac.blocks], f(jac.weights))
    return DenseJacobian(f(jac.rows))
