"""A study: defaults, a grid (Cartesian product) and/or explicit points -> point specs.

Every point is validated with :func:`parse_spec` here, before any job runs; an
error names where the bad value came from (``grid.ansatz.alpha``, ``points[2].lattice.L``,
``defaults.model.name``). Points get a readable path used as the workflow's
wildcard, e.g. ``model~tfim/J~1.0/h~0.5/lattice~chain/L~8/ansatz~rbm/alpha~2/seed~0``,
plus any other axis the study varies. Exact references are shared: one per
(model, couplings, lattice, sector), joined to every point that has it.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nqs_sweep.mc.moves import move_for_sector
from nqs_sweep.models.projection import plan, reference_dim
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.symmetry import Sector
from nqs_sweep.quench import QuenchSpec, initial_point_spec, parse_quench
from nqs_sweep.spec import FLOAT_WITHOUT_DOT, LATER_FIELDS, MAX_MESSAGE_CHARS, PointSpec, SpecError, check_bounds, parse_spec

STUDY_KEYS = ("study", "description", "defaults", "grid", "points", "exact", "published", "qgt", "sampling", "quenches")
PUBLISHED_KEYS = ("model", "lattice", "energy_per_site", "error", "source")
QUENCH_KEYS = ("defaults", "grid", "points")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The name is a directory under results/ and part of every job's paths.
MAX_STUDY_NAME = 64
DEFAULT_EXACT_MAX_DIM = 2**20


class StudyError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + f"... ({len(message) - MAX_MESSAGE_CHARS} more characters)"
        super().__init__(f"{field}: {message}")


def normalise_study(config: Any) -> Any:
    """The study as the point specs read YAML: bounded in size and depth (StudyError otherwise), and
    1e-3 a number. Snakemake loads --configfile with YAML 1.1 rules, where 1e-3 is a string."""
    try:
        check_bounds(config, "study")
    except SpecError as err:
        raise StudyError(err.field, str(err).split(": ", 1)[1]) from None

    def numbers(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: numbers(v) for k, v in x.items()}
        if isinstance(x, list):
            return [numbers(v) for v in x]
        if isinstance(x, str) and FLOAT_WITHOUT_DOT.match(x):
            return float(x)
        return x

    return numbers(config)


@dataclass(frozen=True)
class StudyPoint:
    path: str
    spec: PointSpec
    reference: str | None  # path of the exact reference, when one is computed


@dataclass(frozen=True)
class StudyQuench:
    path: str
    spec: QuenchSpec
    initial_point: str | None  # path of the ground-state point that starts it
    exact: bool  # exact dynamics at this size (the study's exact.max_dim)

    @property
    def slug(self) -> str:
        return self.spec.spec_hash[:10]


@dataclass(frozen=True)
class Study:
    name: str
    points: tuple[StudyPoint, ...]
    references: dict  # reference path -> raw spec that defines it
    qgt: dict | None = None  # {'n_samples': int | None} when the study asks for QGT spectra
    quenches: tuple[StudyQuench, ...] = ()
    sampling: dict | None = None  # {'n_samples': int | None, 'repeats': int} when the study measures sampling efficiency
    # Reference energies from the literature for points past exact diagonalisation: rows of the
    # exact table's columns (model coordinates, exact_energy, ...), with method 'published'.
    published: tuple[dict, ...] = ()

    def point(self, path: str) -> StudyPoint:
        return self._by_path[path]

    def quench(self, path: str) -> StudyQuench:
        return {q.path: q for q in self.quenches}[path]

    @cached_property
    def _by_path(self) -> dict[str, StudyPoint]:
        return {p.path: p for p in self.points}


def _set_dotted(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise StudyError(f"grid.{dotted}", f"{k} is not a mapping in the defaults")
    d[keys[-1]] = copy.deepcopy(value)  # a whole-section value must not be shared between points


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "model" else copy.deepcopy(v)
    return out


def _merge_model(base: dict, over: dict) -> dict:
    """A point naming another model starts its couplings afresh (tfim's h is not xxz's)."""
    merged = _merge(base, over)
    if isinstance(over.get("model"), dict) and isinstance(base.get("model"), dict):
        b, o = base["model"], over["model"]
        merged["model"] = {**b, **o} if o.get("name", b.get("name")) == b.get("name") else dict(o)
    if isinstance(over.get("ansatz"), dict) and isinstance(base.get("ansatz"), dict):
        # a point that names a built-in network under plug-in defaults (or a plug-in under
        # built-in ones) takes its ansatz whole: the two kinds share no fields
        b, o = base["ansatz"], over["ansatz"]
        if ("module" in o) != ("module" in b) and ("module" in o or "name" in o):
            merged["ansatz"] = dict(o)
    return merged


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)) and re.fullmatch(r"[A-Za-z0-9._+-]+", str(value)):
        return str(value)
    blob = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("learning_rate", "diag_shift"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _grid_list(grid: Any) -> list[dict]:
    if grid is None:
        return []
    grids = grid if isinstance(grid, list) else [grid]
    for gi, g in enumerate(grids):
        where = f"grid[{gi}]" if isinstance(grid, list) else "grid"
        if not isinstance(g, dict) or not g:
            raise StudyError(where, "must be a non-empty mapping of dotted spec keys to lists of values")
        for key, values in g.items():
            if not isinstance(values, list) or not values:
                raise StudyError(f"{where}.{key}", "must be a non-empty list of values")
    return grids


def _candidates(config: dict) -> list[tuple[str, dict, set[str]]]:
    """(source, raw spec, keys set by that source) for every point before validation."""
    defaults = config.get("defaults") or {}
    out = []
    for gi, g in enumerate(_grid_list(config.get("grid"))):
        keys = list(g)
        for combo in itertools.product(*(g[k] for k in keys)):
            raw = copy.deepcopy(defaults)
            for k, v in zip(keys, combo):
                _set_dotted(raw, k, v)
            out.append((f"grid[{gi}]" if isinstance(config.get("grid"), list) else "grid", raw, set(keys)))
    points = config.get("points")
    if points is not None:
        if not isinstance(points, list) or not points:
            raise StudyError("points", "must be a non-empty list of partial point specs")
        for i, p in enumerate(points):
            if not isinstance(p, dict):
                raise StudyError(f"points[{i}]", "must be a mapping (a partial point spec)")
            out.append((f"points[{i}]", _merge_model(defaults, p), set(_flatten(p))))
    if not out and "quenches" not in config:
        out.append(("defaults", copy.deepcopy(defaults), set()))
    return out


def _error_field(source: str, set_keys: set[str], field: str) -> str:
    if any(field == k or field.startswith(k + ".") or k.startswith(field + ".") for k in set_keys):
        return f"{source}.{field}"
    return f"defaults.{field}"


def _coordinates(spec: PointSpec) -> list[tuple[str, Any]]:
    alpha = spec.ansatz.alpha
    return [
        ("model", spec.model.name),
        *spec.model.couplings,
        ("lattice", spec.lattice.kind),
        ("L", spec.lattice.L),
        ("ansatz", spec.ansatz.name),
        # a plug-in has no alpha: its kwargs name it, as settings that differ from the defaults
        *([] if spec.ansatz.module else [("alpha", int(alpha) if alpha == int(alpha) else alpha)]),
        ("seed", spec.seed),
    ]


def point_variant(point: StudyPoint) -> str:
    """The settings that set the point apart from the study defaults at its coordinates (its path
    past the coordinates, e.g. 'optimizer_learning_rate~0.02'), '' for none. Figures label lines
    with it, so points that differ only there are not drawn as one line."""
    return "/".join(point.path.split("/")[len(_coordinates(point.spec)) :])


def point_path(spec: PointSpec, defaults: dict) -> str:
    """The point's coordinates, then every resolved setting in which it differs from the
    study defaults at the same coordinates. It depends on the defaults and the point alone,
    so adding or changing other points never renames this one."""
    parts = _coordinates(spec)
    reference = copy.deepcopy(defaults)
    reference["model"] = {"name": spec.model.name, **dict(spec.model.couplings)}
    reference.setdefault("lattice", {}).update(kind=spec.lattice.kind, L=spec.lattice.L)
    if spec.ansatz.module:
        reference["ansatz"] = {**(reference.get("ansatz") or {}), "module": spec.ansatz.module, "name": spec.ansatz.name}
    else:
        reference.setdefault("ansatz", {}).update(name=spec.ansatz.name, alpha=spec.ansatz.alpha)
    reference["seed"] = spec.seed
    try:
        base = _flatten(parse_spec({**reference, "study": spec.study}).to_raw())
        mine = _flatten(spec.to_raw())
        # to_raw leaves later fields out at their defaults: a point that sets one back to its
        # default, under defaults that do not, differs by a key it does not have.
        later = {".".join(filter(None, (section, key))): default for section, key, default in LATER_FIELDS}
        for k in base.keys() - mine.keys():
            mine[k] = later.get(k)
        parts += [(k.replace(".", "_"), mine[k]) for k in sorted(mine) if mine[k] != base.get(k)]
    except SpecError:  # the defaults alone are not a valid point here: name the settings by hash
        parts.append(("cfg", spec.spec_hash[:8]))
    return "/".join(f"{k}~{_label(v)}" for k, v in parts)


def reference_path(spec: PointSpec) -> str:
    parts = [*_coordinates(spec)[: 2 + len(spec.model.couplings)], ("L", spec.lattice.L)]
    parts += [("pbc", spec.lattice.pbc), ("sector", spec.sector)]
    sector = plan(spec).sector
    if not sector.is_empty:  # the symmetry sector's own reference; points in none keep their paths
        parts.append(("symmetry", _sector_slug(sector)))
    return "/".join(f"{k}~{_label(v)}" for k, v in parts)


def _sector_slug(sector: Sector) -> str:
    """k0.3_even_flip-1: a path-safe name of the quantum numbers."""
    parts = []
    if sector.momentum is not None:
        parts.append("k" + ".".join(str(m) for m in sector.momentum))
    if sector.point_group is not None:
        parts.append(sector.point_group)
    if sector.spin_flip is not None:
        parts.append(f"flip{sector.spin_flip:+d}")
    return "_".join(parts)


def reference_spec(spec: PointSpec) -> dict:
    """The smallest spec that defines an exact reference: model, lattice, sector, and the symmetry
    sector the point's network is in (as a projected unsymmetric network, which is in all of it)."""
    ref = {
        "model": {"name": spec.model.name, **dict(spec.model.couplings)},
        "lattice": {"kind": spec.lattice.kind, "L": spec.lattice.L, "pbc": spec.lattice.pbc},
        "hilbert": {"sector": spec.sector},
        "ansatz": {"name": "rbm"},
        "sampler": {"move": move_for_sector(spec.sector)},
    }
    sector = plan(spec).sector
    if not sector.is_empty:
        if spec.marshall_sign:  # the characters are those of the network's basis
            ref["marshall_sign"] = True
        ref["symmetry"] = {
            "momentum": None if sector.momentum is None else list(sector.momentum),
            "point_group": sector.point_group,
            "spin_flip": sector.spin_flip,
            "project": "train",
        }
    return ref


