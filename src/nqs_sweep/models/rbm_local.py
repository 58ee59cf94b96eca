"""Short-range RBM (Deng, Li and Das Sarma, PRX 7, 021021 (2017)): alpha hidden units per site,
each connected only to the sites within ``ansatz.range`` R of its own (Chebyshev distance on the
square lattice, on periodic lattices): 2R + 1 sites on a chain, (2R + 1)² on a
square lattice.

Such a state obeys an area law: the factors a cut separates depend only on the 2R sites on either
side of it, so the Schmidt rank across one cut is at most 2^(2R) and S(A) <= (cuts) · 2R ln 2,
whatever the size of A and the number of units (4R ln 2 for a block of a periodic chain). The fully connected RBM
(models/rbm.py) can reach a volume law with as many parameters. The network is the RBM with a
fixed sparsity pattern: the free weights (M, window) are scattered into the dense W, and the
RBM's incremental flip kernels are reused on it.
"""

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models import rbm
from nqs_sweep.models.registry import DTYPES, Built, Network, any_product_state, register_network


@lru_cache(maxsize=32)
def windows(lattice, reach: int) -> np.ndarray:
    """(N, window) the sites of each site's window, the site itself first."""
    d = np.abs(lattice.displacements).max(axis=-1)  # Chebyshev distance, minimum image
    return np.stack([np.concatenate([[i], [j for j in np.nonzero(d[i] <= reach)[0] if j != i]]) for i in range(lattice.n_sites)])


def dense(params: dict, cols: np.ndarray) -> dict:
    """The RBM parameters with W (M, N) dense: zero outside each unit's window."""
    m, n = params["W"].shape[0], params["a"].shape[0]
    rows = np.repeat(np.arange(m), cols.shape[1])
    w = jnp.zeros((m, n), params["W"].dtype).at[rows, cols.reshape(-1)].set(params["W"].reshape(-1))
    return {"a": params["a"], "b": params["b"], "W": w}


def build(a, lattice, sector: str) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    per_site = round(a.alpha)
    cols = np.repeat(windows(lattice, a.range), per_site, axis=0)  # unit j sits at site j // alpha

    def init(key: jax.Array) -> dict:
        ka, kb, kw = jax.random.split(key, 3)
        normal = lambda k, shape: a.init_scale * jax.random.normal(k, shape, dtype)  # noqa: E731
        return {"a": normal(ka, (n,)), "b": normal(kb, (n * per_site,)), "W": normal(kw, cols.shape)}

    kernels = {
        "cache_tree": lambda p, s: rbm.flip_cache(dense(p, cols), s),
        "flip_tables_tree": lambda p: rbm.flip_tables(dense(p, cols)),
        "flip_ratio_tree": rbm.flip_ratio,
        "single_flip_kernel": True,
    }
    return Built(init, lambda p, s: rbm.log_psi(dense(p, cols), s), kernels, rbm.product_state(n, copies=1))


def check_range(ansatz_spec, lattice) -> tuple[str, str] | None:
    """What the lattice does not allow of ansatz.range, as (field, message), or None."""
    reach = ansatz_spec.range
    if not lattice.pbc:  # every unit has a full window: as many weights each, none left unused
        return "ansatz.name", "rbm_local needs lattice.pbc: true"
    if 2 * reach + 1 > lattice.L:
        return "ansatz.range", f"a window of 2·range + 1 = {2 * reach + 1} sites per direction exceeds L = {lattice.L}"
    return None


register_network(
    Network(
        "rbm_local",
        build,
        "short-range RBM: alpha hidden units per site, each on the sites within ansatz.range of it (area law)",
        per_site_features=True,
        product_state_check=any_product_state,
        activations=("cosh",),
        local=check_range,
    )
)
