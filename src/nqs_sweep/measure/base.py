"""What a measurement is, and the registry of them.

A measurement turns a state into rows of a table: (argument, x, value, error, flag). Most are
linear in Pauli strings (a row is Σ c ⟨P⟩, optionally minus a product of two such means for a
connected correlation); those derive from :class:`PauliMeasurement` and give only their rows. The
others (the Rényi entropy) give their own Monte Carlo and exact estimators.

A new measurement is one file that calls :func:`register_measurement`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep import registry
from nqs_sweep.mc.sampler import LogPsi, Sample
from nqs_sweep.measure import pauli
from nqs_sweep.measure.pauli import PauliString
from nqs_sweep.physics.lattice import Lattice

Terms = tuple[tuple[float, PauliString], ...]

# Flags a row can carry (an int in the jitted code, its text in the table).
FLAGS = (
    "",
    "swap mean <= 0",
    "relative error of the swap mean > 0.25",
    "one sample carries > 10% of the swap mean",
    "swap mean not finite",
    "too few samples for two sets",
)


class Row(NamedTuple):
    argument: str  # what the row is of: 'zz r=1', 'q=2π(1,0)/4', 'sites 0-5', 'X0 X1'
    x: float  # its abscissa in figures: a distance, a momentum index, a subsystem size
    terms: Terms = ()
    # a connected correlation: the row is ⟨terms⟩ − ⟨minus[0]⟩⟨minus[1]⟩
    minus: tuple[Terms, Terms] | None = None


@dataclass(frozen=True)
class Context:
    """What an estimator reads, inside the jitted measurement."""

    lattice: Lattice
    marshall_sign: bool
    zero_magnetization: bool
    log_psi: LogPsi
    theta: Any
    sample: Sample
    configs: jax.Array  # (B, N)
    weights: jax.Array  # (B,) normalised


class Estimates(NamedTuple):
    mean: jax.Array  # (R,)
    error: jax.Array  # (R,)
    flag: jax.Array  # (R,) int index into FLAGS


class Measurement:
    """One registered measurement. ``options`` are the keys it takes, with their defaults."""

    name: str = ""
    description: str = ""
    options: dict[str, Any] = {}
    # True: the estimator needs samples of |ψ|² itself and cannot take importance weights (the
    # swap trick pairs two independent |ψ|² samples), so the spec asks sampler.power: 2 for it.
    born_samples: bool = False

    def parse(self, raw: dict, lattice: Lattice, sector: str, path: str) -> dict:
        """Validated options (SpecError naming path.key otherwise); the defaults filled in."""
        from nqs_sweep.spec import SpecError

        for key in raw:
            if key not in self.options:
                allowed = ", ".join(self.options) or "none"
                raise SpecError(f"{path}.{key}", f"not an option of {self.name}; allowed: {allowed}")
        return {**self.options, **raw}

    def rows(self, lattice: Lattice, options: dict) -> list[Row]:
        raise NotImplementedError

    def estimate(self, ctx: Context, options: dict, rows: list[Row]) -> Estimates:
        raise NotImplementedError

    def exact(self, v: np.ndarray, lattice: Lattice, marshall_sign: bool, options: dict, rows: list[Row]) -> np.ndarray:
        """(R,) the rows' values on a normalised full-space vector in the network's frame."""
        raise NotImplementedError


MEASUREMENTS: dict[str, Measurement] = {}


def register_measurement(m: Measurement) -> Measurement:
    return registry.add(MEASUREMENTS, m, "measurement")


# Samples x strings held at once: S(q) on 10 x 10 sites has 4950 strings, and 16384 samples of
# them would take 1.3 GB as complex numbers; chunks keep it near 64 MiB.
MAX_TABLE_ENTRIES = 2**22


def chunk_size(n_samples: int, n_strings: int) -> int:
    """Samples per chunk: as few equal chunks as keep each chunk's strings' table within
    MAX_TABLE_ENTRIES. The last chunk is padded when the size does not divide n_samples (a
    divisor would leave a prime sample count in chunks of one sample)."""
    limit = max(1, MAX_TABLE_ENTRIES // max(1, n_strings))
    n_chunks = -(-n_samples // limit)
    return -(-n_samples // n_chunks)


def row_stats(sample: Sample, values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean, error) of each column of values (B, R): over chains for samples (τ-corrected),
    weighted by |ψ|² for the enumeration."""
    from nqs_sweep.mc.estimate import sample_stats

    stats = jax.vmap(lambda col: sample_stats(sample, col), in_axes=1)(values)
    return jnp.real(stats.mean), stats.error