def expand_study(config: Any) -> Study:
    """Validate a study mapping and expand it into points. Raises StudyError."""
    config = normalise_study(config)
    if not isinstance(config, dict):
        raise StudyError("study", f"the study file must be a mapping with keys {', '.join(STUDY_KEYS)}")
    for key in config:
        if key not in STUDY_KEYS:
            raise StudyError(str(key), f"unknown key; allowed: {', '.join(STUDY_KEYS)}")
    name = config.get("study")
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or len(name) > MAX_STUDY_NAME:
        raise StudyError(
            "study",
            f"must be a plain identifier of at most {MAX_STUDY_NAME} letters, digits, underscores (a path); got {name!r}",
        )
    exact = config.get("exact") or {}
    if not isinstance(exact, dict) or set(exact) - {"max_dim"}:
        raise StudyError("exact", "allowed keys: max_dim")
    max_dim = exact.get("max_dim", DEFAULT_EXACT_MAX_DIM)
    from nqs_sweep.physics.exact import MAX_EXACT_DIM

    if isinstance(max_dim, bool) or not isinstance(max_dim, int) or not 0 <= max_dim <= MAX_EXACT_DIM:
        raise StudyError("exact.max_dim", f"must be an integer in [0, {MAX_EXACT_DIM}]; got {max_dim!r}")

    qgt = config.get("qgt")
    if qgt is not None:
        if not isinstance(qgt, dict) or set(qgt) - {"n_samples"}:
            raise StudyError("qgt", "allowed keys: n_samples (an integer, or null for the exact enumeration where small)")
        n = qgt.get("n_samples")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise StudyError("qgt.n_samples", f"must be a positive integer or null; got {n!r}")
        qgt = {"n_samples": n}
    sampling = _sampling_section(config.get("sampling"))

    parsed = []
    for source, raw, set_keys in _candidates(config):
        raw = {**raw, "study": name}
        try:
            parsed.append((source, raw, parse_spec(raw)))
        except SpecError as err:
            field = _error_field(source, set_keys, err.field)
            raise StudyError(field, str(err).split(": ", 1)[1]) from None

    seen: dict[str, str] = {}
    for source, _, spec in parsed:
        if spec.spec_hash in seen:
            raise StudyError(source, f"duplicate point: the same spec as {seen[spec.spec_hash]} (hash {spec.spec_hash})")
        seen[spec.spec_hash] = source

    defaults = config.get("defaults") or {}
    paths = [point_path(spec, defaults) for _, _, spec in parsed]
    if len(set(paths)) != len(paths):  # only points with equal specs collide, and those were refused above
        raise StudyError("grid", "two points share a path")

    quenches = _quenches(config, name, defaults, max_dim)
    # The ground states that start quenches are points too (computed once, shared).
    for q in quenches:
        if q.spec.initial.kind == "ground_state":
            init = initial_point_spec(q.spec)
            if init.spec_hash not in seen:
                seen[init.spec_hash] = "quenches"
                parsed.append(("quenches", {}, init))
                paths.append(q.initial_point)

    from nqs_sweep.physics.exact import has_closed_form

    points, references = [], {}
    for (_, _, spec), path in zip(parsed, paths):
        ref = None
        if reference_dim(spec) <= max_dim or has_closed_form(spec):
            ref = reference_path(spec)
            references.setdefault(ref, reference_spec(spec))
        points.append(StudyPoint(path, spec, ref))
    published = _published(config.get("published"), [p.spec for p in points if p.reference is None])
    by_hash = {p.spec.spec_hash: p.path for p in points}
    quenches = [
        StudyQuench(q.path, q.spec, by_hash[initial_point_spec(q.spec).spec_hash] if q.initial_point else None, q.exact)
        for q in quenches
    ]
    if sampling is not None and sampling["n_samples"] is not None:
        widest = max(points, key=lambda p: p.spec.sampler.n_chains)
        if sampling["n_samples"] < widest.spec.sampler.n_chains:
            raise StudyError(
                "sampling.n_samples",
                f"must be >= every point's sampler.n_chains ({widest.spec.sampler.n_chains} at {widest.path}); "
                f"got {sampling['n_samples']}",
            )
    return Study(name, tuple(points), references, qgt, tuple(quenches), sampling, published)


