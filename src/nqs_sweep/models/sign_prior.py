"""A fixed sign structure multiplied into any network: ψ(s) = σ(s) ψ_net(s), σ(s) = ±1; or the
pair product it comes from, trained with the network (``z2_pair_product``, ``wrap_trainable``).

A network with a positive output can only take the signs it is given. With the Marshall rule
(``marshall_sign``) on J1-J2 at J2 = 0.5 that limits the 4×4 energy to 4.49e-3 above the exact one
(physics.exact.sign_rule_bound), and complex networks learn the missing signs slowly (docs/symmetry.md).
The sign of a Gutzwiller-projected BCS state is a better prior there, as in the neural
Gutzwiller-projected states of Ferrari, Becca and Carrasquilla (PRB 100, 125131, 2019), who keep its
amplitude too; we keep its sign only, so the network's fast kernels still drive the sampling
(|ψ|² does not see σ) and σ enters the local energies alone.

``z2_spin_liquid``: the mean-field state of Hu, Becca, Parola and Sorella (PRB 88, 060402, 2013):
nearest-neighbour hopping t and d(x²−y²) pairing Δ1, next-nearest-neighbour d(xy) pairing Δ2, on
the square lattice with antiperiodic boundaries in both directions for L = 0 mod 4, and periodic in
x, antiperiodic in y for L = 2 mod 4 (the choices whose states are closest to the exact ones on 4×4
and 6×6; with Δ2 ≠ 0 no k point is gapless, and the pair product below is regular). The second is
not symmetric under the 90° rotation (it maps to the state with the boundaries swapped), so on
L = 2 mod 4 the prior's sign is covariant under translations and the axis reflections only. Projected onto one fermion per site,
it is the pair product with F_ij = (1/N) Σ_k (v_k/u_k) e^{ik(r_i − r_j)}, v_k/u_k = Δ_k/(ξ_k + E_k).
Its sign is σ(s) = (−1)^{inv(s)} sign det F[ups, downs] (models.pair_product). On 4×4 J1-J2 at
J2 = 0.5 the best positive state with these signs is 6.2e-4 above the exact energy
(physics.exact.sign_rule_bound) against the Marshall rule's 4.49e-3, and the sign structure was
the same for every Δ2 in 0.1-0.4 and Δ1 in 0.5-2 we tried (docs/symmetry.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.models import projection
from nqs_sweep.models.activations import log_sum_exp
from nqs_sweep.models.pair_product import log_pair_product

# The mean-field couplings behind the prior: the sign structure on 4×4 did not depend on them
# within the ranges above, so they are fixed, not spec fields.
Z2_HOPPING, Z2_PAIRING_NN, Z2_PAIRING_NNN = 1.0, 1.0, 0.2

# z2_spin_liquid: the fixed sign of the Z2 state. z2_pair_product: the Z2 state's pair product itself,
# amplitude and sign, with its pairing F trained beside the network (``wrap_trainable``).
SIGN_PRIORS = ("none", "z2_spin_liquid", "z2_pair_product")


def z2_pairing(L: int, hopping: float = Z2_HOPPING, delta1: float = Z2_PAIRING_NN, delta2: float = Z2_PAIRING_NNN) -> np.ndarray:
    """The N × N pairing F of the projected Z2 state on the periodic L × L square (site = y L + x)."""
    if L % 2 or delta2 == 0:
        raise ValueError("the Z2 pairing needs an even L and delta2 != 0 (otherwise some k point is gapless)")
    # Antiperiodic in both directions for L = 0 mod 4; for L = 2 mod 4 periodic in x (with Δ2 != 0
    # no k point of either grid is gapless). Measured, the mean-field state alone is 1.4e-2 above
    # the 4×4 J1-J2 energy with the first, 1.5e-2 above the 6×6 one with the second, and 4.7e-2 with
    # antiperiodic boundaries on 6×6.
    shift_x = 0.5 if L % 4 == 0 else 0.0
    kx, ky = np.meshgrid(2 * np.pi * (np.arange(L) + shift_x) / L, 2 * np.pi * (np.arange(L) + 0.5) / L, indexing="ij")
    xi = -2 * hopping * (np.cos(kx) + np.cos(ky))
    gap = 2 * delta1 * (np.cos(kx) - np.cos(ky)) + 4 * delta2 * np.sin(kx) * np.sin(ky)
    ratio = gap / (xi + np.hypot(xi, gap))  # v_k / u_k; xi + E_k > 0 wherever gap != 0
    y, x = np.divmod(np.arange(L * L), L)
    dx, dy = x[:, None] - x[None, :], y[:, None] - y[None, :]
    phase = np.exp(1j * (kx.ravel()[:, None, None] * dx + ky.ravel()[:, None, None] * dy))
    f = np.tensordot(ratio.ravel(), phase, axes=1) / (L * L)
    return np.ascontiguousarray(f.real)  # Δ_k and ξ_k are even in k: F is real and symmetric


# Where the mean-field pair product vanishes by symmetry (184 of the 12 870 configurations of 4×4),
# a fixed perturbation of F this small decides the sign. It keeps every determinant regular, so the
# determinant-ratio update below holds everywhere and agrees with a direct determinant, while the
# signs of the others (determinants far above it) stay the mean field's.
TIE_BREAK = 1e-7


def pairing(kind: str, lattice) -> np.ndarray:
    """The pairing matrix whose pair product's sign is the prior, with the tie-break added."""
    if kind != "z2_spin_liquid":  # z2_pair_product's F is a parameter: trainable_pairing is its start
        raise ValueError(f"{kind!r} is not a fixed sign prior; allowed: z2_spin_liquid")
    return _tie_broken(z2_pairing(lattice.L))


