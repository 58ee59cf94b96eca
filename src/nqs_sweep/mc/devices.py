"""Markov chains spread over the devices JAX sees.

With several devices (GPUs, or CPU host devices made with
``XLA_FLAGS=--xla_force_host_platform_device_count=K``), the chain states are
sharded along the chain axis over a one-dimensional mesh and everything else is
replicated. The jitted step is unchanged: XLA's partitioner runs each device's
chains (and the local energies and log-derivatives of their samples) where they
live and gathers only what the natural-gradient solve needs. With one device, or a
chain count the devices do not divide, nothing moves.
"""

from __future__ import annotations

import resource

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def chain_sharding(n_chains: int) -> NamedSharding | None:
    """The sharding of (n_chains, ...) arrays over all devices, or None where it would not help."""
    devices = jax.devices()
    if len(devices) < 2 or n_chains % len(devices):
        return None
    return NamedSharding(Mesh(np.array(devices), ("chains",)), PartitionSpec("chains"))


def place_chains(chains):
    """Put every leaf of a chain state (leading axis: chains) on the chain sharding, if there is one."""
    sharding = chain_sharding(jax.tree.leaves(chains)[0].shape[0])
    if sharding is None:
        return chains
    return jax.tree.map(lambda x: jax.device_put(x, sharding), chains)


def describe() -> str:
    """One line for logs: the devices a run uses."""
    devices = jax.devices()
    kinds = sorted({getattr(d, "device_kind", d.platform) for d in devices})
    return f"{len(devices)} x {', '.join(kinds)} ({devices[0].platform})"


def peak_memory_mb() -> float:
    """Peak memory of this process so far: device memory on an accelerator (what decides how many
    points share one GPU), the resident set on the CPU."""
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB
