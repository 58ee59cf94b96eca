"""Spin configurations: the full space or the zero-magnetisation sector.

A configuration is a vector of σᶻ eigenvalues s_i = ±1. Basis index k (used by the
exact solver and for enumeration) reads site 0 as its most significant bit, with
bit 0 meaning s = +1, so index order equals the order of ``np.kron`` products.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def hilbert_dim(n_sites: int, sector: str) -> int:
    if sector == "full":
        return 2**n_sites
    return math.comb(n_sites, n_sites // 2)


def index_to_states(index: np.ndarray, n_sites: int) -> np.ndarray:
    """Basis indices -> configurations of ±1, shape (len(index), n_sites)."""
    shifts = np.arange(n_sites - 1, -1, -1, dtype=np.int64)
    bits = (np.asarray(index, dtype=np.int64)[:, None] >> shifts) & 1
    return (1 - 2 * bits).astype(np.int8)


def states_to_index(states: np.ndarray) -> np.ndarray:
    n_sites = states.shape[-1]
    bits = (1 - np.asarray(states, dtype=np.int64)) // 2
    return bits @ (1 << np.arange(n_sites - 1, -1, -1, dtype=np.int64))


def sector_indices(n_sites: int, sector: str) -> np.ndarray:
    """Sorted basis indices of the sector."""
    full = np.arange(2**n_sites, dtype=np.int64)
    if sector == "full":
        return full
    popcount = np.zeros_like(full)
    for b in range(n_sites):
        popcount += (full >> b) & 1
    return full[popcount == n_sites // 2]


def all_states(n_sites: int, sector: str) -> np.ndarray:
    """Every configuration of the sector, in increasing basis index."""
    return index_to_states(sector_indices(n_sites, sector), n_sites)


def random_states(key: jax.Array, n: int, n_sites: int, sector: str, dtype=jnp.float64) -> jax.Array:
    """n independent uniform configurations of the sector."""
    if sector == "full":
        return jax.random.rademacher(key, (n, n_sites), dtype=dtype)
    base = jnp.where(jnp.arange(n_sites) < n_sites // 2, 1, -1).astype(dtype)
    keys = jax.random.split(key, n)
    return jax.vmap(lambda k: jax.random.permutation(k, base))(keys)