def _published(raw: Any, unreferenced: list[PointSpec]) -> tuple[dict, ...]:
    """`published: [{model, lattice, energy_per_site, error, source}]`: literature energies (in
    this tool's Pauli units) for the points no exact reference is computed for. Matched on model,
    couplings, lattice kind, L and boundary; an entry that matches no such point is refused (a
    typo in L would otherwise drop the reference silently)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise StudyError("published", f"must be a non-empty list of mappings with keys {', '.join(PUBLISHED_KEYS)}")
    from nqs_sweep.tables.columns import model_coordinates

    rows: dict[str, dict] = {}
    for i, entry in enumerate(raw):
        where = f"published[{i}]"
        if (
            not isinstance(entry, dict)
            or set(entry) - set(PUBLISHED_KEYS)
            or not {"model", "lattice", "energy_per_site", "source"} <= set(entry)
        ):
            raise StudyError(
                where,
                f"must be a mapping with keys model, lattice, energy_per_site, source (and optionally error); got {entry!r}",
            )
        try:
            ref = parse_spec({"model": entry["model"], "lattice": entry["lattice"], "ansatz": {"name": "rbm"}})
        except SpecError as err:
            raise StudyError(f"{where}.{err.field}", str(err).split(": ", 1)[1]) from None
        for key in ("energy_per_site", "error"):
            value = entry.get(key, 0.0)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or (key == "error" and value < 0)
            ):
                raise StudyError(f"{where}.{key}", f"must be a finite number{' >= 0' if key == 'error' else ''}; got {value!r}")
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise StudyError(f"{where}.source", "must name where the value comes from (a non-empty string)")
        matches = [s for s in unreferenced if s.model == ref.model and s.lattice == ref.lattice]
        if not matches:
            raise StudyError(
                where,
                f"matches no point of the study that lacks an exact reference ({ref.model.name} "
                f"{dict(ref.model.couplings)} on {ref.lattice.kind} L={ref.lattice.L} pbc={ref.lattice.pbc})",
            )
        for spec in matches:
            coords = model_coordinates(spec)
            if reference_path(spec) in rows and rows[reference_path(spec)]["_entry"] != i:
                raise StudyError(where, f"a second reference for {reference_path(spec)}; give each system one")
            rows[reference_path(spec)] = {
                **coords,
                "exact_energy": float(entry["energy_per_site"]) * spec.n_sites,
                "exact_energy_per_site": float(entry["energy_per_site"]),
                "exact_energy_error": float(entry.get("error", 0.0)) * spec.n_sites,
                "method": "published",
                "source": entry["source"],
                "_entry": i,
            }
    return tuple({k: v for k, v in rows[path].items() if k != "_entry"} for path in sorted(rows))


def _sampling_section(raw: Any) -> dict | None:
    """`sampling: {n_samples, repeats}` (either may be left out; `sampling: {}` takes the defaults)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"n_samples", "repeats"}:
        raise StudyError("sampling", "allowed keys: n_samples (an integer, or null for each point's n_samples_eval), repeats")
    out = {"n_samples": raw.get("n_samples"), "repeats": raw.get("repeats", 3)}
    for key, value in out.items():
        if (value is not None or key == "repeats") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            allowed = "a positive integer or null" if key == "n_samples" else "a positive integer"
            raise StudyError(f"sampling.{key}", f"must be {allowed}; got {value!r}")
    return out


