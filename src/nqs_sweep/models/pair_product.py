"""Pair-product (geminal) state times an RBM correlator: the RBM+PP of Nomura, Darmawan, Yamaji &
Imada (PRB 96, 205152, 2017), the family behind varbench's best J1-J2 energies.

Spins are fermions at one per site. The pair product |PP⟩ = (Σ_ij F_ij c†_i↑ c†_j↓)^{N/2} |0⟩ has,
on the up sites u_1 < … < u_M and down sites d_1 < … < d_M of a configuration (M = N/2),

    ⟨s|PP⟩ = (−1)^{inv(s)} det[F(u_a, d_b)],

where |s⟩ = Π_i c†_{i,s_i} |0⟩ in site order (on this basis the spin operators' matrix elements
are the fermions', with no sign: S⁺_i S⁻_j moves a fermion within its own site) and
inv(s) = #{(i < j): s_i down, s_j up} is the parity of the reordering into ups, then downs.
ψ(s) = ⟨s|PP⟩ exp(RBM(s)), with the RBM of models.rbm (alpha N hidden units).

F is a general N × N matrix: its symmetric part pairs in singlets, its antisymmetric part in
triplets. It carries the sign structure, so a real F has the frustrated model's signs to learn
that a positive network with the Marshall sign cannot (docs/accuracy.md). The determinant
needs exactly N/2 up spins, so the network is for hilbert.sector: zero_magnetization.

F starts as the nearest-neighbour pairing of a resonating-valence-bond state (1 on each bond of
the lattice) plus ``init_scale`` noise: without the noise the determinant vanishes on the
configurations that have no perfect matching of ups to downs along bonds.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models import rbm
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network


def init(key: jax.Array, bonds: np.ndarray, n_sites: int, n_hidden: int, dtype, scale: float) -> dict:
    k_rbm, k_f = jax.random.split(key)
    pairing = np.zeros((n_sites, n_sites))
    pairing[bonds[:, 0], bonds[:, 1]] = pairing[bonds[:, 1], bonds[:, 0]] = 1.0
    f = jnp.asarray(pairing, dtype) + scale * jax.random.normal(k_f, (n_sites, n_sites), dtype)
    return {"F": f, "rbm": rbm.init(k_rbm, n_sites, n_hidden, dtype, scale)}


def log_pair_product(f: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    """log ⟨s|PP⟩ for configurations s (..., N) with N/2 up spins: complex (...)."""
    m = s.shape[-1] // 2
    up = s > 0
    # A stable sort puts the up sites first and keeps each kind in site order.
    order = jnp.argsort(~up, axis=-1, stable=True)
    ups, downs = order[..., :m], order[..., m:]
    sign, log_abs = jnp.linalg.slogdet(f[ups[..., :, None], downs[..., None, :]])
    down = (~up).astype(jnp.int32)
    downs_before = jnp.cumsum(down, axis=-1) - down
    inversions = jnp.sum(jnp.where(up, downs_before, 0), axis=-1)
    cdtype = jnp.result_type(f.dtype, jnp.complex64)
    # log of the determinant's sign (±1, or a phase for complex F) and of the reordering's
    return log_abs.astype(cdtype) + jnp.log(sign.astype(cdtype)) + 1j * jnp.pi * (inversions % 2)


def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    return log_pair_product(params["F"], s) + rbm.log_psi(params["rbm"], s)


def build(a, lattice, sector: str) -> Built:
    n, dtype = lattice.n_sites, DTYPES[a.dtype]
    size = round(a.alpha * n)
    bonds = np.asarray(lattice.nn_bonds)
    return Built(lambda key: init(key, bonds, n, size, dtype, a.init_scale), log_psi, {})


register_network(
    Network(
        "rbm_pp",
        build,
        "pair-product (geminal) state times an RBM correlator, alpha N hidden units",
        activations=("cosh",),
        sectors=("zero_magnetization",),
    )
)
