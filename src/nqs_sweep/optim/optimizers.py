"""The optimisers a spec can name (optimizer.kind), each registered here or by its own module.

An optimiser is two things: how the step's direction is formed from the centred Jacobian
(the plain energy gradient, or a natural gradient through the QGT: SR in parameter space,
MinSR in sample space), and an optax transformation applied to that direction (identity,
or Adam's rescaling). The step (nqs_sweep.optim.step) calls both and nothing else, so a new
optimiser is one ``register_optimizer`` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import optax

from nqs_sweep import registry
from nqs_sweep.optim.qgt import natural_gradient, solve_flags


@dataclass(frozen=True)
class Optimizer:
    """``direction(jac, e_t, force, diag_shift, solver) -> (direction, flags)``, where force = Jᴴ e_t
    is half the energy gradient and flags the step's metrics of the solve (optim.qgt.solve_flags);
    ``transform()`` is the optax transformation of the direction (its state is part of the VMC state and of checkpoints)."""

    name: str
    direction: Callable
    transform: Callable[[], optax.GradientTransformation]
    description: str
    natural: bool = False  # solves with the QGT, so SPRING momentum applies (optimizer.momentum)


OPTIMIZERS: dict[str, Optimizer] = {}


def register_optimizer(optimizer: Optimizer) -> Optimizer:
    return registry.add(OPTIMIZERS, optimizer, "optimiser")


def gradient(jac, e_t: jax.Array, force: jax.Array, shift: jax.Array, solver: str):
    """The energy gradient for real parameters."""
    return 2 * force, solve_flags(False)


def _natural(kind: str) -> Callable:
    def direction(jac, e_t, force, shift, solver):
        return natural_gradient(jac, e_t, force, shift, kind, solver)

    return direction


register_optimizer(Optimizer("sgd", gradient, optax.identity, "plain gradient descent"))
register_optimizer(Optimizer("adam", gradient, optax.scale_by_adam, "Adam on the energy gradient"))
register_optimizer(Optimizer("sr", _natural("sr"), optax.identity, "stochastic reconfiguration, (S + εI)⁻¹ ∇E", True))
register_optimizer(Optimizer("minsr", _natural("minsr"), optax.identity, "MinSR: SR solved in sample space", True))
