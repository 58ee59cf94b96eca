"""The networks the spec can name, each registered by its own module.

A network module calls :func:`register_network` once, at import, with what the spec parser
needs to know of it (which width and depth fields it takes, whether it sums over a lattice
group, whether it is autoregressive) and how to build it. The spec parser, the JSON schema
check, the table coordinates and ``make_ansatz`` read this table; nothing else lists names.

A researcher's own network does not register: the spec names it by module
(``ansatz: {module: "my_nets.py:MyNet"}``, nqs_sweep.models.plugin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp

from nqs_sweep import registry

DTYPES = {"float64": jnp.float64, "complex128": jnp.complex128, "float32": jnp.float32, "complex64": jnp.complex64}


@dataclass(frozen=True)
class Built:
    """A network made concrete for one lattice and sector: parameter init, batched log ψ on the
    parameter pytree, and the optional fast kernels (the keyword fields of models.Ansatz)."""

    init_params: Callable  # key -> pytree
    log_psi_tree: Callable  # (pytree, s (..., N)) -> log ψ (...)
    kernels: dict[str, Callable | bool]  # Callables, and the flag single_flip_kernel
    # (params, direction 'x'|'z', infidelity, key) -> the parameters of that product state
    # (dynamics.initial_states); None: the network has no product initial state
    product_state: Callable | None = None


@dataclass(frozen=True)
class Network:
    """One registered ansatz.

    ``build(ansatz_spec, lattice, sector) -> Built``. The flags say which spec fields apply:
    ``deep`` takes ansatz.layers and ansatz.features; ``symmetric`` sums over the lattice group
    of ansatz.symmetries (and needs periodic boundaries); ``per_site_features`` counts its width
    in features per group element or per site (alpha is then that number, not alpha N units);
    ``autoregressive`` has normalised conditionals (sampler.kind: direct); ``readouts`` are the
    values ansatz.readout may take. ``takes_characters``: a symmetric network that can be in any
    sector of its group, given the characters (``build(..., characters=χ)`` with χ on the rows of
    its group, or None for the trivial sector); a symmetric one without it is invariant only.
    ``local``: the network takes ``ansatz.range`` (its connections' reach), and checks it against
    the lattice; ``kernel`` likewise for ansatz.kernel. ``groups``: the values ansatz.symmetries may
    take for a symmetric network. ``product_state_check(ansatz_spec, direction)``: for a network with product initial states
    (its Built.product_state), what a quench spec must not ask of it, as (field, message), or
    None; the network has no product initial state when it is None.
    """

    name: str
    build: Callable[[Any, Any, str], Built]
    description: str
    deep: bool = False
    symmetric: bool = False
    per_site_features: bool = False
    autoregressive: bool = False
    readouts: tuple[str, ...] = ("symmetric",)
    takes_characters: bool = False
    product_state_check: Callable[[Any, str], tuple[str, str] | None] | None = None
    # A network with a connection range (ansatz.range): what the lattice refuses of it, as
    # check(ansatz_spec, lattice) -> (field, message) or None; None for networks without a range.
    local: Callable[[Any, Any], tuple[str, str] | None] | None = None
    # The groups a symmetric network may sum over (ansatz.symmetries), the first the default.
    groups: tuple[str, ...] = ("translations", "space_group")
    # A convolutional network (ansatz.kernel, its window's width): what the lattice refuses of it,
    # as check(ansatz_spec, lattice) -> (field, message) or None; None for networks without one.
    kernel: Callable[[Any, Any], tuple[str, str] | None] | None = None
    # A transformer (ansatz.patch, its tokens' window; ansatz.heads, its attention heads): the
    # same kind of check for each; None for networks without them.
    patch: Callable[[Any, Any], tuple[str, str] | None] | None = None
    heads: Callable[[Any, Any], tuple[str, str] | None] | None = None
    # The ansatz.activation values the network computes with; None: every one the spec knows. An
    # RBM's log cosh is its definition, so it refuses another instead of ignoring it (and hashing it).
    activations: tuple[str, ...] | None = None
    # The hilbert.sector values the network is defined on; None: every one. A pair product's
    # determinant needs exactly N/2 up spins.
    sectors: tuple[str, ...] | None = None
    # A network whose signs are its own structure (a determinant): the Marshall sign on top would
    # scramble them, and amplitude_phase keeps only Re log ψ of each copy, which drops them.
    carries_signs: bool = False
    # Parameters besides alpha N hidden units on N inputs (the memory check's count), from N.
    extra_params: Callable[[int], int] | None = None


def any_product_state(ansatz_spec: Any, direction: str) -> None:
    """Network.product_state_check of a network that builds both product states for any settings."""
    return None


NETWORKS: dict[str, Network] = {}


def register_network(network: Network) -> Network:
    """Add a network under its name (a second registration of one name is refused)."""
    return registry.add(NETWORKS, network, "network")


def names(**flags: bool) -> tuple[str, ...]:
    """Registered names, in registration order, whose flags have the given values."""
    return tuple(n for n, net in NETWORKS.items() if all(getattr(net, k) == v for k, v in flags.items()))