def _tie_broken(f: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).normal(size=f.shape)
    return f + TIE_BREAK * np.abs(f).max() * (noise + noise.T) / 2


def negative(f: jax.Array, s: jax.Array) -> jax.Array:
    """Whether σ(s) = −1, for s (..., N) with N/2 up spins: bool (...)."""
    return jnp.cos(jnp.imag(log_pair_product(f, s))) < 0


def _inverse(a: jax.Array) -> jax.Array:
    """a⁻¹ for one small matrix by Gauss-Jordan elimination with partial pivoting, in XLA operations.
    Not jnp.linalg.inv: with its LAPACK call beside the determinants' in one program, runs with
    several BLAS threads hung now and then (2 of 4 tries of the 4×4 check here)."""
    m = a.shape[-1]
    rows = jnp.arange(m)

    def eliminate(k, aug):
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(aug[:, k]), -1.0))
        aug = aug[jnp.where(rows == k, p, jnp.where(rows == p, k, rows))]  # swap rows k and p
        pivot_row = aug[k] / aug[k, k]
        aug = aug - jnp.where(rows == k, 0.0, aug[:, k])[:, None] * pivot_row[None, :]
        return aug.at[k].set(pivot_row)

    aug = jax.lax.fori_loop(0, m, eliminate, jnp.concatenate([a, jnp.eye(m, dtype=a.dtype)], axis=1))
    return aug[:, m:]


def exchange_ratio(f: jax.Array, s: jax.Array, sites: jax.Array, active: jax.Array) -> tuple[jax.Array, jax.Array]:
    """For s (N,) and s' = s with the spins at sites (2,) exchanged: whether the move exchanges
    opposite spins, and det A'/det A of the pair matrices A = F[ups, downs], from one inverse of A
    (made once per configuration when moves are vmapped over) and O(M²) per move, instead of a
    determinant of s'. The pair product's ratio ⟨s'|PP⟩/⟨s|PP⟩ is −det A'/det A on an exchange.

    The exchange moves up site u into down slot b and down site d into up slot a: A' is A with row a
    and column b replaced, so det A'/det A = det(I₂ + Vᵀ A⁻¹ U) for the rank-2 change. Reordering
    the slots into site order and the change of inv(s) give together a factor −1 whatever u and d
    (both count the sites between them). On anything but an exchange of opposite spins the ratio
    is meaningless, and the first value says so."""
    m = s.shape[-1] // 2
    up = s > 0
    order = jnp.argsort(~up, stable=True)
    ups, downs = order[:m], order[m:]
    inverse = _inverse(f[ups[:, None], downs[None, :]])
    slot = jnp.where(up, jnp.cumsum(up), jnp.cumsum(~up)) - 1  # a site's index among the ups or the downs
    exchange, _, _, a, b, x, w = _exchange_change(f, s, ups, downs, slot, sites, active)
    ratio = (x @ inverse[:, a]) * (1 + inverse[b] @ w) - (x @ inverse @ w) * inverse[b, a]
    return exchange, ratio


