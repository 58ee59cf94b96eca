"""The Python API: one point (or quench) from a notebook or a script, without the workflow.

    import nqs_sweep
    r = nqs_sweep.run({"model": {"name": "tfim", "h": 1.0}, "lattice": {"kind": "chain", "L": 8},
                       "ansatz": {"name": "rbm", "alpha": 1}, "optimizer": {"n_iter": 100}})
    r.summary            # one row: energy, error, exact energy, relative error, status, ...
    r.history            # one row per iteration
    nqs_sweep.load(path) # the same Result from a run directory (CLI, workflow or API)
    nqs_sweep.exact(spec)  # the exact ground-state energy (free fermions or Lanczos)

Every call runs the same lifecycle as ``nqs-sweep vmc`` and ``nqs-sweep tvmc`` (the CLI is a
layer over these functions): the same files, checkpoints and resume, so a run started here can
be continued by the CLI and joined by the workflow. Bad input raises SpecError naming the field
before anything is computed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nqs_sweep.physics import hilbert
from nqs_sweep.quench import QuenchSpec, parse_quench
from nqs_sweep.spec import PointSpec, SpecError, parse_spec, read_spec_file

# exact="auto" computes the reference inline up to this dimension (seconds).
AUTO_EXACT_MAX_DIM = 2**20
# tvmc: the exact dynamics is evolved up to this dimension (L = 20 in the full space).
AUTO_EXACT_DYNAMICS_MAX_DIM = 2**20
QUENCH_KEYS = ("initial", "dynamics")


@dataclass
class Result:
    """A finished (or failed, or diverged) run: its spec, its tables, and where it lives.

    ``tables`` holds every Parquet table of the run directory by name (``summary``,
    ``history`` for a ground state; ``summary``, ``trajectory``, ``steps`` for a quench; and
    ``spectrum``, ``sampling`` when measured). ``run_dir`` is None when the run was made in a
    temporary directory (``run(..., out=None)``), which is removed after its tables are read.
    """

    spec: PointSpec | QuenchSpec
    tables: dict[str, pd.DataFrame]
    run_dir: Path | None = None
    theta: np.ndarray | None = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self.tables["summary"]

    @property
    def history(self) -> pd.DataFrame:
        """Per-iteration rows of a ground-state run (for a quench: the trajectory)."""
        return self.tables["history"] if "history" in self.tables else self.tables["trajectory"]

    @property
    def status(self) -> str:
        return str(self.summary["status"].iloc[0])

    @property
    def energy(self) -> float:
        """The final energy of a ground-state run (on n_samples_eval fresh samples)."""
        return float(self.summary["energy"].iloc[0])

    def __repr__(self) -> str:
        row = self.summary.iloc[0]
        what = f"E = {row['energy']:.8f} ± {row['energy_error']:.2e}" if "energy" in row else f"t = {row.get('t_reached')}"
        return f"Result({self.spec.spec_hash}, status {row['status']}, {what}, run_dir={self.run_dir})"


def as_spec(spec: Any) -> PointSpec | QuenchSpec:
    """A PointSpec or QuenchSpec from a spec object, a mapping or a YAML file path."""
    if isinstance(spec, (PointSpec, QuenchSpec)):
        return spec
    if isinstance(spec, (str, Path)):
        spec = read_spec_file(spec)
    if isinstance(spec, dict) and any(k in spec for k in QUENCH_KEYS):
        return parse_quench(spec)
    return parse_spec(spec)


def exact_table(spec: PointSpec) -> pd.DataFrame:
    """The exact ground-state energy as a one-row table: free fermions for the periodic Ising
    chain (any L), else Lanczos in the spec's sector, and in its symmetry sector where the point's
    network is in one (models.projection)."""
    return exact_reference(spec)[0]


def exact_reference(spec: PointSpec, keep_vector: bool = False) -> tuple[pd.DataFrame, np.ndarray | None]:
    """exact_table, and with keep_vector the ground state itself: normalised, on the full space
    (2^N, basis order of physics.hilbert), in the spec's Marshall frame, the measurements' exact
    reference (None past measure.MAX_EXACT_SITES sites)."""
    from nqs_sweep.measure import MAX_EXACT_SITES
    from nqs_sweep.measure.pauli import full_vector
    from nqs_sweep.models.projection import plan
    from nqs_sweep.physics.exact import free_fermion_energy, ground_state, has_closed_form
    from nqs_sweep.physics.hamiltonians import build_hamiltonian
    from nqs_sweep.tables.columns import model_coordinates, provenance

    start = time.perf_counter()
    keep_vector = keep_vector and spec.n_sites <= MAX_EXACT_SITES
    dim = hilbert.hilbert_dim(spec.n_sites, spec.sector)
    block_dim = dim
    vector = None
    sym = plan(spec)
    if not sym.sector.is_empty:
        from nqs_sweep.physics.sector_exact import sector_ground_state

        ham = build_hamiltonian(spec, xp=np)
        result = sector_ground_state(ham, spec.n_sites, spec.sector, spec.lattice.build(), sym.sector, keep_vector=keep_vector)
        energy, method, block_dim, vector = result.energy, "lanczos_sector", result.block_dim, result.vector
    elif has_closed_form(spec):
        energy, method = free_fermion_energy(spec.lattice.L, spec.model.coupling("J"), spec.model.coupling("h")), "free_fermions"
        if keep_vector:  # the closed form gives the energy, Lanczos the vector
            vector = ground_state(spec, keep_vector=True).ground_state
    else:
        result = ground_state(spec, keep_vector=keep_vector)
        energy, method, vector = result.energy, "lanczos", result.ground_state
    if vector is not None:
        vector = full_vector(vector, spec.n_sites, spec.sector)
        vector = vector / np.linalg.norm(vector)
    table = pd.DataFrame(
        [
            {
                **model_coordinates(spec),
                "exact_energy": energy,
                "exact_energy_per_site": energy / spec.n_sites,
                "hilbert_dim": dim if dim < 2**63 else float(dim),  # 2^80 states do not fit a Parquet int64
                "block_dim": block_dim if block_dim < 2**63 else float(block_dim),
                "method": method,
                "runtime_s": time.perf_counter() - start,
                **provenance(),
            }
        ]
    )
    return table, vector


def check_exact_feasible(spec: PointSpec) -> None:
    """SpecError (naming lattice.L) when the point's reference is neither in closed form nor small
    enough for Lanczos, in its symmetry sector's block where it has one."""
    from nqs_sweep.models.projection import MAX_SECTOR_HILBERT_DIM, plan, reference_dim
    from nqs_sweep.physics.exact import check_feasible, has_closed_form

    if not plan(spec).sector.is_empty:
        if reference_dim(spec) == float("inf"):
            raise SpecError(
                "lattice.L",
                f"a reference in a symmetry sector passes over the Hilbert sector, here of dimension "
                f"{hilbert.hilbert_dim(spec.n_sites, spec.sector)}; allowed up to {MAX_SECTOR_HILBERT_DIM}",
            )
    elif not has_closed_form(spec):
        check_feasible(spec)


