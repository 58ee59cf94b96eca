"""Study expansion and validation (nqs_sweep.study), without Snakemake."""

import copy
from pathlib import Path

import pytest
import yaml

from nqs_sweep.study import StudyError, expand_study

BASE = {
    "study": "s1",
    "defaults": {
        "model": {"name": "tfim", "J": 1.0},
        "lattice": {"kind": "chain", "pbc": True},
        "ansatz": {"name": "rbm"},
        "sampler": {"n_samples": 64, "n_chains": 8},
    },
    "grid": {"model.h": [0.5, 1.0], "lattice.L": [6, 8], "ansatz.alpha": [1, 2]},
}


def study(**changes):
    s = copy.deepcopy(BASE)
    s.update(changes)
    return s


def test_grid_is_a_cartesian_product_with_readable_paths():
    st = expand_study(BASE)
    assert len(st.points) == 8
    paths = {p.path for p in st.points}
    assert "model~tfim/J~1.0/h~0.5/lattice~chain/L~6/ansatz~rbm/alpha~1/seed~0" in paths
    assert all(p.spec.study == "s1" for p in st.points)


def test_exact_references_are_shared_by_points_with_the_same_model_and_lattice():
    st = expand_study(BASE)
    assert len(st.references) == 4  # 2 fields x 2 sizes; widths share them
    by_ref = {}
    for p in st.points:
        by_ref.setdefault(p.reference, []).append(p.spec.ansatz.alpha)
    assert all(sorted(v) == [1.0, 2.0] for v in by_ref.values())


def test_references_only_where_the_dimension_allows():
    # Open chains: the periodic Ising chain has free-fermion references at any size.
    base = copy.deepcopy(BASE)
    base["defaults"]["lattice"]["pbc"] = False
    st = expand_study({**base, "exact": {"max_dim": 2**6}})
    assert {p.spec.lattice.L for p in st.points if p.reference} == {6}
    assert all(p.reference is None for p in st.points if p.spec.lattice.L == 8)


def test_explicit_points_merge_over_defaults_and_a_new_model_starts_fresh():
    st = expand_study(
        study(
            grid=None,
            points=[{"model": {"h": 2.0}, "lattice": {"L": 10}}, {"model": {"name": "heisenberg"}, "lattice": {"L": 6}}],
        )
    )
    a, b = (p.spec for p in st.points)
    assert a.model.coupling("h") == 2.0 and a.model.coupling("J") == 1.0 and a.lattice.L == 10
    assert b.model.name == "heisenberg" and dict(b.model.couplings) == {"J": 1.0}


def test_several_grids_and_points_combine():
    st = expand_study(
        study(grid=[{"lattice.L": [6]}, {"lattice.L": [8], "ansatz.alpha": [1, 2]}], points=[{"lattice": {"L": 10}}])
    )
    assert sorted((p.spec.lattice.L, p.spec.ansatz.alpha) for p in st.points) == [(6, 1.0), (8, 1.0), (8, 2.0), (10, 1.0)]


def test_points_differing_in_a_solver_setting_get_it_in_their_path_and_no_other_point_is_renamed():
    st = expand_study(study(grid=[{"lattice.L": [6]}, {"lattice.L": [8], "optimizer.n_iter": [10, 20]}]))
    paths = sorted(p.path for p in st.points)
    assert paths[0].endswith("L~6/ansatz~rbm/alpha~1/seed~0")
    assert [p.rsplit("/", 1)[1] for p in paths[1:]] == ["optimizer_n_iter~10", "optimizer_n_iter~20"]