def _exchange_change(f: jax.Array, s: jax.Array, ups: jax.Array, downs: jax.Array, slot: jax.Array, sites, active):
    """The rank-2 change of A = F[ups, downs] (slot order) when the spins at sites (2,) of s (N,) are
    exchanged: (whether they are opposite spins, the up site u, the down site d, u's up slot a,
    d's down slot b, x the new row a: the up at d against the downs of s', w the new column b
    less the old, row a left to x). ``slot``: a site's slot among the ups or among the downs."""
    up = s > 0
    i, j = sites[0], sites[1]
    exchange = active[0] & active[1] & (up[i] != up[j])
    u, d = jnp.where(up[i], i, j), jnp.where(up[i], j, i)
    a, b = slot[u], slot[d]
    x = f[d, downs].at[b].set(f[d, u])
    w = (f[ups, u] - f[ups, d]).at[a].set(0.0)
    return exchange, u, d, a, b, x, w


def exchange_changes_sign(f: jax.Array, s: jax.Array, sites: jax.Array, active: jax.Array) -> jax.Array:
    """Whether σ(s') ≠ σ(s) for s' = s with the spins at sites (2,) exchanged (``exchange_ratio``)."""
    exchange, ratio = exchange_ratio(f, s, sites, active)
    return exchange & (ratio > 0)


def wrap(log_psi_tree: Callable, kernels: dict, f: np.ndarray) -> tuple[Callable, dict]:
    """log ψ + iπ [σ(s) = −1], and the flip kernel's log ratio with the sign ratio added. The
    cache, the tables and the log-derivatives are the network's: σ does not depend on θ."""
    f = jnp.asarray(f)

    def signed(params, s: jax.Array) -> jax.Array:
        out = log_psi_tree(params, s)
        out = out.astype(jnp.result_type(out.dtype, jnp.complex64))
        return out + 1j * jnp.pi * negative(f, s)

    if "flip_ratio_tree" not in kernels:
        return signed, kernels
    base_ratio = kernels["flip_ratio_tree"]

    def flip_ratio_tree(tables, s: jax.Array, cache, sites: jax.Array, active: jax.Array):
        ratio, new_cache = base_ratio(tables, s, cache, sites, active)
        change = exchange_changes_sign(f, s, sites, active)
        return ratio.astype(jnp.result_type(ratio.dtype, jnp.complex64)) + 1j * jnp.pi * change, new_cache

    # Metropolis reads Re of the ratio only: its proposals skip the determinants (XLA did not drop
    # them by itself; they made the sampling 4x slower on 4x4)
    modulus = kernels.get("flip_modulus_ratio_tree") or base_ratio
    # The sign change reads an exchange's two sites: no moves of one site.
    signed_kernels = {"flip_ratio_tree": flip_ratio_tree, "flip_modulus_ratio_tree": modulus, "single_flip_kernel": False}
    return signed, {**kernels, **signed_kernels}


def trainable_pairing(lattice) -> np.ndarray:
    """The Z2 state's pairing scaled to entries of at most 1, the start of ``z2_pair_product``:
    log ⟨s|PP⟩ changes by a constant under F → cF, so the scale sets only how far one SR step of
    the diagonal shift moves F (with entries near 1, as far as the network's weights)."""
    f = _tie_broken(z2_pairing(lattice.L))
    return f / np.abs(f).max()


class PairCache(NamedTuple):
    """What a move of the trained pair product needs of its configuration, per chain. The slots are
    in no particular order once moves have been accepted: a move puts the new up site into the
    vacated up slot, and det ratios and inverses are those of A = F[ups, downs] in slot order."""

    ups: jax.Array  # (..., M) up sites, by slot
    downs: jax.Array  # (..., M) down sites, by slot
    slot: jax.Array  # (..., N) a site's slot among the ups or among the downs
    inverse: jax.Array  # (..., M, M) A⁻¹


def pair_cache(f: jax.Array, s: jax.Array) -> PairCache:
    """The cache of configurations s (B, N) with N/2 up spins: slots in site order, A⁻¹ by elimination."""
    m = s.shape[-1] // 2
    up = s > 0
    order = jnp.argsort(~up, axis=-1, stable=True)
    ups, downs = order[..., :m], order[..., m:]
    slot = jnp.where(up, jnp.cumsum(up, axis=-1), jnp.cumsum(~up, axis=-1)) - 1
    inverse = jax.vmap(_inverse)(f[ups[..., :, None], downs[..., None, :]])
    return PairCache(ups, downs, slot, inverse)


