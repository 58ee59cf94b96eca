"""The point spec: one VMC job, parsed and validated before any compute starts.

Every problem raises :class:`SpecError` naming the field (a dotted path) and
what is allowed. Defaults are filled in here, so the resolved spec (and its hash)
is the whole truth about a run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from nqs_sweep.mc.moves import MOVES, move_for_sector
from nqs_sweep.models import plugin
from nqs_sweep.models.registry import NETWORKS, Network, names
from nqs_sweep.optim.optimizers import OPTIMIZERS
from nqs_sweep.physics.hamiltonians import MODELS
from nqs_sweep.physics.lattice import LATTICE_KINDS, Lattice

# The networks (and which fields each takes) are those registered in nqs_sweep.models.registry,
# read when a spec is parsed, so a network registered by a user is accepted like ours.
ANSATZ_DTYPES = ("float64", "complex128", "float32", "complex64")
REAL_DTYPES = ("float64", "float32")
# direct: the network outputs log ψ (its phase from complex parameters); amplitude_phase: two
# real networks of the same architecture, log ψ = f_A + i f_φ (nqs_sweep.models.amplitude_phase).
PARAMETRIZATIONS = ("direct", "amplitude_phase")
# symmetric: a gcnn sums its last layer over the group; dense: a weight per group element and
# channel, an approximately symmetric network (nqs_sweep.models.gcnn).
READOUTS = ("symmetric", "dense")
ACTIVATIONS = ("cosh", "tanh")
SAMPLER_KINDS = ("metropolis", "exact", "direct")
SECTORS = ("full", "zero_magnetization")
SCHEDULES = ("constant", "linear", "exponential", "cosine")
SR_SOLVERS = ("cholesky", "pinv", "cg")

# Bounds that refuse, before anything is allocated, the sizes that cannot run: a lattice past any
# VMC study (and past what `validate` builds in a second), and sizes whose arrays would not fit.
MAX_SITES = 65_536
MAX_SAMPLES = 10_000_000
MAX_SWEEP_PER_SITE = 100
MAX_PARAMS = 50_000_000


def _physical_memory() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40


def _check_network_fits(network: Network, model: str, sector: str, sector_given: bool, marshall: bool) -> None:
    """Refuse a network on a sector it is not defined on, or with a sign it would lose."""
    allowed = network.sectors
    if allowed is not None and sector not in allowed:
        if "full" not in allowed and not MODELS[model].conserves_magnetization:
            raise SpecError(
                "ansatz.name", f"{network.name} needs hilbert.sector: {allowed[0]}, which the {model} does not conserve"
            )
        field = "hilbert.sector" if sector_given else "sampler.move"
        raise SpecError(
            field,
            f"the {network.name} network is defined on hilbert.sector: {', '.join(allowed)} only; got {sector} "
            f"(set sampler.move: {move_for_sector(allowed[0])}, whose sector that is)",
        )
    if network.carries_signs and marshall:
        raise SpecError("marshall_sign", f"{network.name} carries its own signs (a determinant); use marshall_sign: false")


def _check_memory(ansatz: AnsatzSpec, n_sites: int, n_samples: int) -> None:
    """Refuse a dense network whose parameters, or whose Jacobian over a step's samples (what SR
    and MinSR solve with), cannot fit: the feed-forward networks grow as alpha N^2."""
    if ansatz.module or NETWORKS[ansatz.name].per_site_features:
        return
    fan_in = [n_sites, *ansatz.features[:-1]]
    n_params = sum(f * (k + 1) for f, k in zip(ansatz.features, fan_in)) + n_sites
    extra = NETWORKS[ansatz.name].extra_params
    n_params += extra(n_sites) if extra else 0
    if n_params > MAX_PARAMS:
        size = f"about {n_params:.3g} parameters on N={n_sites} sites"
        raise SpecError("ansatz.alpha", f"gives {size}; allowed up to {MAX_PARAMS:.3g}")
    jacobian = 8 * n_samples * n_params * (1 if ansatz.dtype in REAL_DTYPES else 2)
    memory = _physical_memory()
    # A margin of 4: the RBM's factored Jacobian never forms the matrix, and a study validated on
    # a login node may run on larger nodes; past it no machine of the study's kind would fit it.
    if jacobian > 4 * memory:
        raise SpecError(
            "sampler.n_samples",
            f"the Jacobian of {n_samples} samples by {n_params} parameters needs {jacobian / 2**30:.1f} GiB; "
            f"this machine has {memory / 2**30:.1f} GiB (refused past 4 times that)",
        )


# Below this the importance weights |ψ|^(2 − power) spread over so many orders of magnitude that a
# few samples carry the estimate (at 0.5 the 4×4 J1-J2 runs were worse than at 1; docs/accuracy.md).
MIN_POWER = 0.25
# Full enumeration is exact but costs 2^N evaluations per step.
EXACT_SAMPLER_MAX_SITES = 16
# MinSR on an enumeration builds a (2 dim)^2 kernel.
MINSR_EXACT_MAX_DIM = 2048


# (section, key, default) of the fields added after results existed (see PointSpec.to_dict).
LATER_FIELDS = (
    ("ansatz", "parametrization", "direct"),
    ("ansatz", "readout", "symmetric"),
    ("", "snapshot_every", 0),
    ("", "observables", []),
    ("ansatz", "range", 0),
    ("ansatz", "kernel", 0),
    ("ansatz", "patch", 0),
    ("ansatz", "heads", 0),
    ("optimizer", "clip_local_energy", 0.0),
    ("optimizer", "momentum", 0.0),
    ("optimizer", "warmup", 0),
    ("", "sign_prior", "none"),
    ("sampler", "power", 2.0),
    ("optimizer", "trust_radius", 0.0),
    ("", "lanczos_samples", 0),
)


def coupling_names() -> tuple[str, ...]:
    """Every coupling any registered model takes, sorted."""
    return tuple(sorted({k for m in MODELS.values() for k in m.couplings}))


# A message quotes the value at fault; a hostile one (a huge nested value) is cut here.
MAX_MESSAGE_CHARS = 1000


class SpecError(ValueError):
    """A spec field is missing, unknown, of the wrong type or out of range."""

    def __init__(self, field: str, message: str):
        self.field = field
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + f"... ({len(message) - MAX_MESSAGE_CHARS} more characters)"
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Schedule:
    """A scalar hyperparameter as a function of the iteration."""

    kind: str = "constant"
    init: float = 0.0
    end: float = 0.0
    steps: int = 0  # transition length; 0 means the whole run


@dataclass(frozen=True)
class ModelSpec:
    name: str
    couplings: tuple[tuple[str, float], ...]

    def coupling(self, key: str) -> float:
        return dict(self.couplings)[key]


@dataclass(frozen=True)
class LatticeSpec:
    kind: str
    L: int
    pbc: bool

    def build(self) -> Lattice:
        """The lattice itself: sites, bonds, sublattices and symmetry groups."""
        return Lattice(self.kind, self.L, self.pbc)


@dataclass(frozen=True)
class AnsatzSpec:
    """The network. ``features`` is resolved: hidden units (ffnn, rbm) or channels (rbm_symm,
    gcnn) of every layer; ``symmetries`` is 'none' for the ansatze that use no lattice symmetry."""

    name: str
    alpha: float
    dtype: str
    activation: str
    init_scale: float
    layers: int = 1
    features: tuple[int, ...] = ()
    symmetries: str = "none"
    parametrization: str = "direct"
    readout: str = "symmetric"
    # The reach of each hidden unit's connections (networks with Network.local); 0: all-to-all.
    range: int = 0
    # The width of each convolution's window per direction (networks with Network.kernel); 0: none.
    kernel: int = 0
    # A transformer's token window per direction and its attention heads (Network.patch, .heads); 0: none.
    patch: int = 0
    heads: int = 0
    # A researcher's own network (nqs_sweep.models.plugin): its reference, its keyword arguments
    # as sorted (key, value) pairs with lists made tuples, and the hash of its source file.
    module: str = ""
    kwargs: tuple = ()
    source_sha256: str = ""

    @property
    def kwargs_dict(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.kwargs}

    @property
    def complex_output(self) -> bool:
        """Whether log ψ has a varying phase (complex parameters, or a phase network)."""
        return self.dtype not in REAL_DTYPES or self.parametrization == "amplitude_phase"

    def default_features(self, n_sites: int) -> tuple[int, ...]:
        """The widths alpha alone implies: alpha channels (symmetric and autoregressive ansatze) or
        alpha N units, in every layer."""
        if self.module:
            return ()
        per_layer = self.alpha if NETWORKS[self.name].per_site_features else self.alpha * n_sites
        return (round(per_layer),) * self.layers


@dataclass(frozen=True)
class SamplerSpec:
    kind: str
    n_samples: int
    n_chains: int
    n_discard: int
    move: str
    sweep_size: int
    n_samples_eval: int
    # Metropolis samples |ψ|^power and every estimate reweights by |ψ|^(2 − power)/Σ (importance
    # sampling; NetKet's machine_pow). Below 2 the chains visit the configurations of small |ψ|
    # whose local energies make the heavy tails of E_loc, and their weights tame those tails.
    power: float = 2.0


@dataclass(frozen=True)
class OptimizerSpec:
    kind: str
    learning_rate: Schedule
    diag_shift: Schedule
    n_iter: int
    solver: str
    # Local energies outside mean ± k mean absolute deviations are clipped there in the gradient
    # (not in the reported energy); 0: off. Heavy tails of E_loc (configurations where ψ nearly
    # vanishes) otherwise give single steps that collapse the state onto one configuration.
    clip_local_energy: float = 0.0
    # SPRING (Goldshmidt et al. 2024; NetKet's VMC_SR ``momentum``): the natural-gradient
    # direction φ_t minimises |Õφ − ẽ|² + ε|φ − μ φ_{t−1}|², so successive steps' solutions
    # accumulate where a single noisy one would be cut by the shift. 0: off.
    momentum: float = 0.0
    # The learning rate ramps linearly from schedule(0)/warmup to the schedule over this many
    # steps: the first steps from a random network have the largest, noisiest gradients.
    warmup: int = 0
    # The largest Fubini-Study length of one update, lr·sqrt(δθᵀ S δθ) with this step's sampled
    # S; a longer update is scaled down to it. 0: off.
    trust_radius: float = 0.0


@dataclass(frozen=True)
class SymmetrySpec:
    """The symmetry sector (physics.symmetry): quantum numbers, None where a part of the group is
    left out, and whether the network is projected onto it (models.projection)."""

    momentum: tuple[int, ...] | None = None
    point_group: str | None = None
    spin_flip: int | None = None
    project: str = "none"  # none | train | final
    final_steps: int = 0  # steps of the projected final stage (project: final)

    @property
    def sector(self):
        from nqs_sweep.physics.symmetry import Sector

        return Sector(self.momentum, self.point_group, self.spin_flip)


@dataclass(frozen=True)
class PointSpec:
    model: ModelSpec
    lattice: LatticeSpec
    sector: str
    ansatz: AnsatzSpec
    sampler: SamplerSpec
    optimizer: OptimizerSpec
    marshall_sign: bool
    seed: int
    study: str = ""
    # Keep θ every this many iterations for spectra along the optimisation (0: only the final θ).
    snapshot_every: int = 0
    # Observables measured at the end of the run, on the final evaluation's sample (mc/observables.py).
    observables: tuple[str, ...] = ()
    # The symmetry sector as given, its defaults filled in; None: the ground state's, by the rule of
    # physics.symmetry, for the networks that sum over a group (models.projection).
    symmetry: SymmetrySpec | None = None
    # Measurements beyond the energy at the end of the run (nqs_sweep.measure), in the order given.
    measurements: tuple = ()
    # A fixed sign structure multiplied into the network, or the pair product it comes from, trained
    # with it (models.sign_prior); "none": the network's own.
    sign_prior: str = "none"
    # Samples for the energy after one Lanczos step at the end of the run (mc/lanczos.py); 0: none.
    lanczos_samples: int = 0

    @property
    def n_sites(self) -> int:
        return self.lattice.L if self.lattice.kind == "chain" else self.lattice.L**2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = {"name": self.model.name, **dict(self.model.couplings)}
        d["observables"] = list(self.observables)
        if self.measurements:
            d["measurements"] = {m.name: m.options for m in self.measurements}
        else:  # written only when given: the hash of every earlier point stays
            d.pop("measurements")
        if self.symmetry is None:  # written only when given: the hash of every earlier point stays
            d.pop("symmetry")
        else:
            sym = d["symmetry"]
            sym["momentum"] = None if self.symmetry.momentum is None else list(self.symmetry.momentum)
            if self.symmetry.project != "final":
                sym.pop("final_steps")
        if self.ansatz.module:  # a plug-in is its reference, kwargs and source; the rest does not apply
            a = self.ansatz
            d["ansatz"] = {
                "name": a.name,
                "dtype": a.dtype,
                "module": a.module,
                "kwargs": a.kwargs_dict,
                "source_sha256": a.source_sha256,
                **({"parametrization": a.parametrization} if a.parametrization != "direct" else {}),
            }
        else:
            for key in ("module", "kwargs", "source_sha256"):
                d["ansatz"].pop(key)
        # Fields added after results existed are written only when set, so the hash (and the
        # workflow's spec text) of every earlier point stays what it was.
        for section, key, default in LATER_FIELDS:
            if (d[section] if section else d).get(key) == default:
                (d[section] if section else d).pop(key, None)
        return d

    def to_raw(self) -> dict[str, Any]:
        """The resolved spec as a mapping that parse_spec reads back to an equal spec."""

        def schedule(s: Schedule) -> float | dict[str, Any]:
            if s.steps == 0:  # given as a plain number
                return s.init
            return {"schedule": s.kind, "init": s.init, "end": s.end, "steps": s.steps}

        d = self.to_dict()
        d.pop("sector")
        d["hilbert"] = {"sector": self.sector}
        d["optimizer"]["learning_rate"] = schedule(self.optimizer.learning_rate)
        d["optimizer"]["diag_shift"] = schedule(self.optimizer.diag_shift)
        if self.ansatz.module:
            d["ansatz"].pop("dtype")  # read from the network, not set
        # features are written only where they say more than alpha does (YAML has no tuples)
        elif self.ansatz.features == self.ansatz.default_features(self.n_sites):
            d["ansatz"].pop("features")
        else:
            d["ansatz"]["features"] = list(self.ansatz.features)
        return d

    @property
    def spec_hash(self) -> str:
        """Hash of the resolved spec; the study name is a label, not part of the physics."""
        d = self.to_dict()
        d.pop("study")
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --- small typed readers ---------------------------------------------------


def _section(raw: Any, path: str, allowed: tuple[str, ...]) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(path, f"must be a mapping with keys {', '.join(allowed)}; got {type(raw).__name__}")
    for key in raw:
        if key not in allowed:
            raise SpecError(str(key) if path == "spec" else f"{path}.{key}", f"unknown key; allowed: {', '.join(allowed)}")
    return raw


def _required(d: dict, key: str, path: str) -> Any:
    if key not in d:
        raise SpecError(f"{path}.{key}", "missing required field")
    return d[key]


def _choice(value: Any, path: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SpecError(path, f"must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _int(value: Any, path: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"must be an integer; got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise SpecError(path, f"must be >= {minimum}; got {value}")
    return value


def _float(value: Any, path: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"must be a number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(path, f"must be a finite number; got {value}")
    if positive and value <= 0:
        raise SpecError(path, f"must be > 0; got {value}")
    return value


def _clip_width(value: Any) -> float:
    width = _float(value, "optimizer.clip_local_energy")
    if width != 0 and width < 1:  # under one deviation most samples would be clipped: a biased gradient
        raise SpecError(
            "optimizer.clip_local_energy", f"must be 0 (off) or >= 1 (mean absolute deviations; 5 is usual); got {width}"
        )
    return width


def _trust_radius(value: Any) -> float:
    radius = _float(value, "optimizer.trust_radius")
    if not (math.isfinite(radius) and radius >= 0):
        raise SpecError("optimizer.trust_radius", f"must be 0 (off) or a positive Fubini-Study length per step; got {radius}")
    return radius


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(path, f"must be true or false; got {value!r}")
    return value


def _momentum(value: Any, kind: str) -> float:
    mu = _float(value, "optimizer.momentum")
    if not 0.0 <= mu < 1.0:
        raise SpecError("optimizer.momentum", f"must be in [0, 1) (0: off; SPRING uses about 0.9); got {mu}")
    natural = tuple(name for name, o in OPTIMIZERS.items() if o.natural)
    if mu and kind not in natural:
        raise SpecError(
            "optimizer.momentum",
            f"SPRING momentum acts on a natural-gradient solve: optimizer.kind {', '.join(natural)}; got {kind}",
        )
    return mu


def _schedule(value: Any, path: str, n_iter: int, allow_zero: bool = False) -> Schedule:
    if not isinstance(value, dict):
        v = _float(value, path)
        if v < 0 or (v == 0 and not allow_zero):
            raise SpecError(path, f"must be {'>= 0' if allow_zero else '> 0'}; got {v}")
        return Schedule("constant", v, v, 0)
    d = _section(value, path, ("schedule", "init", "end", "steps"))
    kind = _choice(d.get("schedule", "constant"), f"{path}.schedule", SCHEDULES)
    init = _float(_required(d, "init", path), f"{path}.init")
    end = _float(d.get("end", init), f"{path}.end")
    for name, v in (("init", init), ("end", end)):
        if v < 0 or (v == 0 and not allow_zero and kind != "linear"):
            raise SpecError(f"{path}.{name}", f"must be > 0; got {v}")
    if kind == "exponential" and (init <= 0 or end <= 0):
        raise SpecError(path, "an exponential schedule needs init > 0 and end > 0")
    steps = _int(d.get("steps", n_iter), f"{path}.steps", minimum=1)
    return Schedule(kind, init, end, steps)


# --- the spec ----------------------------------------------------------------

TOP_KEYS = (
    *("model", "lattice", "hilbert", "ansatz", "sampler", "optimizer"),
    *("marshall_sign", "seed", "study", "snapshot_every", "observables", "symmetry", "measurements", "sign_prior"),
    "lanczos_samples",
)


def _sampler(raw: Any, n_sites: int) -> SamplerSpec:
    sa = _section(raw, "sampler", ("kind", "n_samples", "n_chains", "n_discard", "move", "sweep_size", "n_samples_eval", "power"))
    s_kind = _choice(sa.get("kind", "metropolis"), "sampler.kind", SAMPLER_KINDS)
    move = _choice(sa.get("move", "local"), "sampler.move", tuple(MOVES))
    n_samples = _int(sa.get("n_samples", 1024), "sampler.n_samples", minimum=1)
    n_chains = _int(sa.get("n_chains", 16), "sampler.n_chains", minimum=1)
    if s_kind in ("metropolis", "direct"):  # direct samples are grouped in n_chains rows for R̂ and τ
        if n_samples < n_chains:
            raise SpecError("sampler.n_samples", f"must be >= sampler.n_chains ({n_chains}); got {n_samples}")
        if n_samples % n_chains:
            raise SpecError("sampler.n_samples", f"must be a multiple of sampler.n_chains ({n_chains}); got {n_samples}")
    if s_kind == "exact" and n_sites > EXACT_SAMPLER_MAX_SITES:
        raise SpecError(
            "sampler.kind", f"exact enumerates 2^N states and allows N <= {EXACT_SAMPLER_MAX_SITES}; this lattice has N={n_sites}"
        )
    n_eval = _int(sa.get("n_samples_eval", 4 * n_samples), "sampler.n_samples_eval", minimum=n_chains)
    if s_kind in ("metropolis", "direct") and n_eval % n_chains:
        raise SpecError("sampler.n_samples_eval", f"must be a multiple of sampler.n_chains ({n_chains}); got {n_eval}")
    for key, count in (("n_samples", n_samples), ("n_samples_eval", n_eval)):
        if count > MAX_SAMPLES:
            raise SpecError(f"sampler.{key}", f"must be <= {MAX_SAMPLES}; got {count}")
    sweep_size = _int(sa.get("sweep_size", n_sites), "sampler.sweep_size", minimum=1)
    if sweep_size > MAX_SWEEP_PER_SITE * n_sites:
        bound = MAX_SWEEP_PER_SITE * n_sites
        raise SpecError("sampler.sweep_size", f"must be <= {MAX_SWEEP_PER_SITE} N = {bound}; got {sweep_size}")
    return SamplerSpec(
        kind=s_kind,
        n_samples=n_samples,
        n_chains=n_chains,
        n_discard=_int(sa.get("n_discard", 16), "sampler.n_discard", minimum=0),
        move=move,
        sweep_size=sweep_size,
        n_samples_eval=n_eval,
        power=_power(sa.get("power", 2.0), s_kind),
    )


def _power(value: Any, kind: str) -> float:
    power = _float(value, "sampler.power")
    if not MIN_POWER <= power <= 2.0:
        raise SpecError(
            "sampler.power",
            f"must be in [{MIN_POWER}, 2] (2: |ψ|², the plain estimator; about 1 against heavy tails); got {power}",
        )
    if power != 2.0 and kind != "metropolis":
        raise SpecError(
            "sampler.power", f"applies to sampler.kind: metropolis; {kind} samples |ψ|² itself, so power must be 2; got {power}"
        )
    return power


def _sector(raw: Any, name: str, sampler: SamplerSpec, n_sites: int) -> str:
    """The Hilbert sector: the one the Metropolis move keeps unless hilbert.sector names it."""
    move = sampler.move
    hi = _section(raw, "hilbert", ("sector",))
    sector = _choice(hi.get("sector", MOVES[move].sector), "hilbert.sector", SECTORS)
    if sector == "zero_magnetization" and n_sites % 2:
        raise SpecError("hilbert.sector", f"zero_magnetization needs an even number of sites; got N={n_sites}")
    if sector == "zero_magnetization" and not MODELS[name].conserves_magnetization:
        where = "hilbert.sector" if "sector" in hi else "sampler.move"
        raise SpecError(
            where,
            f"the {name} does not conserve the magnetisation: use sampler.move: {move_for_sector('full')} "
            "and hilbert.sector: full",
        )
    if sampler.kind == "metropolis" and MOVES[move].sector != sector:
        keeps = "; ".join(f"{m.name} moves go with hilbert.sector: {m.sector}" for m in MOVES.values())
        raise SpecError("sampler.move", f"{move} moves stay in hilbert.sector: {MOVES[move].sector}, not {sector} ({keeps})")
    return sector


def parse_spec(raw: Any) -> PointSpec:
    """Validate a spec mapping (as loaded from YAML) and fill in defaults."""
    top = _section(raw, "spec", TOP_KEYS)

    m = _section(_required(top, "model", "spec"), "model", ("name", *coupling_names()))
    name = _choice(_required(m, "name", "model"), "model.name", tuple(MODELS))
    allowed = MODELS[name].couplings
    for key in m:
        if key != "name" and key not in allowed:
            raise SpecError(f"model.{key}", f"not a coupling of {name}; allowed: {', '.join(allowed)}")
    couplings = tuple((k, _float(m.get(k, default), f"model.{k}")) for k, default in allowed.items())
    model = ModelSpec(name, couplings)

    la = _section(_required(top, "lattice", "spec"), "lattice", ("kind", "L", "pbc"))
    lattice = LatticeSpec(
        kind=_choice(_required(la, "kind", "lattice"), "lattice.kind", LATTICE_KINDS),
        L=_int(_required(la, "L", "lattice"), "lattice.L", minimum=2),
        pbc=_bool(la.get("pbc", True), "lattice.pbc"),
    )
    n_sites = lattice.L if lattice.kind == "chain" else lattice.L**2
    if n_sites > MAX_SITES:
        raise SpecError("lattice.L", f"gives N={n_sites} sites; allowed up to {MAX_SITES}")

    marshall = _bool(top.get("marshall_sign", False), "marshall_sign")
    if marshall:
        if not MODELS[name].sign_rule:
            with_rule = ", ".join(n for n, mo in MODELS.items() if mo.sign_rule)
            raise SpecError("marshall_sign", f"applies to {with_rule}; the {name} is sign-free already")
        if not lattice.build().is_bipartite:
            raise SpecError(
                "marshall_sign",
                f"needs a bipartite lattice; a periodic {lattice.kind} with odd L={lattice.L} is not "
                "(use an even L or lattice.pbc: false)",
            )

    sampler = _sampler(top.get("sampler"), n_sites)
    s_kind, n_samples = sampler.kind, sampler.n_samples
    sector = _sector(top.get("hilbert"), name, sampler, n_sites)

    ansatz = _ansatz(_required(top, "ansatz", "spec"), lattice, n_sites)
    _check_memory(ansatz, n_sites, n_samples)
    if not ansatz.module:
        _check_network_fits(NETWORKS[ansatz.name], name, sector, "sector" in (top.get("hilbert") or {}), marshall)
    if s_kind == "direct" and (ansatz.module or not NETWORKS[ansatz.name].autoregressive):
        raise SpecError(
            "sampler.kind",
            "direct draws exact samples from the conditionals of an autoregressive ansatz "
            f"(ansatz.name: {', '.join(names(autoregressive=True))}); got ansatz {ansatz.module or ansatz.name}. "
            "Use sampler.kind: metropolis or exact for it",
        )

    op = _section(
        top.get("optimizer"),
        "optimizer",
        ("kind", "learning_rate", "diag_shift", "n_iter", "solver", "clip_local_energy", "momentum", "warmup", "trust_radius"),
    )
    n_iter = _int(op.get("n_iter", 300), "optimizer.n_iter", minimum=1)
    o_kind = _choice(op.get("kind", "sr"), "optimizer.kind", tuple(OPTIMIZERS))
    optimizer = OptimizerSpec(
        kind=o_kind,
        learning_rate=_schedule(op.get("learning_rate", 0.01), "optimizer.learning_rate", n_iter),
        diag_shift=_schedule(op.get("diag_shift", 0.01), "optimizer.diag_shift", n_iter, allow_zero=True),
        n_iter=n_iter,
        solver=_choice(op.get("solver", "cholesky"), "optimizer.solver", SR_SOLVERS),
        clip_local_energy=_clip_width(op.get("clip_local_energy", 0.0)),
        momentum=_momentum(op.get("momentum", 0.0), o_kind),
        warmup=_int(op.get("warmup", 0), "optimizer.warmup", minimum=0),
        trust_radius=_trust_radius(op.get("trust_radius", 0.0)),
    )
    if optimizer.warmup >= n_iter:
        raise SpecError("optimizer.warmup", f"must be < optimizer.n_iter ({n_iter}), or 0 for none; got {optimizer.warmup}")

    dim = 2**n_sites if sector == "full" else math.comb(n_sites, n_sites // 2)
    if o_kind == "minsr" and s_kind == "exact" and dim > MINSR_EXACT_MAX_DIM:
        raise SpecError(
            "optimizer.kind",
            f"minsr with the exact sampler solves in sample space, here of dimension {dim}; "
            f"allowed up to {MINSR_EXACT_MAX_DIM}: use sr",
        )
    seed = _int(top.get("seed", 0), "seed", minimum=0)
    if seed >= 2**63:  # the PRNG key is built from a signed 64-bit integer
        raise SpecError("seed", f"must be < 2^63 = {2**63}; got {seed}")
    study = top.get("study", "")
    if not isinstance(study, str):
        raise SpecError("study", f"must be a string; got {study!r}")
    snapshot_every = _int(top.get("snapshot_every", 0), "snapshot_every", minimum=0)
    if snapshot_every > n_iter:
        raise SpecError("snapshot_every", f"must be <= optimizer.n_iter ({n_iter}), or 0 for none; got {snapshot_every}")
    observables = _observables(top.get("observables", []), sector)
    symmetry = None if top.get("symmetry") is None else _symmetry(top["symmetry"], lattice, n_iter)
    point = PointSpec(model, lattice, sector, ansatz, sampler, optimizer, marshall, seed, study, snapshot_every, observables)
    point = replace(point, sign_prior=_sign_prior(top.get("sign_prior", "none"), point))
    point = replace(point, lanczos_samples=_lanczos_samples(top.get("lanczos_samples", 0), sampler))
    if symmetry is not None:
        point = replace(point, symmetry=symmetry)
        point = replace(point, symmetry=_symmetry_defaults(point, top["symmetry"]))
    _check_symmetry(point)
    if top.get("measurements") is not None:
        from nqs_sweep.measure import MEASUREMENTS, parse_measurements

        point = replace(point, measurements=parse_measurements(top["measurements"], lattice, sector))
        born = [m.name for m in point.measurements if MEASUREMENTS[m.name].born_samples]
        if born and sampler.power != 2.0:
            needs = f"must be 2 with the measurements {', '.join(born)}, which need samples of |ψ|² itself"
            raise SpecError("sampler.power", f"{needs}; got {sampler.power}")
    return point


def _lanczos_samples(raw: Any, sampler: SamplerSpec) -> int:
    n = _int(raw, "lanczos_samples", minimum=0)
    if n and sampler.kind == "direct":
        # the step's second sample is a Markov chain of |(H − μ)ψ|², which the direct sampler's
        # runs do not keep (their chains are never advanced)
        raise SpecError("lanczos_samples", "needs sampler.kind metropolis or exact; got direct (use 0)")
    if n and sampler.kind != "exact":
        if n < sampler.n_chains or n % sampler.n_chains:
            allowed = f"0 (none) or a multiple of sampler.n_chains ({sampler.n_chains})"
            raise SpecError("lanczos_samples", f"must be {allowed}; got {n}")
        if n > MAX_SAMPLES:
            raise SpecError("lanczos_samples", f"must be <= {MAX_SAMPLES}; got {n}")
    return n


def _sign_prior(raw: Any, point: PointSpec) -> str:
    """A fixed sign structure (models.sign_prior), or the pair product it comes from trained with
    the network: the sign of a pair product, so it needs zero magnetisation, and the Z2 state's
    pairing is built on the periodic square with even L."""
    from nqs_sweep.models.sign_prior import SIGN_PRIORS

    kind = _choice(raw, "sign_prior", SIGN_PRIORS)
    if kind == "none":
        return kind
    la = point.lattice
    if la.kind != "square" or not la.pbc or la.L % 2:
        where = f"a {la.kind} with L={la.L}, pbc={la.pbc}"
        raise SpecError("sign_prior", f"{kind} is built on the periodic square lattice with even L; got {where}")
    if point.sector != "zero_magnetization":
        raise SpecError(
            "sign_prior", f"{kind} is the sign of a pair product, defined at zero magnetisation; use sampler.move: exchange"
        )
    if point.marshall_sign:
        raise SpecError("sign_prior", f"{kind} replaces the Marshall sign rule; set marshall_sign: false")
    if not point.ansatz.module and NETWORKS[point.ansatz.name].carries_signs:
        raise SpecError("sign_prior", f"{point.ansatz.name} carries its own signs (a determinant); use sign_prior: none")
    if kind == "z2_pair_product" and point.sampler.kind == "direct":
        # the pair product's amplitude enters |ψ|², which the network's conditionals do not draw from
        raise SpecError(
            "sign_prior",
            "z2_pair_product multiplies |ψ| by a determinant, so direct samples of the network are not "
            "samples of ψ; use sampler.kind: metropolis or exact, or sign_prior: z2_spin_liquid",
        )
    return kind


SYMMETRY_KEYS = ("momentum", "point_group", "spin_flip", "project", "final_steps")


def _symmetry(raw: Any, lattice: LatticeSpec, n_iter: int) -> SymmetrySpec:
    """The fields as given; those left out are filled by _symmetry_defaults (they need the point)."""
    from nqs_sweep.physics.symmetry import POINT_GROUP_NAMES, PROJECTIONS

    sy = _section(raw, "symmetry", SYMMETRY_KEYS)
    momentum = sy.get("momentum")
    if momentum is not None:
        if isinstance(momentum, int) and not isinstance(momentum, bool):
            momentum = [momentum]
        if not isinstance(momentum, list):
            raise SpecError("symmetry.momentum", f"must be a list of integers n (k = 2π n / L), or null; got {momentum!r}")
        momentum = tuple(_int(m, f"symmetry.momentum[{i}]") % lattice.L for i, m in enumerate(momentum))
    point_group = sy.get("point_group")
    if point_group is not None:
        point_group = _choice(point_group, "symmetry.point_group", POINT_GROUP_NAMES[lattice.kind])
    spin_flip = sy.get("spin_flip")
    if spin_flip is not None and (isinstance(spin_flip, bool) or spin_flip not in (1, -1)):
        raise SpecError("symmetry.spin_flip", f"must be 1, -1 or null; got {spin_flip!r}")
    project = _choice(sy.get("project", "none"), "symmetry.project", PROJECTIONS)
    final_steps = 0
    if project == "final":
        final_steps = _int(_required(sy, "final_steps", "symmetry"), "symmetry.final_steps", minimum=1)
        if final_steps > n_iter:
            raise SpecError("symmetry.final_steps", f"must be <= optimizer.n_iter ({n_iter}); got {final_steps}")
    elif "final_steps" in sy:
        raise SpecError("symmetry.final_steps", "applies to project: final")
    return SymmetrySpec(momentum, point_group, spin_flip, project, final_steps)


def _symmetry_defaults(point: PointSpec, raw: dict) -> SymmetrySpec:
    """With no quantum number given, the sector is the ground state's (where the rule of
    physics.symmetry knows it); with some given, those alone make the sector."""
    from nqs_sweep.models.projection import default_sector

    sym = point.symmetry
    if any(k in raw for k in ("momentum", "point_group", "spin_flip")):
        return sym
    rule = default_sector(point)
    if rule is None:
        raise SpecError(
            "symmetry.momentum",
            "the ground-state rule (docs/symmetry.md) does not know this model's sector: name momentum, point_group or spin_flip",
        )
    spin_flip = rule.spin_flip if MODELS[point.model.name].spin_flip_symmetric else None
    return replace(sym, momentum=rule.momentum, point_group=rule.point_group, spin_flip=spin_flip)


def _check_symmetry(point: PointSpec) -> None:
    """The network can be in the point's sector (models.projection.plan), or a SpecError naming the field."""
    if point.symmetry is None and (point.ansatz.module or not NETWORKS[point.ansatz.name].symmetric):
        return
    from nqs_sweep.models.projection import plan
    from nqs_sweep.physics.symmetry import SectorError

    try:
        plan(point)
    except SectorError as err:
        raise SpecError(err.field, str(err)) from None


