"""The quench spec: a point spec (the Hamiltonian that evolves the state) plus the
initial state and the dynamics settings. Parsed and validated before any compute.

```yaml
initial:   {kind: ground_state, model: {name: tfim, J: 1.0, h: 0.5}}   # or {kind: product, direction: x}
dynamics:  {kind: real, t_final: 2.0, dt: 0.01, integrator: rk4,
            regularization: {kind: snr, snr_threshold: 2.0, rcond: 1.0e-8},
            observables: [sx, sz, zz_nn, energy], save_every: 0.05}
```

The ground-state initial state is the VMC ground state of the same ansatz on the
same lattice at other couplings: :func:`initial_point_spec` is that VMC point.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nqs_sweep.mc.observables import OBSERVABLES
from nqs_sweep.models.registry import NETWORKS
from nqs_sweep.physics.hamiltonians import MODELS
from nqs_sweep.spec import (
    PointSpec,
    SpecError,
    _choice,
    _float,
    _required,
    _section,
    coupling_names,
    parse_spec,
    read_spec_file,
)

DYNAMICS_KINDS = ("real", "imaginary")
INTEGRATORS = ("euler", "heun", "rk4", "rk23")
ADAPTIVE_INTEGRATORS = ("rk23",)
REGULARIZATIONS = ("snr", "diag_shift", "pinv")
ERROR_NORMS = ("euclidean", "qgt")
INITIAL_KINDS = ("ground_state", "product")
DIRECTIONS = ("x", "z")
# A fixed step that would take longer than any batch allocation (about 1e6 steps is a week of W1).
MAX_TIME_STEPS = 10_000_000
MAX_SAVES = 100_000


@dataclass(frozen=True)
class Regularization:
    kind: str
    diag_shift: float
    rcond: float
    snr_threshold: float


@dataclass(frozen=True)
class DynamicsSpec:
    kind: str
    t_final: float
    dt: float  # the fixed step, or the first step of an adaptive integrator
    integrator: str
    atol: float
    rtol: float
    dt_min: float
    dt_max: float
    error_norm: str
    regularization: Regularization
    observables: tuple[str, ...]
    save_every: float

    @property
    def adaptive(self) -> bool:
        return self.integrator in ADAPTIVE_INTEGRATORS

    def save_times(self) -> list[float]:
        """Measurement times: multiples of save_every, and t_final."""
        n = int(math.floor(self.t_final / self.save_every + 1e-9))
        times = [k * self.save_every for k in range(n + 1)]
        if self.t_final - times[-1] > 1e-9 * self.t_final:
            times.append(self.t_final)
        return times


@dataclass(frozen=True)
class InitialSpec:
    kind: str
    model: tuple[tuple[str, Any], ...] = ()  # name and couplings of the ground state
    direction: str = ""
    infidelity: float = 0.0  # product states: the represented state's distance from the exact one

    def model_dict(self) -> dict[str, Any]:
        return dict(self.model)


@dataclass(frozen=True)
class QuenchSpec:
    point: PointSpec  # model = the Hamiltonian after the quench
    initial: InitialSpec
    dynamics: DynamicsSpec

    @property
    def n_sites(self) -> int:
        return self.point.n_sites

    def to_raw(self) -> dict[str, Any]:
        raw = self.point.to_raw()
        ini: dict[str, Any] = {"kind": self.initial.kind}
        if self.initial.kind == "ground_state":
            ini["model"] = self.initial.model_dict()
        else:
            ini["direction"] = self.initial.direction
            ini["infidelity"] = self.initial.infidelity
        dyn = asdict(self.dynamics)
        dyn["observables"] = list(self.dynamics.observables)
        if not self.dynamics.adaptive:
            for key in ("atol", "rtol", "dt_min", "dt_max", "error_norm"):
                dyn.pop(key)
        reg = self.dynamics.regularization
        dyn["regularization"] = {
            "diag_shift": {"kind": "diag_shift", "diag_shift": reg.diag_shift},
            "pinv": {"kind": "pinv", "rcond": reg.rcond},
            "snr": {"kind": "snr", "rcond": reg.rcond, "snr_threshold": reg.snr_threshold},
        }[reg.kind]
        raw["initial"] = ini
        raw["dynamics"] = dyn
        return raw

    @property
    def spec_hash(self) -> str:
        d = self.to_raw()
        d.pop("study", None)
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _nonneg(value: Any, path: str) -> float:
    v = _float(value, path)
    if v < 0:
        raise SpecError(path, f"must be >= 0; got {v}")
    return v


def _parse_regularization(raw: Any) -> Regularization:
    r = _section(
        raw if raw is not None else {"kind": "pinv"}, "dynamics.regularization", ("kind", "diag_shift", "rcond", "snr_threshold")
    )
    kind = _choice(r.get("kind", "pinv"), "dynamics.regularization.kind", REGULARIZATIONS)
    allowed_keys = {"diag_shift": ("kind", "diag_shift"), "pinv": ("kind", "rcond"), "snr": ("kind", "rcond", "snr_threshold")}[
        kind
    ]
    for key in r:
        if key not in allowed_keys:
            raise SpecError(f"dynamics.regularization.{key}", f"not used by kind {kind}; allowed: {', '.join(allowed_keys)}")
    diag_shift = _nonneg(r.get("diag_shift", 1e-4), "dynamics.regularization.diag_shift") if kind == "diag_shift" else 0.0
    rcond = _nonneg(r.get("rcond", 1e-8), "dynamics.regularization.rcond") if kind != "diag_shift" else 0.0
    if kind != "diag_shift" and not rcond < 1:
        raise SpecError("dynamics.regularization.rcond", f"is a fraction of the largest QGT eigenvalue, in [0, 1); got {rcond}")
    snr = _float(r.get("snr_threshold", 2.0), "dynamics.regularization.snr_threshold", positive=True) if kind == "snr" else 0.0
    return Regularization(kind, diag_shift, rcond, snr)


def _parse_dynamics(raw: Any, point: PointSpec) -> DynamicsSpec:
    keys = ("kind", "t_final", "dt", "integrator", "atol", "rtol", "dt_min", "dt_max", "error_norm", "regularization")
    d = _section(raw, "dynamics", (*keys, "observables", "save_every"))
    kind = _choice(d.get("kind", "real"), "dynamics.kind", DYNAMICS_KINDS)
    t_final = _float(_required(d, "t_final", "dynamics"), "dynamics.t_final", positive=True)
    dt = _float(_required(d, "dt", "dynamics"), "dynamics.dt", positive=True)
    if t_final / dt > MAX_TIME_STEPS:
        steps = f"{t_final / dt:.3g} steps to t_final = {t_final}"
        raise SpecError("dynamics.dt", f"gives {steps}; allowed up to {MAX_TIME_STEPS:.0e}")
    if dt > t_final:
        raise SpecError("dynamics.dt", f"must be <= dynamics.t_final ({t_final}); got {dt}")
    integrator = _choice(d.get("integrator", "rk4"), "dynamics.integrator", INTEGRATORS)
    adaptive = integrator in ADAPTIVE_INTEGRATORS
    for key in ("atol", "rtol", "dt_min", "dt_max", "error_norm"):
        if key in d and not adaptive:
            raise SpecError(
                f"dynamics.{key}", f"applies to the adaptive integrators ({', '.join(ADAPTIVE_INTEGRATORS)}), not {integrator}"
            )
    atol = _nonneg(d.get("atol", 1e-4), "dynamics.atol")
    rtol = _nonneg(d.get("rtol", 1e-4), "dynamics.rtol")
    if adaptive and atol == 0 and rtol == 0:
        raise SpecError("dynamics.atol", "atol and rtol cannot both be 0")
    if adaptive and d.get("error_norm") == "qgt" and atol == 0:
        # the QGT norm's rtol is relative to the step's own motion, which Monte Carlo noise keeps
        # proportional to the error: with atol 0 the step would shrink to dt_min
        raise SpecError("dynamics.atol", "must be > 0 with error_norm: qgt")
    dt_min = _float(d.get("dt_min", min(1e-6, dt)), "dynamics.dt_min", positive=True)
    dt_max = _float(d.get("dt_max", t_final), "dynamics.dt_max", positive=True)
    if adaptive and not dt_min <= dt <= dt_max:
        raise SpecError("dynamics.dt", f"the first step must lie in [dt_min, dt_max] = [{dt_min}, {dt_max}]; got {dt}")
    error_norm = _choice(d.get("error_norm", "euclidean"), "dynamics.error_norm", ERROR_NORMS)

    names = tuple(OBSERVABLES)
    obs = d.get("observables", [o for o in names if point.sector == "full" or not OBSERVABLES[o].full_space_only])
    if not isinstance(obs, list) or not obs:
        raise SpecError("dynamics.observables", f"must be a non-empty list drawn from {', '.join(names)}")
    for i, o in enumerate(obs):
        _choice(o, f"dynamics.observables[{i}]", names)
    if len(set(obs)) != len(obs):
        raise SpecError("dynamics.observables", f"lists an observable twice: {obs}")
    for o in obs:
        if OBSERVABLES[o].full_space_only and point.sector != "full":
            raise SpecError("dynamics.observables", f"{o} leaves the zero-magnetisation sector (its value there is 0): drop it")

    # About 40 measurements by default; with a fixed step, on a whole number of steps.
    default_save = t_final / 40 if adaptive else dt * max(1, round(t_final / 40 / dt))
    save_every = _float(d.get("save_every", default_save), "dynamics.save_every", positive=True)
    if save_every > t_final:
        raise SpecError("dynamics.save_every", f"must be <= dynamics.t_final ({t_final}); got {save_every}")
    if t_final / save_every > MAX_SAVES:
        raise SpecError("dynamics.save_every", f"gives {t_final / save_every:.3g} measurements; at most {MAX_SAVES}")
    if not adaptive:
        ratio = save_every / dt
        if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio):
            raise SpecError(
                "dynamics.save_every", f"must be a whole multiple of dynamics.dt ({dt}) for {integrator}; got {save_every}"
            )
        steps = t_final / dt
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise SpecError("dynamics.t_final", f"must be a whole multiple of dynamics.dt ({dt}) for {integrator}; got {t_final}")

    if kind == "real" and not point.ansatz.complex_output:
        raise SpecError(
            "ansatz.dtype",
            "real-time evolution needs a phase: complex parameters (complex128 or complex64) or "
            f"ansatz.parametrization: amplitude_phase; got {point.ansatz.dtype}",
        )
    return DynamicsSpec(
        kind=kind,
        t_final=t_final,
        dt=dt,
        integrator=integrator,
        atol=atol,
        rtol=rtol,
        dt_min=dt_min,
        dt_max=dt_max,
        error_norm=error_norm,
        regularization=_parse_regularization(d.get("regularization")),
        observables=tuple(obs),
        save_every=save_every,
    )


def _parse_initial(raw: Any, point: PointSpec) -> InitialSpec:
    ini = _section(
        _required({"initial": raw} if raw is not None else {}, "initial", "spec"),
        "initial",
        ("kind", "model", "direction", "infidelity"),
    )
    kind = _choice(_required(ini, "kind", "initial"), "initial.kind", INITIAL_KINDS)
    if kind == "ground_state":
        for key in ("direction", "infidelity"):
            if key in ini:
                raise SpecError(f"initial.{key}", "applies to kind product")
        m = _section(
            _required(ini, "model", "initial"),
            "initial.model",
            ("name", *coupling_names()),
        )
        name = _choice(m.get("name", point.model.name), "initial.model.name", tuple(MODELS))
        # The ground state is computed with the point's lattice, ansatz and settings; its
        # couplings default to the quench Hamiltonian's when the model is the same.
        base = dict(point.model.couplings) if name == point.model.name else {}
        model = {"name": name, **base, **{k: v for k, v in m.items() if k != "name"}}
        try:
            initial_point = parse_spec({**point.to_raw(), "model": model})
        except SpecError as err:
            raise SpecError(f"initial.{err.field}", str(err).split(": ", 1)[1]) from None
        return InitialSpec("ground_state", (("name", name), *initial_point.model.couplings))
    if "model" in ini:
        raise SpecError("initial.model", "applies to kind ground_state")
    direction = _choice(_required(ini, "direction", "initial"), "initial.direction", DIRECTIONS)
    if point.sector != "full":
        raise SpecError(
            "initial.kind", "a product state along x or z is not in the zero-magnetisation sector; use hilbert.sector: full"
        )
    if point.marshall_sign:
        raise SpecError("marshall_sign", "product initial states are built in the unrotated frame; set marshall_sign: false")
    network = None if point.ansatz.module else NETWORKS[point.ansatz.name]
    if network is None or network.product_state_check is None:
        with_states = ", ".join(n for n, net in NETWORKS.items() if net.product_state_check is not None)
        raise SpecError(
            "initial.kind",
            f"product initial states are built for the ansatze {with_states}; got {point.ansatz.module or point.ansatz.name}",
        )
    problem = network.product_state_check(point.ansatz, direction)
    if problem is not None:
        raise SpecError(*problem)
    infidelity = _float(ini.get("infidelity", 1e-6), "initial.infidelity", positive=True)
    if infidelity >= 0.1:
        raise SpecError("initial.infidelity", f"must be in (0, 0.1) (the budget for representing the state); got {infidelity}")
    return InitialSpec("product", (), direction, infidelity)


def parse_quench(raw: Any) -> QuenchSpec:
    """Validate a quench spec mapping and fill in defaults."""
    if not isinstance(raw, dict):
        raise SpecError("spec", "must be a mapping with the point spec keys plus initial and dynamics")
    base = {k: v for k, v in raw.items() if k not in ("initial", "dynamics")}
    point = parse_spec(base)
    if point.symmetry is not None and point.symmetry.project == "final":
        raise SpecError("symmetry.project", "final is a stage of a ground-state optimisation; a quench takes none or train")
    dynamics = _parse_dynamics(_required(raw, "dynamics", "spec"), point)
    initial = _parse_initial(raw.get("initial"), point)
    return QuenchSpec(point, initial, dynamics)


def initial_point_spec(q: QuenchSpec) -> PointSpec:
    """The ground-state VMC point whose final state starts the quench."""
    if q.initial.kind != "ground_state":
        raise ValueError("only a ground_state initial state has a VMC point")
    return parse_spec({**q.point.to_raw(), "model": q.initial.model_dict()})


def same_state_space(a: PointSpec, b: PointSpec) -> str | None:
    """The first field in which two points' variational states differ (None: the same)."""
    checks = {
        "lattice": (a.lattice, b.lattice),
        "hilbert.sector": (a.sector, b.sector),
        "ansatz": (a.ansatz, b.ansatz),
        "marshall_sign": (a.marshall_sign, b.marshall_sign),
    }
    for field, (x, y) in checks.items():
        if x != y:
            return field
    return None


def load_quench(path: str | Path) -> QuenchSpec:
    """Read and validate a YAML quench spec file."""
    return parse_quench(read_spec_file(path))