@pytest.mark.parametrize(
    "changes,field,words",
    [
        ({"defaults": {**BASE["defaults"], "model": {"name": "potts"}}}, "defaults.model.name", "tfim"),
        ({"grid": {"lattice.L": [6], "model.name": ["tfim", "hubbard"]}}, "grid.model.name", "heisenberg"),
        ({"colour": "red"}, "colour", "unknown key"),
        ({"defaults": {**BASE["defaults"], "ansatz": {"name": "rbm", "width": 2}}}, "defaults.ansatz.width", "unknown key"),
        ({"grid": {"lattice.L": []}}, "grid.lattice.L", "non-empty"),
        ({"grid": {"lattice.L": [6], "ansatz.alpha": [0]}}, "grid.ansatz.alpha", "> 0"),
        ({"grid": {"lattice.L": [6], "ansatz.alpha": [-1]}}, "grid.ansatz.alpha", "> 0"),
        ({"grid": {"lattice.L": [1]}}, "grid.lattice.L", ">= 2"),
        ({"grid": {"lattice.L": [6, 6]}}, "grid", "duplicate"),
        ({"study": "my study"}, "study", "identifier"),
        ({"study": "../escape"}, "study", "identifier"),
        ({"study": None}, "study", "identifier"),
        ({"exact": {"max_dim": -1}}, "exact.max_dim", "integer"),
    ],
    ids=[
        "unknown-model",
        "unknown-model-in-grid",
        "unknown-top-key",
        "unknown-spec-key",
        "empty-axis",
        "zero-width",
        "negative-width",
        "L-below-2",
        "duplicate-points",
        "name-with-space",
        "name-with-path",
        "name-missing",
        "bad-exact-limit",
    ],
)
def test_bad_studies_are_refused_naming_the_field(changes, field, words):
    with pytest.raises(StudyError) as err:
        expand_study(study(**changes))
    assert err.value.field.startswith(field), str(err.value)
    assert words in str(err.value)


def test_an_L_the_sign_rule_cannot_take_is_refused():
    s = study(grid={"lattice.L": [4, 5]})
    s["defaults"] = {**s["defaults"], "model": {"name": "heisenberg"}, "marshall_sign": True}
    with pytest.raises(StudyError) as err:
        expand_study(s)
    assert err.value.field == "defaults.marshall_sign" and "bipartite" in str(err.value) and "L=5" in str(err.value)


def test_adding_a_point_renames_no_existing_point():
    one = study(grid={"lattice.L": [6]})
    before = {p.path for p in expand_study(one).points}
    after = {p.path for p in expand_study({**one, "points": [{"lattice": {"L": 6}, "optimizer": {"n_iter": 80}}]}).points}
    assert before < after
    (new,) = after - before
    assert new.endswith("/optimizer_n_iter~80")


QUENCHES = {  # a sweep of its own over the study defaults (it does not inherit the study's grid)
    "defaults": {
        "lattice": {"L": 6},
        "ansatz": {"dtype": "complex128"},
        "initial": {"kind": "ground_state", "model": {"h": 0.5}},
        "dynamics": {"kind": "real", "t_final": 1.0, "dt": 0.01},
    },
    "grid": {"ansatz.alpha": [1, 2], "initial.model.h": [0.5, 2.0]},
}


def test_quenches_expand_and_bring_their_initial_ground_states():
    st = expand_study(
        study(grid={"lattice.L": [6]}, defaults={**BASE["defaults"], "model": {"name": "tfim", "h": 1.0}}, quenches=QUENCHES)
    )
    assert len(st.quenches) == 4
    paths = [q.path for q in st.quenches]
    assert len(set(paths)) == 4 and all("/initial~ground_state/h0~" in p for p in paths)
    # the initial ground states (h0 0.5 and 2, alpha 1 and 2, L from the defaults) are points
    initial = {q.initial_point for q in st.quenches}
    assert initial <= {p.path for p in st.points} and len(initial) == 4
    for q in st.quenches:
        init = st.point(q.initial_point).spec
        assert init.ansatz == q.spec.point.ansatz and dict(init.model.couplings)["h"] == q.spec.initial.model_dict()["h"]
    assert all(q.exact for q in st.quenches)