def exact(spec: Any) -> float:
    """The exact ground-state energy of a spec (mapping, file or PointSpec), in its symmetry sector
    where its network is in one; raises SpecError when it is neither in closed form nor small
    enough for Lanczos."""
    point = as_spec(spec)
    point = point.point if isinstance(point, QuenchSpec) else point
    check_exact_feasible(point)
    return float(exact_table(point)["exact_energy"].iloc[0])


def auto_reference(spec: PointSpec) -> tuple[float | None, tuple[np.ndarray, bool] | None]:
    """The exact energy when it is cheap (closed form, or a dimension up to AUTO_EXACT_MAX_DIM),
    and the exact ground state with its Marshall frame when the spec has measurements to compare
    with it (else None)."""
    from nqs_sweep.models.projection import reference_dim
    from nqs_sweep.physics.exact import has_closed_form

    small = reference_dim(spec) <= AUTO_EXACT_MAX_DIM
    if not small and not has_closed_form(spec):
        return None, None
    table, vector = exact_reference(spec, keep_vector=bool(spec.measurements) and small)
    return float(table["exact_energy"].iloc[0]), None if vector is None else (vector, spec.marshall_sign)


def run(
    spec: Any,
    out: str | Path | None = None,
    *,
    exact: str | float | None = "auto",
    checkpoint_every: int | None = None,
    progress: bool = False,
) -> Result:
    """Run one point (a ground state) or one quench (a spec with ``initial`` and ``dynamics``).

    ``spec``: a mapping as in a study or point file, a path to a YAML spec, or a parsed spec.
    ``out``: the run directory; a finished run there is read back, a partial one resumed.
    None runs in a temporary directory that is removed once the tables are read.
    ``exact``: "auto" (the exact energy when cheap, or exact dynamics for a quench), None, or
    a known ground-state energy to grade the run against.
    """
    from nqs_sweep.jobs.tvmc import run_tvmc
    from nqs_sweep.jobs.vmc import run_vmc

    parsed = as_spec(spec)
    if exact not in ("auto", None) and (isinstance(exact, bool) or not isinstance(exact, (int, float))):
        raise SpecError("exact", f"must be 'auto', None or a number; got {exact!r}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise SpecError("checkpoint_every", f"must be >= 1; got {checkpoint_every}")
    temporary = out is None
    run_dir = Path(tempfile.mkdtemp(prefix="nqs-sweep-")) if temporary else Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise SpecError("out", f"must be a directory (created if missing); {run_dir} is a file")
    try:
        if isinstance(parsed, QuenchSpec):
            dim = hilbert.hilbert_dim(parsed.n_sites, parsed.point.sector)
            with_exact = exact == "auto" and dim <= AUTO_EXACT_DYNAMICS_MAX_DIM
            run_tvmc(parsed, run_dir, exact=with_exact, checkpoint_every=checkpoint_every or 1, show_progress=progress)
        else:
            energy, state = auto_reference(parsed) if exact == "auto" else (exact, None)
            run_vmc(parsed, run_dir, energy, checkpoint_every or 25, show_progress=progress, exact_state=state)
        result = load(run_dir)
    finally:
        if temporary:
            shutil.rmtree(run_dir, ignore_errors=True)
    if temporary:
        result.run_dir = None
    return result


def load(run_dir: str | Path) -> Result:
    """The Result of a run directory written by run(), the CLI or the workflow."""
    from nqs_sweep.jobs import checkpoint
    from nqs_sweep.jobs.lifecycle import CHECKPOINT, RUN_SPEC, SUMMARY

    run_dir = Path(run_dir)
    if not (run_dir / RUN_SPEC).is_file() or not (run_dir / SUMMARY).is_file():
        raise SpecError("run_dir", f"{run_dir} holds no finished run ({RUN_SPEC} and {SUMMARY})")
    spec = as_spec(run_dir / RUN_SPEC)
    tables = {
        p.name.removesuffix(".parquet"): pd.read_parquet(p)
        for p in sorted(run_dir.glob("*.parquet"))
        if not p.name.endswith(".partial.parquet")
    }
    theta = None
    if (run_dir / CHECKPOINT).is_file():
        with np.load(run_dir / CHECKPOINT, allow_pickle=False) as data:
            theta = np.asarray(data[sorted(k for k in data.files if k != checkpoint.META)[0]])
    return Result(spec, tables, run_dir, theta)
