"""Rényi-2 entanglement entropy S2(A) = −ln Tr ρ_A², in nats.

Monte Carlo: the swap (replica) estimator of Hastings et al. (2010). Two independent sets of
configurations s, s' from |ψ|² (the two halves of the chains) give
Tr ρ_A² = E[ψ(s'_A s_B) ψ(s_A s'_B) / (ψ(s) ψ(s'))],
with s_A s'_B the configuration taking A's spins from s and the rest from s'. In the
zero-magnetisation sector a swap that moves magnetisation between A and B leaves the sector, where
the state has no amplitude: that term is zero (NetKet's estimator refuses such spaces instead).
Its error bar is the chains' (τ-corrected) one, carried through the logarithm.

The swap mean is e^{−S2} and its relative variance grows like e^{S2}: at large S2 a few samples
carry the mean and the error bar itself is wrong. A row is then flagged, and its value left empty
rather than wrong: when the mean is not finite or not positive, when its relative error passes
0.25 (the error of S2 in nats), or when one sample carries more than a tenth of it.

Exact: the Schmidt decomposition of the state vector, Tr ρ_A² = Σ_k σ_k⁴ (normalised); the
Marshall rotation is a product of one-site unitaries and leaves it unchanged.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from nqs_sweep.mc.stats import chain_stats
from nqs_sweep.measure.base import FLAGS, Context, Estimates, Measurement, Row, register_measurement
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.lattice import Lattice

REGION_KINDS = ("blocks", "squares", "half")
MAX_RELATIVE_ERROR = 0.25
MAX_SAMPLE_SHARE = 0.1


def regions(lattice: Lattice, kind) -> list[np.ndarray]:
    """The subsystems of a region kind, or the site lists given."""
    n, L = lattice.n_sites, lattice.L
    x = lattice.coords[:, 0]
    if isinstance(kind, list):
        return [np.array(sorted(r), np.int64) for r in kind]
    if kind == "half":
        return [np.arange(n // 2)] if lattice.kind == "chain" else [np.nonzero(x < L // 2)[0]]
    if kind == "squares":
        y = lattice.coords[:, 1]
        return [np.nonzero((x < ell) & (y < ell))[0] for ell in range(1, L)]
    if lattice.kind == "chain":
        return [np.arange(ell) for ell in range(1, n // 2 + 1)]
    return [np.nonzero(x < ell)[0] for ell in range(1, L // 2 + 1)]


def region_label(sites: np.ndarray) -> str:
    s = sites.tolist()
    if s == list(range(s[0], s[-1] + 1)):
        return f"sites {s[0]}-{s[-1]}" if len(s) > 1 else f"site {s[0]}"
    return "sites " + ",".join(map(str, s))


def purity(v, region: np.ndarray, n_sites: int, xp=np):
    """Tr ρ_A² of a full-space vector (numpy or jax), from its singular values."""
    rest = np.setdiff1d(np.arange(n_sites), region)
    m = xp.transpose(v.reshape((2,) * n_sites), (*region.tolist(), *rest.tolist())).reshape(2 ** len(region), -1)
    sv = xp.linalg.svd(m, compute_uv=False) ** 2
    return xp.sum(sv**2) / xp.sum(sv) ** 2


class Renyi2(Measurement):
    name = "renyi2"
    born_samples = True
    description = "S2(A) = −ln Tr ρ_A² in nats, by the swap estimator, for each region A"
    options = {"regions": "blocks"}

    def parse(self, raw, lattice, sector, path):
        from nqs_sweep.spec import SpecError

        opts = super().parse(raw, lattice, sector, path)
        kind = opts["regions"]
        if isinstance(kind, list):
            n = lattice.n_sites
            if not kind:
                raise SpecError(f"{path}.regions", "must list at least one region")
            for i, r in enumerate(kind):
                ok = isinstance(r, list) and r and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < n for s in r)
                if not ok or len(set(r)) < len(r) or len(r) >= n:
                    raise SpecError(
                        f"{path}.regions[{i}]",
                        f"must be a list of distinct sites in 0..{n - 1}, fewer than all {n}; got {r!r}",
                    )
            return {"regions": [sorted(r) for r in kind]}
        if kind not in REGION_KINDS:
            raise SpecError(f"{path}.regions", f"must be one of {', '.join(REGION_KINDS)} or a list of site lists; got {kind!r}")
        if kind == "squares" and lattice.kind != "square":
            raise SpecError(f"{path}.regions", "squares applies to the square lattice; on a chain use blocks")
        return opts

    def rows(self, lattice, options):
        return [Row(region_label(r), float(len(r))) for r in regions(lattice, options["regions"])]

    def estimate(self, ctx: Context, options: dict, rows: list[Row]) -> Estimates:
        regs = regions(ctx.lattice, options["regions"])
        n = ctx.lattice.n_sites
        if ctx.sample.weights is not None:  # an enumeration: the network's own vector, exactly
            log_psi = ctx.log_psi(ctx.theta, ctx.configs)
            # the sampler puts its most probable configuration in the slots of zero weight (a
            # projected network's −inf): those amplitudes are zero
            amp = jnp.where(ctx.weights > 0, jnp.exp(log_psi - jnp.max(jnp.real(log_psi))), 0)
            index = hilbert.sector_indices(n, "zero_magnetization" if ctx.zero_magnetization else "full")
            v = jnp.zeros(2**n, amp.dtype).at[jnp.asarray(index)].set(amp)
            s2 = jnp.stack([-jnp.log(purity(v, r, n, jnp)) for r in regs])
            zero = jnp.zeros(len(regs), s2.dtype)
            return Estimates(s2, zero, jnp.zeros(len(regs), jnp.int32))
        configs = ctx.sample.configs
        n_chains, length = configs.shape[:2]
        if n_chains >= 2:  # independent chains: the first half against the second
            half = n_chains // 2
            s1, s2_ = configs[:half], configs[half : 2 * half]
        else:  # one chain: its two halves, correlated only through the chain's memory
            half = length // 2
            s1, s2_ = configs[:, :half], configs[:, half : 2 * half]
        shape = s1.shape[:2]
        if shape[0] * shape[1] == 0:  # one chain of one sample: no pair to swap
            nan = jnp.full(len(regs), jnp.nan)
            return Estimates(nan, nan, jnp.full(len(regs), FLAGS.index("too few samples for two sets"), jnp.int32))
        s1, s2_ = s1.reshape(-1, n), s2_.reshape(-1, n)
        base = ctx.log_psi(ctx.theta, s1) + ctx.log_psi(ctx.theta, s2_)
        means, errors, flags = [], [], []
        for region in regs:
            in_a = jnp.zeros(n, bool).at[jnp.asarray(region)].set(True)
            t1, t2 = jnp.where(in_a, s2_, s1), jnp.where(in_a, s1, s2_)
            swap = jnp.real(jnp.exp(ctx.log_psi(ctx.theta, t1) + ctx.log_psi(ctx.theta, t2) - base))
            if ctx.zero_magnetization:
                swap = jnp.where(jnp.sum(t1, axis=-1) == 0, swap, 0.0)
            st = chain_stats(swap.reshape(shape))
            share = jnp.max(jnp.abs(swap)) / jnp.abs(jnp.sum(swap))
            flag = jnp.where(
                ~(jnp.isfinite(st.mean) & jnp.isfinite(st.error)),
                4,  # a diverged network: NaN compares false below, and would pass
                jnp.where(
                    st.mean <= 0,
                    1,
                    jnp.where(st.error / st.mean > MAX_RELATIVE_ERROR, 2, jnp.where(share > MAX_SAMPLE_SHARE, 3, 0)),
                ),
            )
            ok = flag == 0
            means.append(jnp.where(ok, -jnp.log(jnp.where(st.mean > 0, st.mean, 1.0)), jnp.nan))
            errors.append(jnp.where(ok, st.error / st.mean, jnp.nan))
            flags.append(flag)
        return Estimates(jnp.stack(means), jnp.stack(errors), jnp.stack(flags).astype(jnp.int32))

    def exact(self, v, lattice, marshall_sign, options, rows):
        n = lattice.n_sites
        return np.array([-np.log(purity(v, r, n)) for r in regions(lattice, options["regions"])])


register_measurement(Renyi2())