def pair_move(f: jax.Array, s: jax.Array, cache: PairCache, sites: jax.Array, active: jax.Array) -> tuple[jax.Array, PairCache]:
    """log ⟨s'|PP⟩/⟨s|PP⟩ for s' = s with the spins at sites (2,) exchanged, and the cache of s',
    in O(M²) from the cache of s (no elimination, no sort). 0 and the same cache for any other move.

    Up site u goes into down slot b, down site d into up slot a: A' = A + U Vᵀ with U = [e_a, w],
    V = [x − A[a, :], e_b] (x: the new row a, w: the new column b less the old, row a left to x),
    so det A'/det A = det C with C = I₂ + VᵀA⁻¹U, and A'⁻¹ = A⁻¹ − A⁻¹U C⁻¹ VᵀA⁻¹ (Woodbury).
    With the reordering into site order and the change of inv(s), the amplitude ratio is −det C
    whatever the slots' order (either only counts the up or down sites whose index lies between u
    and d)."""
    ups, downs, slot, inverse = cache
    exchange, u, d, a, b, x, w = _exchange_change(f, s, ups, downs, slot, sites, active)
    v_t_inv = jnp.stack([x @ inverse - (jnp.arange(x.shape[0]) == a), inverse[b]])  # VᵀA⁻¹ (2, M)
    inv_u = jnp.stack([inverse[:, a], inverse @ w], axis=1)  # A⁻¹U (M, 2)
    c = jnp.eye(2, dtype=inverse.dtype) + jnp.stack([v_t_inv[:, a], v_t_inv @ w], axis=1)  # I₂ + VᵀA⁻¹U
    det = c[0, 0] * c[1, 1] - c[0, 1] * c[1, 0]
    adj = jnp.array([[c[1, 1], -c[0, 1]], [-c[1, 0], c[0, 0]]])
    moved = PairCache(
        ups.at[a].set(d), downs.at[b].set(u), slot.at[d].set(a).at[u].set(b), inverse - inv_u @ (adj / det) @ v_t_inv
    )
    cdtype = jnp.result_type(f.dtype, jnp.complex64)
    log_ratio = jnp.where(exchange, jnp.log((-det).astype(cdtype)), 0.0)
    return log_ratio, jax.tree.map(lambda new, old: jnp.where(exchange, new, old), moved, cache)


def pair_log_derivatives(f: jax.Array, s: jax.Array) -> jax.Array:
    """∂ log ⟨s|PP(F)⟩ / ∂F for s (B, N): (B, N, N), A⁻ᵀ at [ups, downs] and 0 elsewhere (d log det A
    = tr A⁻¹ dA; holomorphic for a complex F)."""
    ups, downs, _, inverse = pair_cache(f, s)
    batch = jnp.arange(s.shape[0])[:, None, None]
    out = jnp.zeros(s.shape[:1] + f.shape, inverse.dtype)
    return out.at[batch, ups[:, :, None], downs[:, None, :]].set(jnp.swapaxes(inverse, -1, -2))


def _pair_product_parts(group) -> tuple[Callable, dict, Callable]:
    """log ⟨s|PP(F)⟩ with its kernels and its F-derivative, or, for a group (a SymmetryGroup of
    permutations), the pair product summed over it, Σ_h ⟨T_h s|PP(F)⟩ (models.projection's sum and
    kernels, on the pair product alone)."""
    kernels = {"cache_tree": pair_cache, "flip_tables_tree": lambda f: f, "flip_ratio_tree": pair_move}
    if group is None:
        return log_pair_product, kernels, pair_log_derivatives
    orbit = projection.orbit_function(group)

    def derivatives(f: jax.Array, s: jax.Array) -> jax.Array:
        x = orbit(s)  # (B, H, N)
        lp = log_pair_product(f, x)
        weights = jnp.exp(lp - log_sum_exp(lp)[..., None])  # ⟨T_h s|PP⟩ / Σ_h
        rows = pair_log_derivatives(f, x.reshape(-1, x.shape[-1])).reshape(*x.shape[:2], *f.shape)
        return jnp.einsum("bh,bhij->bij", weights.astype(rows.dtype) if jnp.iscomplexobj(rows) else weights.real, rows)

    log_pp = projection.project(log_pair_product, group)
    return log_pp, projection.project_kernels(log_pair_product, kernels, group), derivatives


