"""Separate amplitude and phase networks: log ψ(s) = Re f_A(s) + i Re f_φ(s).

f_A and f_φ are two real-parameter copies of one architecture (``ansatz.parametrization:
amplitude_phase``). A complex-parameter network couples modulus and phase through
holomorphy; here they are independent, which helps where the phase structure (a sign
rule, a frustrated phase) is hard for a holomorphic network, and keeps every parameter
real (Adam and SGD see real gradients). Taking real parts matters for networks whose
real-parameter output is log of a signed sum (ffnn): its iπ sign carries no gradient.

A network with incremental kernels keeps them: the cache and tables are pairs, and a
move's log ratio is Re of the amplitude network's plus i Re of the phase network's. An
autoregressive network keeps its normalised conditionals (the amplitude's), so direct
sampling still draws |ψ|² exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def wrap(init_params: Callable, log_psi_tree: Callable, kernels: dict) -> tuple[Callable, Callable, dict]:
    """(init, log ψ, kernels) of the amplitude-phase pair built from one real network's."""

    def init(key: jax.Array) -> dict:
        k_amplitude, k_phase = jax.random.split(key)
        return {"amplitude": init_params(k_amplitude), "phase": init_params(k_phase)}

    def log_psi(params: dict, s: jnp.ndarray) -> jnp.ndarray:
        return jax.lax.complex(jnp.real(log_psi_tree(params["amplitude"], s)), jnp.real(log_psi_tree(params["phase"], s)))

    wrapped = {}
    if kernels.get("flip_ratio_tree") is not None:
        cache, tables, ratio = kernels["cache_tree"], kernels["flip_tables_tree"], kernels["flip_ratio_tree"]

        def flip_ratio(pair, s, caches, sites, active):
            r_amplitude, c_amplitude = ratio(pair[0], s, caches[0], sites, active)
            r_phase, c_phase = ratio(pair[1], s, caches[1], sites, active)
            return jax.lax.complex(jnp.real(r_amplitude), jnp.real(r_phase)), (c_amplitude, c_phase)

        wrapped = {
            "cache_tree": lambda p, s: (cache(p["amplitude"], s), cache(p["phase"], s)),
            "flip_tables_tree": lambda p: (tables(p["amplitude"]), tables(p["phase"])),
            "flip_ratio_tree": flip_ratio,
            "single_flip_kernel": kernels.get("single_flip_kernel", False),  # the network's kernel, twice
        }
    if kernels.get("log_derivatives_tree") is not None:
        derivatives = kernels["log_derivatives_tree"]

        def log_derivatives(p, s):
            # real parameters: ∂ Re f = Re ∂f, and the phase network's enters log ψ times i
            d_amplitude = jax.tree.map(jnp.real, derivatives(p["amplitude"], s))
            d_phase = jax.tree.map(lambda d: 1j * jnp.real(d), derivatives(p["phase"], s))
            return {"amplitude": d_amplitude, "phase": d_phase}

        wrapped["log_derivatives_tree"] = log_derivatives
    if kernels.get("conditionals_tree") is not None:
        conditionals = kernels["conditionals_tree"]
        wrapped["conditionals_tree"] = lambda p, s: jnp.real(conditionals(p["amplitude"], s))
        if kernels.get("draw_tree") is not None:
            draw = kernels["draw_tree"]
            wrapped["draw_tree"] = lambda p, u: draw(p["amplitude"], u)
    return init, log_psi, wrapped