def _observables(raw: Any, sector: str) -> tuple[str, ...]:
    from nqs_sweep.mc.observables import OBSERVABLES

    names = tuple(n for n in OBSERVABLES if n != "energy")  # the energy is always measured
    if not isinstance(raw, list):
        raise SpecError("observables", f"must be a list drawn from {', '.join(names)}; got {raw!r}")
    for i, o in enumerate(raw):
        _choice(o, f"observables[{i}]", names)
        if OBSERVABLES[o].full_space_only and sector != "full":
            raise SpecError(f"observables[{i}]", f"{o} leaves the zero-magnetisation sector (its value there is 0): drop it")
    if len(set(raw)) != len(raw):
        raise SpecError("observables", f"lists an observable twice: {raw}")
    return tuple(raw)


ANSATZ_KEYS = (
    *("name", "alpha", "dtype", "activation", "init_scale", "layers", "features"),
    *("symmetries", "parametrization", "readout", "range", "kernel", "patch", "heads"),
)


def _ansatz(raw: Any, lattice: LatticeSpec, n_sites: int) -> AnsatzSpec:
    if isinstance(raw, dict) and "module" in raw:
        return _plugin_ansatz(raw, n_sites)
    an = _section(raw, "ansatz", ANSATZ_KEYS)
    if "name" not in an:
        allowed = ", ".join(NETWORKS)
        raise SpecError("ansatz.name", f"missing required field: one of {allowed}, or ansatz.module for your own network")
    a_name = _choice(an["name"], "ansatz.name", tuple(NETWORKS))
    network = NETWORKS[a_name]
    symmetric = network.symmetric
    per_site = network.per_site_features
    deep_names = ", ".join(names(deep=True))

    if network.deep:
        layers = _int(an.get("layers", 1), "ansatz.layers", minimum=1)
    elif an.get("layers", 1) != 1 or isinstance(an.get("layers"), bool):
        raise SpecError("ansatz.layers", f"{a_name} has one hidden layer (allowed: 1); layers apply to {deep_names}")
    else:
        layers = 1

    features: tuple[int, ...] | None = None
    if "features" in an:
        if not network.deep:
            raise SpecError("ansatz.features", f"applies to {deep_names}; {a_name} is sized by ansatz.alpha")
        f = an["features"]
        if isinstance(f, list):
            if len(f) != layers:
                raise SpecError("ansatz.features", f"a list needs one entry per layer (ansatz.layers = {layers}); got {len(f)}")
            features = tuple(_int(v, f"ansatz.features[{i}]", minimum=1) for i, v in enumerate(f))
        else:
            features = (_int(f, "ansatz.features", minimum=1),) * layers

    if features is None:
        alpha = _float(an.get("alpha", 1), "ansatz.alpha", positive=True)
        n_features = alpha if per_site else alpha * n_sites
        if round(n_features) < 1:
            raise SpecError("ansatz.alpha", f"gives {n_features:.3g} hidden units on N={n_sites} sites; at least one is needed")
        if abs(n_features - round(n_features)) > 1e-9:
            what = "an integer" if per_site else f"a multiple of 1/N (N={n_sites})"
            raise SpecError("ansatz.alpha", f"must make a whole number of hidden units: {what}; got {alpha}")
    else:  # alpha is then the density of the first layer, as alpha alone would have given it
        alpha = float(features[0]) if per_site else features[0] / n_sites
        if "alpha" in an and abs(_float(an["alpha"], "ansatz.alpha", positive=True) - alpha) > 1e-9:
            raise SpecError(
                "ansatz.alpha", f"with ansatz.features given, alpha is that of the first layer ({alpha:g}); got {an['alpha']!r}"
            )

    if symmetric:
        symmetries = _choice(an.get("symmetries", network.groups[0]), "ansatz.symmetries", ("translations", "space_group"))
        if symmetries not in network.groups:
            raise SpecError(
                "ansatz.symmetries",
                f"{a_name} is covariant under {', '.join(network.groups)} only (allowed: {', '.join(network.groups)}); "
                "for the rest of the space group use symmetry.project",
            )
        if not lattice.pbc:
            raise SpecError(
                "ansatz.symmetries" if "symmetries" in an else "ansatz.name",
                f"{a_name} sums over lattice {symmetries.replace('_', ' ')} and needs lattice.pbc: true",
            )
    else:
        symmetries = _choice(an.get("symmetries", "none"), "ansatz.symmetries", ("none",))

    reach = _network_size(an, a_name, "range", "local", 1, "connects every hidden unit to every site")
    kernel = _network_size(an, a_name, "kernel", "kernel", 3, "has no convolution window")
    patch = _network_size(an, a_name, "patch", "patch", 2, "has no patches")
    heads = _network_size(an, a_name, "heads", "heads", 2, "has no attention heads")

    readout = _choice(an.get("readout", "symmetric"), "ansatz.readout", READOUTS)
    if readout not in network.readouts:
        with_readouts = ", ".join(n for n, net in NETWORKS.items() if readout in net.readouts)
        takes = ", ".join(network.readouts)
        raise SpecError("ansatz.readout", f"{readout} applies to {with_readouts}; {a_name} takes readout: {takes}")
    parametrization = _choice(an.get("parametrization", "direct"), "ansatz.parametrization", PARAMETRIZATIONS)
    if parametrization == "amplitude_phase" and network.carries_signs:
        raise SpecError(
            "ansatz.parametrization",
            f"amplitude_phase keeps only Re log ψ of each copy, which drops the signs {a_name} carries; use direct",
        )
    if parametrization == "amplitude_phase":
        dtype = an.get("dtype", "float64")
        if dtype not in REAL_DTYPES:
            raise SpecError(
                "ansatz.dtype",
                f"amplitude_phase (ansatz.parametrization) is two real networks: one of {', '.join(REAL_DTYPES)}; got {dtype!r}",
            )
    else:
        dtype = _choice(an.get("dtype", "complex128"), "ansatz.dtype", ANSATZ_DTYPES)
    spec = AnsatzSpec(
        name=a_name,
        alpha=alpha,
        dtype=dtype,
        activation=_activation(an, a_name),
        init_scale=_float(an.get("init_scale", 0.01), "ansatz.init_scale", positive=True),
        layers=layers,
        symmetries=symmetries,
        parametrization=parametrization,
        readout=readout,
        range=reach,
        kernel=kernel,
        patch=patch,
        heads=heads,
    )
    spec = replace(spec, features=features or spec.default_features(n_sites))
    for check in (network.local, network.kernel, network.patch, network.heads):
        refused = check(spec, lattice.build()) if check is not None else None
        if refused:
            raise SpecError(*refused)
    return spec