def test_quench_only_study_has_no_default_point():
    st = expand_study({"study": "q", "defaults": {**BASE["defaults"], "lattice": {"kind": "chain", "L": 6}}, "quenches": {
        "defaults": {**QUENCHES["defaults"], "initial": {"kind": "product", "direction": "x"}}}})  # fmt: skip
    assert st.points == () and len(st.quenches) == 1 and st.quenches[0].initial_point is None


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"defaults": {"dynamics": {"kind": "real", "t_final": 1.0, "dt": 0.0}}}, "quenches.defaults.dynamics.dt"),
        ({"grid": {"dynamics.integrator": ["rk4", "rk45"]}}, "quenches.grid.dynamics.integrator"),
        ({"grid": {"initial.model.h": ["low"]}}, "quenches.grid.initial.model.h"),
        ({"grid": {"dynamics.regularization.snr_threshold": [-1.0]}}, "quenches.grid.dynamics.regularization"),
        ({"grid": {"ansatz.alpha": [1, 1]}}, "quenches.grid"),
        ({"colour": "red"}, "quenches"),
    ],
)
def test_bad_quenches_are_refused_naming_the_field(patch, field):
    quenches = {**copy.deepcopy(QUENCHES), **patch}
    if "defaults" in patch:
        quenches["defaults"] = {**QUENCHES["defaults"], **patch["defaults"]}
    with pytest.raises(StudyError) as err:
        expand_study(study(grid={"lattice.L": [6]}, quenches=quenches))
    assert err.value.field.startswith(field), str(err.value)


def test_periodic_ising_chains_have_references_past_exact_diagonalisation():
    st = expand_study(study(exact={"max_dim": 2**6}))
    assert all(p.reference is not None for p in st.points)


HEISENBERG_8 = {
    "study": "pub",
    "exact": {"max_dim": 64},  # the zero-magnetisation sector of 8 sites has 70 states
    "defaults": {
        "model": {"name": "heisenberg", "J": 1.0},
        "lattice": {"kind": "chain", "L": 8, "pbc": True},
        "hilbert": {"sector": "zero_magnetization"},
        "ansatz": {"name": "rbm"},
        "sampler": {"n_samples": 64, "n_chains": 8, "move": "exchange"},
    },
    "grid": {"ansatz.alpha": [1, 2]},
    "published": [
        {
            "model": {"name": "heisenberg", "J": 1.0},
            "lattice": {"kind": "chain", "L": 8},
            "energy_per_site": -1.8,
            "source": "test",
        }
    ],
}


def test_published_references_cover_points_past_exact_diagonalisation():
    st = expand_study(HEISENBERG_8)
    assert all(p.reference is None for p in st.points)
    (row,) = st.published  # one reference, shared by both widths
    assert row["exact_energy"] == pytest.approx(-1.8 * 8)
    assert (row["model"], row["L"], row["sector"], row["method"], row["source"]) == (
        "heisenberg",
        8,
        "zero_magnetization",
        "published",
        "test",
    )


@pytest.mark.parametrize(
    "entry, field, words",
    [
        ({"lattice": {"kind": "chain", "L": 10}}, "published[0]", "matches no point"),
        ({"model": {"name": "heisenberg", "J": 2.0}}, "published[0]", "matches no point"),
        ({"energy_per_site": float("nan")}, "published[0].energy_per_site", "finite"),
        ({"error": -1.0}, "published[0].error", ">= 0"),
        ({"source": " "}, "published[0].source", "where the value comes from"),
        ({"model": {"name": "ising"}}, "published[0].model.name", "tfim"),
        ({"units": "S"}, "published[0]", "keys"),
    ],
)
def test_bad_published_references_are_refused_naming_the_field(entry, field, words):
    st = copy.deepcopy(HEISENBERG_8)
    st["published"][0].update(entry)
    with pytest.raises(StudyError) as err:
        expand_study(st)
    assert err.value.field == field and words in str(err.value)


def test_a_grid_key_may_name_a_whole_section():
    """A replaced model takes nothing from the defaults' model (J = 2, h = 3 there); a dotted key
    into a replaced section applies to each point's own copy."""
    base = copy.deepcopy(BASE)
    base["defaults"]["model"] = {"name": "tfim", "J": 2.0, "h": 3.0}
    st = expand_study(
        {
            **base,
            "grid": [
                {"model": [{"name": "tfim", "h": 0.5}, {"name": "heisenberg"}], "lattice": [{"kind": "chain", "L": 6}]},
                {"model": [{"name": "tfim"}], "model.h": [0.1, 0.2], "lattice.L": [8]},
            ],
        }
    )
    got = sorted((p.spec.model.name, sorted(p.spec.model.couplings), p.spec.lattice.L) for p in st.points)
    assert got == [
        ("heisenberg", [("J", 1.0)], 6),
        ("tfim", [("J", 1.0), ("h", 0.1)], 8),
        ("tfim", [("J", 1.0), ("h", 0.2)], 8),
        ("tfim", [("J", 1.0), ("h", 0.5)], 6),
    ]