class PauliMeasurement(Measurement):
    """Rows that are linear combinations of Pauli strings (connected ones by the delta method)."""

    def _strings(self, rows: list[Row]) -> list[PauliString]:
        seen: dict[PauliString, None] = {}
        for row in rows:
            for terms in (row.terms, *(row.minus or ())):
                seen.update(dict.fromkeys(p for _, p in terms))
        return list(seen)

    @staticmethod
    def _matrix(rows: list[Row], index: dict[PauliString, int], pick: Callable[[Row], Terms]) -> np.ndarray:
        w = np.zeros((len(index), len(rows)))
        for r, row in enumerate(rows):
            for c, p in pick(row):
                w[index[p], r] += c
        return w

    def estimate(self, ctx: Context, options: dict, rows: list[Row]) -> Estimates:
        strings = self._strings(rows)
        index = {p: k for k, p in enumerate(strings)}
        t = pauli.tables(strings, ctx.lattice.n_sites, ctx.lattice.sublattice, ctx.marshall_sign)
        connected = any(r.minus for r in rows)
        matrices = [self._matrix(rows, index, lambda r: r.terms)]
        if connected:
            matrices += [self._matrix(rows, index, lambda r, k=k: r.minus[k] if r.minus else ()) for k in (0, 1)]
        w = jnp.asarray(np.concatenate(matrices, axis=1))

        def rows_of(s):  # (b, N) -> (b, R·(1 or 3)): the strings' table (b, K) lives one chunk at a time
            return jnp.real(pauli.local_values(t, ctx.log_psi, ctx.theta, s, ctx.zero_magnetization)) @ w

        n, n_sites = ctx.configs.shape
        size = chunk_size(n, len(strings))
        if size < n:
            n_chunks = -(-n // size)
            # padded with copies of the first sample, whose rows are dropped after
            padded = jnp.concatenate([ctx.configs, jnp.broadcast_to(ctx.configs[:1], (n_chunks * size - n, n_sites))])
            combined = jax.lax.map(rows_of, padded.reshape(n_chunks, size, n_sites)).reshape(n_chunks * size, -1)[:n]
        else:
            combined = rows_of(ctx.configs)
        values = combined[:, : len(rows)]
        if connected:
            # value − μ_a μ_b, linearised per sample: its mean is the connected value and its error
            # bar the delta method's
            a, b = combined[:, len(rows) : 2 * len(rows)], combined[:, 2 * len(rows) :]
            mu_a, mu_b = ctx.weights @ a, ctx.weights @ b
            values = values - mu_b * a - mu_a * b + mu_a * mu_b
        mean, error = row_stats(ctx.sample, values)
        return Estimates(mean, error, jnp.zeros(len(rows), jnp.int32))

    def exact(self, v: np.ndarray, lattice: Lattice, marshall_sign: bool, options: dict, rows: list[Row]) -> np.ndarray:
        cache: dict[PauliString, float] = {}

        def ev(terms: Terms) -> float:
            total = 0.0
            for c, p in terms:
                if p not in cache:
                    cache[p] = pauli.expectation(p, v, lattice.n_sites, lattice.sublattice, marshall_sign)
                total += c * cache[p]
            return total

        return np.array([ev(r.terms) - (ev(r.minus[0]) * ev(r.minus[1]) if r.minus else 0.0) for r in rows])
