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
triplets. Its determinant carries the sign structure, which is what a positive network times the
Marshall sign cannot learn on a frustrated model (docs/accuracy.md); so the spec refuses
marshall_sign and amplitude_phase for it (Network.carries_signs). The determinant needs exactly
N/2 up spins: the network is for hilbert.sector: zero_magnetization. Where it vanishes (a
configuration no pairing reaches) log ψ is −inf; such configurations are never sampled.

F starts as nearest-neighbour pairing with the signs of the π-flux state (+1 on horizontal bonds,
(−1)^x on vertical ones; a chain has +1), antiperiodic across the boundary when L is a multiple
of 4 (closed shells at half filling), plus ``init_scale`` noise. With +1 on every bond instead,
the fermion signs cancel between matchings: on periodic 4×4 the start had 4320 nonzero amplitudes
of 12 870, the Néel state's among the zeros, and its J1-J2 energy was −18.6 against −33.8; the
π-flux start is at −33.3 (tests/test_pair_product.py).
"""

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models import rbm
from nqs_sweep.models.registry import DTYPES, Built, Network, register_network


def pi_flux_pairing(lattice) -> np.ndarray:
    """The N × N nearest-neighbour pairing of the π-flux state (chains: uniform), with a sign
    change on bonds across a periodic boundary when L is a multiple of 4."""
    n, L = lattice.n_sites, lattice.L
    boundary_sign = -1.0 if L % 4 == 0 else 1.0
    pairing = np.zeros((n, n))
    for i, j in np.asarray(lattice.nn_bonds):
        if lattice.kind == "chain":
            value = boundary_sign if abs(i - j) > 1 else 1.0
        else:  # row-major: site = y L + x
            (yi, xi), (yj, xj) = divmod(int(i), L), divmod(int(j), L)
            horizontal = yi == yj
            value = 1.0 if horizontal else (-1.0) ** xi
            if abs(xi - xj) > 1 or abs(yi - yj) > 1:
                value *= boundary_sign
        pairing[i, j] = pairing[j, i] = value
    return pairing


def init(key: jax.Array, pairing: np.ndarray, n_hidden: int, dtype, scale: float) -> dict:
    k_rbm, k_f = jax.random.split(key)
    n_sites = pairing.shape[0]
    f = jnp.asarray(pairing, dtype) + scale * jax.random.normal(k_f, (n_sites, n_sites), dtype)
    return {"F": f, "rbm": rbm.init(k_rbm, n_sites, n_hidden, dtype, scale)}


def slogdet(a: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(sign or phase, log |det|) of a batch of small matrices (..., m, m), by Gaussian elimination
    with partial pivoting in XLA operations; a singular matrix gives (0, −inf).

    Not jnp.linalg.slogdet: its LAPACK call splits a batch over XLA's intra-op pool and waits on
    it, and two such calls in one program (the determinants of s and of s' in a flip ratio, or of
    the configurations of two terms) deadlocked with two threads: both pool threads blocked in
    getrf's batch map, waiting for work queued behind each other (seen in a test here, traced in
    gdb). The elimination is m steps of batched O(m²) updates: for 8192 matrices of 8 × 8, 15 ms
    against LAPACK's 6.5 ms (one thread), a small part of a step. It is reverse-differentiable
    (the pivot choice is piecewise constant)."""
    m = a.shape[-1]
    rows = jnp.arange(m)
    real = jnp.finfo(a.dtype).dtype

    def eliminate(k, carry):
        a, sign, log_abs = carry
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(a[..., :, k]), -1.0), axis=-1)
        order = jnp.where(rows == k, p[..., None], jnp.where(rows == p[..., None], k, rows))
        a = jnp.take_along_axis(a, order[..., :, None], axis=-2)
        pivot = a[..., k, k]
        size = jnp.abs(pivot)
        safe = jnp.where(size > 0, pivot, 1.0)
        sign = sign * jnp.where(p == k, 1.0, -1.0) * jnp.where(size > 0, safe / jnp.where(size > 0, size, 1.0), 0.0)
        log_abs = log_abs + jnp.log(size)
        below = jnp.where(rows > k, a[..., :, k] / safe[..., None], 0.0)
        return a - below[..., :, None] * a[..., k, None, :], sign, log_abs

    start = (a, jnp.ones(a.shape[:-2], a.dtype), jnp.zeros(a.shape[:-2], real))
    _, sign, log_abs = jax.lax.fori_loop(0, m, eliminate, start)
    return sign, log_abs


def log_pair_product(f: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    """log ⟨s|PP⟩ for configurations s (..., N) with N/2 up spins: complex (...). Other
    magnetisations give meaningless values (the first N/2 sorted sites are taken as the ups)."""
    m = s.shape[-1] // 2
    up = s > 0
    # A stable sort puts the up sites first and keeps each kind in site order.
    order = jnp.argsort(~up, axis=-1, stable=True)
    ups, downs = order[..., :m], order[..., m:]
    sign, log_abs = slogdet(f[ups[..., :, None], downs[..., None, :]])
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
    pairing = pi_flux_pairing(lattice)
    # No incremental kernels: a Metropolis move recomputes the determinant and the RBM.
    return Built(lambda key: init(key, pairing, size, dtype, a.init_scale), log_psi, {})


register_network(
    Network(
        "rbm_pp",
        build,
        "pair-product (geminal) state times an RBM correlator, alpha N hidden units",
        activations=("cosh",),
        sectors=("zero_magnetization",),
        carries_signs=True,
        extra_params=lambda n_sites: n_sites**2,
    )
)