def test_two_published_references_for_one_system_are_refused():
    st = copy.deepcopy(HEISENBERG_8)
    st["published"].append({**st["published"][0], "energy_per_site": -1.7})
    with pytest.raises(StudyError) as err:
        expand_study(st)
    assert err.value.field == "published[1]" and "second reference" in str(err.value)


def test_points_setting_a_later_field_back_to_its_default_get_their_own_path():
    """parametrization and snapshot_every leave the spec text at their defaults; under defaults
    that set them, a point at the default still differs from the defaults, and says so in its path."""
    config = {
        "study": "later",
        "defaults": {
            "model": {"name": "tfim"},
            "lattice": {"kind": "chain", "L": 6},
            "ansatz": {"name": "rbm", "parametrization": "amplitude_phase"},
            "optimizer": {"n_iter": 20},
            "snapshot_every": 5,
        },
        "grid": {"ansatz.parametrization": ["direct", "amplitude_phase"], "snapshot_every": [0, 5]},
    }
    paths = [p.path for p in expand_study(config).points]
    assert len(set(paths)) == 4
    assert sum("snapshot_every~0" in p for p in paths) == 2 and sum("ansatz_parametrization~direct" in p for p in paths) == 2


def test_points_in_a_symmetry_sector_get_their_sectors_reference():
    """A grid over the momentum of a projected network gives each point the reference of its own
    sector (its path ends in the quantum numbers); a point in no sector keeps the plain one."""
    from nqs_sweep.api import exact_table
    from nqs_sweep.models.projection import plan
    from nqs_sweep.spec import parse_spec

    study = expand_study(
        {
            "study": "sectors",
            "defaults": {
                "model": {"name": "heisenberg"},
                "lattice": {"kind": "chain", "L": 6},
                "ansatz": {"name": "rbm", "alpha": 1},
                "sampler": {"kind": "exact"},
                "symmetry": {"project": "train"},
            },
            "grid": {"symmetry.momentum": [0, 3]},
            "points": [{"symmetry": None}],
        }
    )
    refs = sorted({p.reference for p in study.points})
    assert len(refs) == 3
    assert any(r.endswith("symmetry~k0") for r in refs) and any(r.endswith("symmetry~k3") for r in refs)
    by_ref = {p.reference: p.spec for p in study.points}
    for ref, raw in study.references.items():
        table = exact_table(parse_spec(raw))
        assert table["symmetry"].iloc[0] == plan(by_ref[ref]).label(6)
    energies = {r: exact_table(parse_spec(study.references[r]))["exact_energy"].iloc[0] for r in refs}
    assert sorted(round(e, 6) for e in energies.values()) == [-11.211103, -11.211103, -8.472136]


def test_points_set_apart_by_a_setting_carry_it_as_their_variant():
    """A grid over a setting outside the coordinates (the learning rate) gives each point the
    setting in its path and as its variant, which the tables and the figures' labels carry."""
    from nqs_sweep.study import point_variant
    from nqs_sweep.tables.aggregate import with_variants

    study = expand_study(
        {
            "study": "lr",
            "defaults": {"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 4}, "ansatz": {"name": "rbm"}},
            "grid": {"optimizer.learning_rate": [0.01, 0.02]},
        }
    )
    variants = {p.spec.spec_hash: point_variant(p) for p in study.points}
    assert sorted(variants.values()) == ["", "optimizer_learning_rate~0.02"]
    import pandas as pd

    table = with_variants(pd.DataFrame({"spec_hash": list(variants), "ansatz": "rbm"}), variants)
    from nqs_sweep.figures.plots import named_networks

    assert sorted(named_networks(table)["ansatz"]) == ["rbm", "rbm, optimizer_learning_rate=0.02"]


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "config" / "studies").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_study_expands(path):
    """Each study in config/studies parses and expands (every point's spec checked) without compute:
    a field renamed in the parser cannot leave a shipped study broken until someone runs it."""
    st = expand_study(yaml.safe_load(path.read_text()))
    assert st.points or st.quenches