def wrap_trainable(
    init_params: Callable, log_psi_tree: Callable, kernels: dict, f0: np.ndarray, group=None
) -> tuple[Callable, Callable, dict]:
    """ψ(s) = ⟨s|PP(F)⟩ ψ_net(s) with F a parameter that starts at f0: the Z2 state's amplitude and
    sign, which the optimisation may change where the fixed sign (``wrap``) is wrong. The Gutzwiller-
    projected pair product times a network is Ferrari, Becca and Carrasquilla's neural projected
    state (PRB 100, 125131, 2019) and Nomura et al.'s RBM+PP (PRB 96, 205152, 2017) with a trained
    start. The network's flip kernels stay in use, with the pair product's A⁻¹ in the cache
    (``pair_move``, refreshed by elimination after every sweep so rounding cannot build up); its
    closed-form log-derivatives too, with F's beside them (``pair_log_derivatives``).

    With ``group`` (the network's own symmetry group, which the projection passes when the point is
    projected) the pair product is summed over it: ψ = ψ_net(s) Σ_h ⟨T_h s|PP(F)⟩. For a network
    covariant under the group, that is the projection of the product onto the network's sector at
    the cost of |H| determinants, not |H| networks; the projection sums the rest (the spin flip)."""
    f0 = jnp.asarray(f0)
    log_pp, pp_kernels, pp_derivatives = _pair_product_parts(group)

    def init(key: jax.Array) -> dict:
        net = init_params(key)
        return {"net": net, "pairing": f0.astype(jnp.result_type(*jax.tree.leaves(net)))}

    def log_psi(params: dict, s: jax.Array) -> jax.Array:
        out = log_psi_tree(params["net"], s)
        return out.astype(jnp.result_type(out.dtype, jnp.complex64)) + log_pp(params["pairing"], s)

    extra = {}
    if "log_derivatives_tree" in kernels:
        base_derivatives = kernels["log_derivatives_tree"]
        extra["log_derivatives_tree"] = lambda params, s: {
            "net": base_derivatives(params["net"], s),
            "pairing": pp_derivatives(params["pairing"], s),
        }
    elif "jacobian_blocks_tree" in kernels:
        base_blocks = kernels["jacobian_blocks_tree"]

        def jacobian_blocks(params: dict, s: jax.Array) -> dict:
            rows = pp_derivatives(params["pairing"], s)
            return {"net": base_blocks(params["net"], s), "pairing": (rows.reshape(s.shape[0], -1), None)}

        extra["jacobian_blocks_tree"] = jacobian_blocks
    if "flip_ratio_tree" not in kernels:
        return init, log_psi, extra
    base_cache, base_tables, base_ratio = kernels["cache_tree"], kernels["flip_tables_tree"], kernels["flip_ratio_tree"]
    base_modulus = kernels.get("flip_modulus_ratio_tree") or base_ratio

    def flip_ratio_tree(tables, s: jax.Array, cache, sites: jax.Array, active: jax.Array):
        (net_tables, f), (net_cache, pp) = tables, cache
        ratio, new_net = base_ratio(net_tables, s, net_cache, sites, active)
        pp_ratio, new_pp = pp_kernels["flip_ratio_tree"](f, s, pp, sites, active)
        return ratio.astype(jnp.result_type(ratio.dtype, jnp.complex64)) + pp_ratio, (new_net, new_pp)

    def flip_modulus_ratio_tree(tables, s: jax.Array, cache, sites: jax.Array, active: jax.Array):
        (net_tables, f), (net_cache, pp) = tables, cache
        ratio, new_net = base_modulus(net_tables, s, net_cache, sites, active)
        pp_ratio, new_pp = pp_kernels["flip_ratio_tree"](f, s, pp, sites, active)
        return ratio + pp_ratio.real.astype(ratio.real.dtype), (new_net, new_pp)

    return (
        init,
        log_psi,
        {
            **extra,
            "cache_tree": lambda params, s: (base_cache(params["net"], s), pp_kernels["cache_tree"](params["pairing"], s)),
            "flip_tables_tree": lambda params: (base_tables(params["net"]), params["pairing"]),
            "flip_ratio_tree": flip_ratio_tree,
            "flip_modulus_ratio_tree": flip_modulus_ratio_tree,
            "refresh_cache_tree": lambda tables, s, cache: (cache[0], pp_kernels["cache_tree"](tables[1], s)),
        },
    )
