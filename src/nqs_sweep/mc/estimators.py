"""Local energies and log-derivatives of a batch of configurations."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nqs_sweep.mc.jacobian import DenseJacobian, FactoredJacobian
from nqs_sweep.mc.local_updates import connected_log_ratios, flip_context, flipped, has_kernels, init_cache
from nqs_sweep.mc.sampler import LogPsi
from nqs_sweep.physics.hamiltonians import Hamiltonian, connected_elements, connected_moves, diagonal

# Moves (configuration × connected term) evaluated at once by local_energies. The RBM's ratio
# kernel holds a few (moves × M) temporaries. On the CPU, chunks small enough for those to stay
# in cache made W2 of the benchmark's local energies 5x faster (28 -> 4.4 ms; a fresh 40 MB
# temporary per call costs more in page faults than the arithmetic). A GPU wants large batches;
# there the chunk only bounds memory (unchunked, W3 asked for 39 GB).
MOVES_PER_CHUNK = {"cpu": 2**12, "gpu": 2**17}
# The same on the CPU counted in kernel temporaries (moves × cached values per configuration):
# a wide network's cache (rbm_symm at alpha 16 on 6x6 with the space group: 4608 values) made
# 4096 moves a 150 MB temporary; at about 2^20 values its local energies ran 1.25x (alpha 16)
# and 1.6x (alpha 4) faster. The RBMs of W1 and W2 (80 and 72 values) stay at MOVES_PER_CHUNK.
KERNEL_VALUES_PER_CHUNK = {"cpu": 2**20}


def _moves_per_chunk(cache_size: int) -> int:
    """Connected moves per chunk of local energies; cache_size: the values one move's kernel keeps (1 without kernels)."""
    backend = jax.default_backend()
    moves = MOVES_PER_CHUNK.get(backend, MOVES_PER_CHUNK["gpu"])
    if backend in KERNEL_VALUES_PER_CHUNK:
        moves = min(moves, max(1, KERNEL_VALUES_PER_CHUNK[backend] // cache_size))
    return moves


# Without incremental kernels every connected configuration costs a forward pass; an exchange of
# parallel spins has a zero element (about half the J2 bonds of a Néel-like state) and needs none.
# The needed moves are gathered first and evaluated in groups of this many, as far as they go.
FORWARD_GROUP = 512


def map_needed_moves(fn, x: jax.Array, sites, active, needed: jax.Array, group: int, dtype) -> jax.Array:
    """fn(moved, rows) on the configurations x[row] (b, N) moved by the connected move ``move``
    of the tables (sites, active), for the (row, move) pairs where ``needed`` (b, C) only:
    (b, C) of dtype, 0 elsewhere. The needed pairs are gathered first and evaluated in padded
    groups of ``group`` (fn sees (group, N) configurations and their rows), as far as they go."""
    x, sites, active = jnp.asarray(x), jnp.asarray(sites), jnp.asarray(active)  # indexed by traced values below
    b, n_moves = needed.shape
    total = b * n_moves
    group = min(group, total)
    n_groups = -(-total // group)
    # needed moves first (stable: in order), then the rest; padded to whole groups
    order = jnp.argsort(~needed.reshape(-1), stable=True)
    order = jnp.concatenate([order, jnp.broadcast_to(order[-1:], (n_groups * group - total,))])

    def evaluate(i, out):
        idx = jax.lax.dynamic_slice(order, (i * group,), (group,))
        row, move = idx // n_moves, idx % n_moves
        moved = jax.vmap(flipped)(x[row], sites[move], active[move])
        return out.at[idx].set(fn(moved, row))

    done = -(-jnp.sum(needed) // group)
    return jax.lax.fori_loop(0, done, evaluate, jnp.zeros(total, dtype)).reshape(b, n_moves)


def _forward_log_ratios(log_psi, theta, x, sites, active, needed) -> jax.Array:
    """log ψ(s'_c) − log ψ(s) (b, C) by forward passes on the moves where ``needed`` only (0 elsewhere)."""
    base = log_psi(theta, x)
    dtype = jnp.result_type(base.dtype, jnp.complex64)
    return map_needed_moves(lambda moved, row: log_psi(theta, moved) - base[row], x, sites, active, needed, FORWARD_GROUP, dtype)


def local_energies(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> jax.Array:
    """E_loc(s) = Σ_s' H_ss' ψ(s')/ψ(s) for s: (B, N) -> (B,) complex.

    Every s' differs from s by the one or two flips of a move of the Hamiltonian's
    tables, so ψ(s')/ψ(s) comes from nqs_sweep.mc.local_updates: O(M) per term for the
    RBM instead of a forward pass of O(N·M). Samples are processed in chunks of
    MOVES_PER_CHUNK moves, sequentially (cache on the CPU, memory on a GPU).
    """
    terms = _connected_terms(ham, log_psi, theta)

    def chunk(x: jax.Array) -> jax.Array:
        e_loc = diagonal(ham, x) + jnp.sum(terms(x), axis=-1)
        return e_loc.astype(jnp.result_type(e_loc.dtype, jnp.complex64))  # complex on every path

    return _map_chunks(chunk, s, _samples_per_chunk(ham, log_psi, theta, s))


def connected_amplitudes(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> jax.Array:
    """H_ss' ψ(s')/ψ(s) for every move of connected_moves(ham): (B, C) complex, 0 where H_ss' = 0.

    The terms whose sum (plus the diagonal) is E_loc; the Lanczos step (nqs_sweep.mc.lanczos)
    weighs each with the local energy of its s'.
    """
    terms = _connected_terms(ham, log_psi, theta)

    def chunk(x: jax.Array) -> jax.Array:
        out = terms(x)
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))

    return _map_chunks(chunk, s, _samples_per_chunk(ham, log_psi, theta, s))


def _connected_terms(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array):
    """x (b, N) -> H_xs' ψ(s')/ψ(x) (b, C) over the moves of connected_moves(ham)."""
    sites, active = connected_moves(ham)
    context = flip_context(log_psi, theta)
    generic = not has_kernels(log_psi)

    def terms(x: jax.Array) -> jax.Array:
        mels = jax.vmap(connected_elements, in_axes=(None, 0))(ham, x)  # (b, C)
        if generic:
            log_ratio = _forward_log_ratios(log_psi, theta, x, sites, active, mels != 0)
        else:
            log_ratio = connected_log_ratios(log_psi, theta, context, x, sites, active, n_single=ham.flip_sites.shape[0])
        # Zero elements (exchange of parallel spins) point outside the sector, where ψ
        # may not be finite: mask them instead of multiplying by zero.
        ratio = jnp.where(mels != 0, jnp.exp(jnp.where(mels != 0, log_ratio, 0.0)), 0.0)
        return mels * ratio

    return terms


def _samples_per_chunk(ham: Hamiltonian, log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> int:
    cache_size = 1
    if has_kernels(log_psi):
        one = jax.eval_shape(lambda x: init_cache(log_psi, theta, x), s[:1])
        cache_size = sum(leaf.size for leaf in jax.tree.leaves(one))
    n_moves = connected_moves(ham)[0].shape[0]
    return max(1, _moves_per_chunk(cache_size) // max(1, n_moves))


def _map_chunks(fn, s: jax.Array, size: int) -> jax.Array:
    """fn over chunks of ``size`` samples of s (B, N), sequentially; results concatenated along axis 0."""
    batch = s.shape[0]
    if batch <= size:
        return fn(s)
    n_chunks = -(-batch // size)
    padded = jnp.concatenate([s, jnp.broadcast_to(s[:1], (n_chunks * size - batch, s.shape[1]))])
    # Chunk j takes samples j, j + n_chunks, ...: strided, so that with chains sharded over
    # devices every chunk spans all of them and no device waits for another's samples.
    strided = jnp.swapaxes(padded.reshape(size, n_chunks, -1), 0, 1)
    out = jax.lax.map(fn, strided)  # (n_chunks, size, ...)
    return jnp.swapaxes(out, 0, 1).reshape(n_chunks * size, *out.shape[2:])[:batch]


# Configurations per chunk of the per-sample Jacobian. Its temporaries grow with the batch: a
# batched reverse pass through a convolution keeps per-example weight gradients, 6 MB a
# configuration for the W4 network (11 060 parameters), so 4096 at once asked for 194 GB. A
# GPU wants large batches and has the memory.
JACOBIAN_CHUNK = {"cpu": 256, "gpu": 4096}


def _convolves(log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> bool:
    """Whether log ψ's program holds a convolution, at any depth (traced once, shapes only)."""
    args = (jax.ShapeDtypeStruct(theta.shape, theta.dtype), jax.ShapeDtypeStruct((1, *s.shape[1:]), s.dtype))
    return "conv_general_dilated" in str(jax.make_jaxpr(log_psi)(*args))


def log_derivatives(log_psi: LogPsi, theta: jax.Array, s: jax.Array) -> jax.Array:
    """O_k(s) = ∂ log ψ(s) / ∂θ_k for real θ: (B, P) complex, in chunks of JACOBIAN_CHUNK
    configurations (jax.lax.map over them; the last one padded). A network with a closed form
    (models.Ansatz.log_derivatives_tree) uses it; any other takes reverse passes, one
    configuration at a time on the CPU when the network convolves (see below)."""
    # log ψ real up to constant signs iπ (models.Ansatz.real_output): the imaginary part has no
    # derivative, and one reverse pass does instead of two
    real = bool(getattr(log_psi, "real_output", False))
    closed_form = getattr(log_psi, "log_derivatives_tree", None) is not None

    def rows(x):
        if closed_form:
            return log_psi.log_derivatives(theta, x)
        if real:
            jac = jax.vmap(jax.grad(lambda th, c: log_psi(th, c[None])[0].real), in_axes=(None, 0))(theta, x)
            return jax.lax.complex(jac, jnp.zeros_like(jac))

        def re_im(th, c):
            out = log_psi(th, c[None])[0]
            return jnp.stack([out.real, out.imag])

        jac = jax.vmap(jax.jacrev(re_im), in_axes=(None, 0))(theta, x)  # (b, 2, P)
        return jax.lax.complex(jac[:, 0], jac[:, 1])

    batch = s.shape[0]
    # Under vmap the reverse pass of a convolution batches its kernel's cotangent into a grouped
    # convolution, which XLA's CPU backend runs slowly: for the W4 plug-in (flax nn.Conv, 11 060
    # parameters) 256 configurations took 5.8 s that way and 0.18 s one at a time. The built-in
    # resnet sidesteps it with its own derivative rule and measures the same either way.
    if not closed_form and jax.default_backend() == "cpu" and _convolves(log_psi, theta, s):
        return jax.lax.map(lambda c: rows(c[None])[0], s)
    chunk = JACOBIAN_CHUNK.get(jax.default_backend(), JACOBIAN_CHUNK["gpu"])
    if batch <= chunk:
        return rows(s)
    n_chunks = -(-batch // chunk)
    padded = jnp.concatenate([s, jnp.repeat(s[:1], n_chunks * chunk - batch, axis=0)]) if n_chunks * chunk > batch else s
    out = jax.lax.map(rows, padded.reshape(n_chunks, chunk, *s.shape[1:]))
    return out.reshape(n_chunks * chunk, -1)[:batch]


def centred_real_rows(o: jax.Array, e_loc: jax.Array, weights: jax.Array, real_only: bool = False) -> tuple[jax.Array, jax.Array]:
    """The real, weighted, centred form of (O, E_loc) that SR and MinSR share.

    With Õ = √w [Re ΔO; Im ΔO] and ẽ = √w [Re ΔE; Im ΔE] (2B rows), the QGT is
    S = ÕᵀÕ = Re⟨ΔO* ΔO⟩ and the force is F = Õᵀẽ = Re⟨ΔO* ΔE⟩ = ∇E / 2.
    ``real_only`` (static) keeps the B real rows: for real parameters and a real
    Hamiltonian ψ is real, so Im ΔO = Im ΔE = 0 and the other half would only make
    the MinSR kernel four times larger.
    """
    w = weights[:, None]
    do = o - jnp.sum(w * o, axis=0)
    de = e_loc - jnp.sum(weights * e_loc)
    sw = jnp.sqrt(weights)
    if real_only:
        return sw[:, None] * do.real, sw * de.real
    o_t = jnp.concatenate([sw[:, None] * do.real, sw[:, None] * do.imag], axis=0)
    e_t = jnp.concatenate([sw * de.real, sw * de.imag])
    return o_t, e_t


def clip_local_energies(e_loc: jax.Array, weights: jax.Array, width: float) -> jax.Array:
    """E_loc with each part (real, imaginary) clipped to its mean ± ``width`` mean absolute deviations
    from it, the statistics weighted as the estimator is (Pfau et al.'s FermiNet clipping).

    For the gradient only: a sample where ψ nearly vanishes has a huge E_loc, which one step of
    the natural gradient follows far enough to collapse the state onto a single configuration
    (frozen chains, zero variance, no gradient left). Samples within the band are unchanged."""

    def clip(x: jax.Array) -> jax.Array:
        centre = jnp.sum(weights * x)
        spread = jnp.sum(weights * jnp.abs(x - centre))
        return jnp.clip(x, centre - width * spread, centre + width * spread)

    if jnp.iscomplexobj(e_loc):
        return jax.lax.complex(clip(e_loc.real), clip(e_loc.imag))
    return clip(e_loc)


def centred_jacobian(
    log_psi: LogPsi, theta: jax.Array, s: jax.Array, e_loc: jax.Array, weights: jax.Array, real_only: bool = False
) -> tuple[DenseJacobian | FactoredJacobian, jax.Array]:
    """(Õ, ẽ) of centred_real_rows, with Õ factored where the network provides its blocks (real ψ only)."""
    if real_only and getattr(log_psi, "jacobian_blocks_tree", None) is not None:
        de = e_loc - jnp.sum(weights * e_loc)
        return FactoredJacobian(log_psi.jacobian_blocks(theta, s), weights), jnp.sqrt(weights) * de.real
    o_t, e_t = centred_real_rows(log_derivatives(log_psi, theta, s), e_loc, weights, real_only=real_only)
    return DenseJacobian(o_t), e_t
