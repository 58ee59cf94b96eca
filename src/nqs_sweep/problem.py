"""A point's problem, built once from its spec.

Everything the solver's physics needs and nothing of the run around it: the lattice, the
Hilbert sector and the Marshall frame, the Hamiltonian's tables, the network (already
projected onto its sector where the spec trains it so), the sampler and optimiser settings,
the observables and measurements asked for, and the traced inputs (``hyper``: couplings,
schedules, the exact sampler's enumeration) in which the points of a sweep differ.

The physics modules (mc/, optim/, dynamics/, measure/, analysis/) take a Problem; the
PointSpec stays with the run (its hash, its files, its table coordinates). A variant of a
problem (another sampler for a diagnostic, the projected network of a final stage) is
``dataclasses.replace`` of it, or :meth:`Problem.with_sampler`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nqs_sweep.mc.estimate import Hyper, make_hyper
from nqs_sweep.models import Ansatz, make_ansatz, make_projected_ansatz
from nqs_sweep.physics.hamiltonians import Hamiltonian
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.spec import OptimizerSpec, PointSpec, SamplerSpec


@dataclass(frozen=True, eq=False)
class Problem:
    lattice: Lattice
    sector: str  # the Hilbert space: "full" or "zero_magnetization"
    marshall_sign: bool  # configurations and amplitudes in the Marshall frame
    ansatz: Ansatz
    sampler: SamplerSpec
    optimizer: OptimizerSpec
    observables: tuple[str, ...]  # local observables of the final evaluation
    measurements: tuple[Any, ...]  # nqs_sweep.measure requests
    hyper: Hyper  # the traced inputs: Hamiltonian tables, schedules, enumeration

    @property
    def n_sites(self) -> int:
        return self.lattice.n_sites

    @property
    def hamiltonian(self) -> Hamiltonian:
        return self.hyper.ham

    def with_sampler(self, **changes: Any) -> Problem:
        """The same problem sampled otherwise (e.g. kind="metropolis" for a diagnostic draw)."""
        return dataclasses.replace(self, sampler=dataclasses.replace(self.sampler, **changes))


def build_problem(spec: PointSpec, ansatz: Ansatz | None = None) -> Problem:
    """The spec's problem; ``ansatz`` replaces the spec's network (make_ansatz(spec) by default)."""
    ansatz = make_ansatz(spec) if ansatz is None else ansatz
    return Problem(
        lattice=spec.lattice.build(),
        sector=spec.sector,
        marshall_sign=spec.marshall_sign,
        ansatz=ansatz,
        sampler=spec.sampler,
        optimizer=spec.optimizer,
        observables=tuple(spec.observables),
        measurements=tuple(spec.measurements),
        hyper=make_hyper(spec, ansatz.real_dtype),
    )


def projected_problem(spec: PointSpec, problem: Problem) -> Problem:
    """The problem with the spec's network projected onto its sector (symmetry.project: final)."""
    return dataclasses.replace(problem, ansatz=make_projected_ansatz(spec))