def quench_path(q: QuenchSpec, defaults: dict) -> str:
    """The final point's path, then the quench: initial state, dynamics, and a short hash that
    keeps quenches differing only in other settings (tolerances, observables) apart."""
    ini = q.initial
    parts: list[tuple[str, Any]] = [("initial", ini.kind if ini.kind == "ground_state" else f"product_{ini.direction}")]
    if ini.kind == "ground_state":
        final = dict(q.point.model.couplings)
        model = ini.model_dict()
        if model["name"] != q.point.model.name:
            parts.append(("from", model["name"]))
        parts += [(f"{k}0", v) for k, v in model.items() if k != "name" and final.get(k) != v]
    dyn = q.dynamics
    parts += [("dynamics", dyn.kind), ("integrator", dyn.integrator), ("dt", dyn.dt), ("reg", dyn.regularization.kind)]
    parts.append(("q", q.spec_hash[:8]))
    return point_path(q.point, defaults) + "/" + "/".join(f"{k}~{_label(v)}" for k, v in parts)


def _quenches(config: dict, name: str, defaults: dict, max_dim: int) -> list[StudyQuench]:
    section = config.get("quenches")
    if section is None:
        return []
    if not isinstance(section, dict) or not section or set(section) - set(QUENCH_KEYS):
        raise StudyError("quenches", f"must be a mapping with keys {', '.join(QUENCH_KEYS)} (defaults: initial and dynamics)")
    qdefaults = section.get("defaults") or {}
    if not isinstance(qdefaults, dict):
        raise StudyError("quenches.defaults", "must be a mapping (initial, dynamics and any point key)")
    base = _merge_model(defaults, qdefaults)
    sub = {"defaults": base, **{k: section[k] for k in ("grid", "points") if k in section}}
    try:
        candidates = _candidates({**sub, "quenches": None}) if ("grid" in sub or "points" in sub) else [("defaults", base, set())]
    except StudyError as err:
        raise StudyError(f"quenches.{err.field}", str(err).split(": ", 1)[1]) from None
    out, seen = [], {}
    for source, raw, set_keys in candidates:
        try:
            q = parse_quench({**raw, "study": name})
        except SpecError as err:
            where = _error_field(source, set_keys, err.field)
            raise StudyError(f"quenches.{where}", str(err).split(": ", 1)[1]) from None
        if q.spec_hash in seen:
            raise StudyError(f"quenches.{source}", f"duplicate quench: the same spec as quenches.{seen[q.spec_hash]}")
        seen[q.spec_hash] = source
        init_path = point_path(initial_point_spec(q), defaults) if q.initial.kind == "ground_state" else None
        exact = hilbert.hilbert_dim(q.n_sites, q.point.sector) <= max_dim
        out.append(StudyQuench(quench_path(q, defaults), q, init_path, exact))
    return out