def _activation(an: dict, a_name: str) -> str:
    activation = _choice(an.get("activation", "cosh"), "ansatz.activation", ACTIVATIONS)
    computes = NETWORKS[a_name].activations
    if computes is not None and activation not in computes:
        takers = ", ".join(n for n, net in NETWORKS.items() if net.activations is None or activation in net.activations)
        only = ", ".join(computes)
        raise SpecError("ansatz.activation", f"{a_name} computes with {only} only; {activation} applies to {takers}")
    return activation


def _network_size(an: dict, a_name: str, key: str, check: str, default: int, without: str) -> int:
    """An integer field >= 1 that only some networks take (those whose Network.<check> is set);
    0 for the others, which refuse it naming the networks that take it."""
    if getattr(NETWORKS[a_name], check) is not None:
        return _int(an.get(key, default), f"ansatz.{key}", minimum=1)
    if key in an:
        takers = ", ".join(n for n, net in NETWORKS.items() if getattr(net, check) is not None)
        raise SpecError(f"ansatz.{key}", f"applies to {takers}; {a_name} {without}")
    return 0


PLUGIN_KEYS = ("module", "kwargs", "name", "parametrization", "source_sha256")


def _freeze(value: Any, path: str) -> Any:
    """A YAML value as a hashable one: lists become tuples; mappings are refused (a kwarg takes
    numbers, strings, booleans or lists of them)."""
    if isinstance(value, list):
        return tuple(_freeze(v, f"{path}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(path, f"must be finite; got {value}")
        return value
    raise SpecError(path, f"must be a number, string, boolean, null or a list of them; got {type(value).__name__}")


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


def _plugin_ansatz(raw: dict, n_sites: int) -> AnsatzSpec:
    """A researcher's own network (nqs_sweep.models.plugin), checked by abstract evaluation."""
    an = _section(raw, "ansatz", PLUGIN_KEYS)
    reference = an["module"]
    if not isinstance(reference, str):
        raise SpecError("ansatz.module", f"must be 'path/to/file.py:Name' or 'package.module:Name'; got {reference!r}")
    kw = an.get("kwargs", {}) or {}
    if not isinstance(kw, dict) or not all(isinstance(k, str) for k in kw):
        raise SpecError("ansatz.kwargs", f"must be a mapping of keyword arguments; got {kw!r}")
    kwargs = tuple(sorted((k, _freeze(v, f"ansatz.kwargs.{k}")) for k, v in kw.items()))
    try:
        resolved = plugin.resolve(reference)
        signature = plugin.inspect(resolved, {k: _thaw(v) for k, v in kwargs}, n_sites)
    except plugin.PluginError as err:
        raise SpecError("ansatz.module", f"{reference}: {err}") from None
    digest = plugin.source_sha256(resolved.source)
    if "source_sha256" in an and an["source_sha256"] != digest:
        raise SpecError(
            "ansatz.source_sha256",
            f"{resolved.source} changed since this spec was written (it was {an['source_sha256']!r}, it is {digest!r}): "
            "rerun the point from its study, or restore the file",
        )
    name = an.get("name", reference.split(":")[1])
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
        raise SpecError("ansatz.name", f"a plug-in's label must be letters, digits and _.+-; got {name!r}")
    parametrization = _choice(an.get("parametrization", "direct"), "ansatz.parametrization", PARAMETRIZATIONS)
    if parametrization == "amplitude_phase" and signature.param_dtype not in REAL_DTYPES:
        raise SpecError(
            "ansatz.parametrization", f"amplitude_phase needs real parameters; {reference} has {signature.param_dtype}"
        )
    return AnsatzSpec(
        name=name,
        alpha=0.0,
        dtype=signature.param_dtype,
        activation="",
        init_scale=0.0,
        parametrization=parametrization,
        module=reference,
        kwargs=kwargs,
        source_sha256=digest,
    )


# Bounds on what a spec or study file may hold, checked before anything reads its values: a 1 KB
# YAML "alias bomb" expands to billions of values, and deep nesting exhausts the stack.
MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 100_000
MAX_DEPTH = 32
# YAML 1.1 reads 1e-3 (no dot) as a string; researchers write it as a number.
FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """Safe YAML with 1e-3 a number and duplicate keys refused (the last would silently win)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key) if isinstance(key, (str, int, float, bool)) else None
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_WITHOUT_DOT, list("-+0123456789"))


def check_bounds(data: Any, where: str) -> None:
    """SpecError naming ``where`` when data nests deeper than MAX_DEPTH or holds more than MAX_VALUES
    values with its aliases expanded."""
    budget = [MAX_VALUES]

    def walk(x: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SpecError(where, f"nests deeper than {MAX_DEPTH} levels")
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecError(where, f"holds more than {MAX_VALUES} values once its aliases are expanded (an alias bomb?)")
        children = x.values() if isinstance(x, dict) else x if isinstance(x, list) else ()
        for child in children:
            walk(child, depth + 1)

    walk(data, 0)


def load_yaml(text: str, where: str = "--spec"):
    """One YAML reading for point specs, quench specs and studies (SpecError naming ``where``)."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise SpecError(where, f"not valid YAML: {err}") from None
    except RecursionError:
        raise SpecError(where, f"nests deeper than {MAX_DEPTH} levels") from None
    check_bounds(data, where)
    return data


def read_yaml_file(path: str | Path, where: str = "--spec") -> Any:
    """The content of a YAML file: at most MAX_FILE_BYTES of UTF-8 (SpecError naming ``where``)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(where, f"no such file: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SpecError(where, f"{path} has {size} bytes; a spec or study file may have up to {MAX_FILE_BYTES}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(where, f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8") from None
    return load_yaml(text, where)


def read_spec_file(path: str | Path) -> Any:
    """The mapping in a YAML spec file (SpecError naming --spec if it is missing, too large, not
    UTF-8, not YAML, or hostile)."""
    return read_yaml_file(path, "--spec")


def load_spec(path: str | Path) -> PointSpec:
    """Read and validate a YAML spec file."""
    return parse_spec(read_spec_file(path))
