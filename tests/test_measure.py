"""Measurements (nqs_sweep.measure): exact modes against dense brute force, Monte Carlo modes
against their exact values, the swap estimator's flags, the spec field, and a run that writes the
table."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.measure import MEASUREMENTS, exact_values, make_measure, table
from nqs_sweep.measure.pauli import PauliString, expectation, product
from nqs_sweep.optim.step import init_state
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import SpecError, parse_spec

SIGMA = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0, -1.0])}


def dense(ops: dict[int, str], n: int) -> np.ndarray:
    """⊗ over sites, site 0 first: the basis order of physics.hilbert (bit 0 = up = σᶻ +1)."""
    return functools.reduce(np.kron, [SIGMA[ops.get(i, "I")] for i in range(n)])


def mean(op: np.ndarray, v: np.ndarray) -> float:
    return float(np.real(np.vdot(v, op @ v)) / np.vdot(v, v).real)


def random_state(n: int, seed: int = 0, sector: str = "full") -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(2**n) + 1j * rng.standard_normal(2**n)
    if sector != "full":
        keep = np.zeros(2**n, bool)
        keep[hilbert.sector_indices(n, sector)] = True
        v = np.where(keep, v, 0)
    return v / np.linalg.norm(v)


def marshall_rotation(lattice: Lattice) -> np.ndarray:
    return dense({i: "Z" for i in np.nonzero(lattice.sublattice == 1)[0]}, lattice.n_sites)


@pytest.mark.parametrize("text", ["X0 X1", "Y0 Y1", "Z0 Z3", "X0 Y2 Z5", "Y4", "X1 X2 X3 X4"])
@pytest.mark.parametrize("marshall", [False, True])
def test_pauli_expectation_equals_dense(text, marshall):
    n = 6
    lat = Lattice("chain", n)
    v = random_state(n)
    p = PauliString.parse(text, n)
    op = dense(dict((i, o) for i, o in p.terms), n)
    # a network in the Marshall frame holds U v; the physical value is ⟨v|P|v⟩ either way
    held = marshall_rotation(lat) @ v if marshall else v
    assert expectation(p, held, n, lat.sublattice, marshall) == pytest.approx(mean(op, v), abs=1e-12)


def test_the_product_of_two_strings_is_the_dense_product():
    rng = np.random.default_rng(0)
    n = 4
    for _ in range(50):
        p, q = (PauliString.of({int(i): str(rng.choice(list("XYZ"))) for i in rng.choice(n, 3, replace=False)}) for _ in "pq")
        phase, r = product(p, q)
        assert phase in (1, -1, 1j, -1j)
        assert np.allclose(dense(dict(p.terms), n) @ dense(dict(q.terms), n), phase * dense(dict(r.terms), n))


@pytest.mark.parametrize(
    "kind, L, pbc, sector", [("chain", 8, True, "full"), ("chain", 8, False, "zero_magnetization"), ("square", 3, True, "full")]
)
def test_heisenberg_dimers_are_the_symmetrised_dense_product(kind, L, pbc, sector):
    """operator: heisenberg, D_b = σ_i · σ_j: ⟨½{D_b, D_b'}⟩ − ⟨D⟩² from dense matrices, bonds that
    share a site (r = 1 on the chain) included."""
    lattice = Lattice(kind, L, pbc)
    n, coords = lattice.n_sites, lattice.coords.astype(float)
    spec = parse_spec(
        {
            "model": {"name": "heisenberg"},
            "lattice": {"kind": kind, "L": L, "pbc": pbc},
            "hilbert": {"sector": sector},
            "ansatz": {"name": "rbm", "alpha": 1},
            "sampler": {"move": "exchange" if sector != "full" else "local"},
            "measurements": {"dimers": {"operator": "heisenberg"}},
        }
    )
    v = random_state(n, seed=3, sector=sector)
    df = table(spec, None, exact_values(spec, v, False))
    bonds = [(i, j) if (coords[j][0] - coords[i][0]) % L == 1 else (j, i) for i, j in lattice.nn_bonds]
    bonds = [b for b in bonds if lattice.kind == "chain" or coords[b[0]][1] == coords[b[1]][1]]
    d = [sum(dense({i: op, j: op}, n) for op in "XYZ") for i, j in bonds]
    d_mean = np.mean([mean(x, v) for x in d])
    by_r: dict[float, list[float]] = {}
    for a in range(len(bonds)):
        for b in range(a + 1, len(bonds)):
            delta = coords[bonds[b][0]] - coords[bonds[a][0]]
            if pbc:
                delta = (delta + L // 2) % L - L // 2
            by_r.setdefault(round(float(np.linalg.norm(delta)), 9), []).append(mean((d[a] @ d[b] + d[b] @ d[a]) / 2, v))
    expected = {f"r={r:g}": np.mean(vals) - d_mean**2 for r, vals in by_r.items() if r > 0}
    got = dict(zip(df["argument"], df["exact"]))
    assert got.keys() == expected.keys() and len(got) > 1
    for argument, value in expected.items():
        assert got[argument] == pytest.approx(value, abs=1e-10), argument
    assert any(len(b1 + b2) > len(set(b1 + b2)) for b1 in bonds for b2 in bonds if b1 != b2)  # shared sites were met


def brute_force(lattice: Lattice, v: np.ndarray) -> dict[str, dict[str, float]]:
    """Every measurement's rows written out from dense operators and the definitions."""
    n, L = lattice.n_sites, lattice.L
    coords = lattice.coords.astype(float)

    def dist(i, j):
        d = coords[j] - coords[i]
        if lattice.pbc:
            d = (d + L // 2) % L - L // 2
        return round(float(np.linalg.norm(d)), 9)

    out: dict[str, dict[str, float]] = {"correlations": {}, "structure_factor": {}, "dimers": {}, "pauli": {}, "renyi2": {}}
    for comp in ("zz", "xx", "yy"):
        by_r: dict[float, list[float]] = {}
        for i in range(n):
            for j in range(i + 1, n):
                by_r.setdefault(dist(i, j), []).append(mean(dense({i: comp[0].upper(), j: comp[0].upper()}, n), v))
        out["correlations"].update({f"{comp} r={r:g}": np.mean(vals) for r, vals in by_r.items()})
    z = [dense({i: "Z"}, n) for i in range(n)]
    momenta = [(k,) for k in range(L)] if lattice.kind == "chain" else [(kx, ky) for ky in range(L) for kx in range(L)]
    for k in momenta:
        q = 2 * np.pi * np.array(k) / L
        m_q = sum(np.exp(1j * coords[j] @ q) * z[j] for j in range(n))
        out["structure_factor"][f"q=2π({','.join(map(str, k))})/{L}"] = mean(m_q.conj().T @ m_q, v) / n
    eps = 1 - 2 * lattice.sublattice
    m_s = sum(eps[j] * z[j] for j in range(n)) / n
    out["staggered_magnetisation"] = {"m_s^2": mean(m_s @ m_s, v)}
    # bonds along x as (start, end) with end one step to the right of start, across the boundary too
    bonds = [(i, j) if (coords[j][0] - coords[i][0]) % L == 1 else (j, i) for i, j in lattice.nn_bonds]
    bonds = [b for b in bonds if lattice.kind == "chain" or coords[b[0]][1] == coords[b[1]][1]]
    d_mean = np.mean([mean(z[i] @ z[j], v) for i, j in bonds])
    by_r = {}
    for a in range(len(bonds)):
        for b in range(a + 1, len(bonds)):
            (i, j), (k, m) = bonds[a], bonds[b]
            by_r.setdefault(dist(i, k), []).append(mean(z[i] @ z[j] @ z[k] @ z[m], v))
    out["dimers"] = {f"r={r:g}": np.mean(vals) - d_mean**2 for r, vals in by_r.items() if r > 0}
    for text, ops in (("X0 X1", {0: "X", 1: "X"}), ("Y0 Z1 X3", {0: "Y", 1: "Z", 3: "X"})):
        out["pauli"][text] = mean(dense(ops, n), v)
    psi = v.reshape((2,) * n)
    for size in range(1, n // 2 + 1) if lattice.kind == "chain" else ():
        rho = np.einsum("ab,cb->ac", psi.reshape(2**size, -1), psi.reshape(2**size, -1).conj())
        label = f"sites 0-{size - 1}" if size > 1 else "site 0"
        out["renyi2"][label] = -np.log(np.real(np.trace(rho @ rho)))
    return out


ALL = {
    "correlations": {"components": ["zz", "xx", "yy"]},
    "structure_factor": {},
    "staggered_magnetisation": {},
    "dimers": {},
    "pauli": {"strings": ["X0 X1", "Y0 Z1 X3"]},
}


@pytest.mark.parametrize(
    "kind, L, pbc, sector",
    [
        ("chain", 8, True, "full"),
        ("chain", 10, True, "zero_magnetization"),
        ("chain", 7, False, "full"),
        ("square", 3, False, "full"),
    ],
)
def test_exact_modes_equal_dense_brute_force(kind, L, pbc, sector):
    lattice = Lattice(kind, L, pbc)
    n = lattice.n_sites
    measurements = {**ALL, "renyi2": {"regions": "blocks"}} if kind == "chain" else ALL
    spec = parse_spec(
        {
            "model": {"name": "heisenberg"},
            "lattice": {"kind": kind, "L": L, "pbc": pbc},
            "hilbert": {"sector": sector},
            "ansatz": {"name": "rbm", "alpha": 1},
            "sampler": {"move": "exchange" if sector != "full" else "local"},
            "measurements": measurements,
        }
    )
    v = random_state(n, seed=L, sector=sector)
    df = table(spec, None, exact_values(spec, v, False))
    expected = brute_force(lattice, v)
    for name in measurements:
        rows = df[df["measurement"] == name]
        assert len(rows) == len(expected[name]) > 0, name
        for argument, value in zip(rows["argument"], rows["exact"]):
            assert value == pytest.approx(expected[name][argument], abs=1e-10), (name, argument)


def test_renyi2_exact_on_square_regions_equals_the_partial_trace():
    lattice = Lattice("square", 3, False)
    v = random_state(9, seed=3)
    spec = parse_spec(
        {
            "model": {"name": "heisenberg"},
            "lattice": {"kind": "square", "L": 3, "pbc": False},
            "ansatz": {"name": "rbm", "alpha": 1},
            "measurements": {"renyi2": {"regions": [[0, 4, 8], [1, 2]]}},
        }
    )
    values = exact_values(spec, v, False)["renyi2"]
    for region, value in zip(([0, 4, 8], [1, 2]), values):
        rest = [i for i in range(9) if i not in region]
        m = np.transpose(v.reshape((2,) * 9), region + rest).reshape(2 ** len(region), -1)
        rho = m @ m.conj().T
        assert value == pytest.approx(-np.log(np.real(np.trace(rho @ rho))), abs=1e-10)
    assert lattice.n_sites == 9


def point(sector: str, sampler: dict, ansatz: dict | None = None, L: int = 8, marshall: bool = True, **measurements):
    move = {"move": "exchange"} if sector != "full" and sampler.get("kind", "metropolis") == "metropolis" else {}
    return parse_spec(
        {
            "model": {"name": "heisenberg"},
            "lattice": {"kind": "chain", "L": L},
            "hilbert": {"sector": sector},
            "marshall_sign": marshall,
            "ansatz": ansatz or {"name": "rbm", "alpha": 1, "dtype": "complex128", "init_scale": 0.3},
            "sampler": {**sampler, **move},
            "measurements": measurements or {**ALL, "renyi2": {}},
        }
    )


def measured(spec, key: int = 2):
    problem = build_problem(spec)
    ansatz = problem.ansatz
    state = init_state(problem, jax.random.key(1))
    estimates = make_measure(problem)(state.theta, state.chains, jax.random.key(key), problem.hyper)
    configs = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), ansatz.real_dtype)
    # jitted: op by op, every operation of the network compiled on its own (the tests that call
    # this: 86.4 s op by op, 65.8 s jitted, one run each)
    v = np.asarray(jnp.exp(jax.jit(ansatz.log_psi)(state.theta, configs)))
    return table(spec, estimates, exact_values(spec, v, spec.marshall_sign))


@pytest.mark.parametrize("sector", ["full", "zero_magnetization"])
@pytest.mark.parametrize("dimers", ["zz", "heisenberg"])
def test_the_enumeration_gives_the_exact_values_of_the_network(sector, dimers):
    """Local estimators (JAX, over the enumeration) against the vector code (numpy): independent
    implementations of the same numbers, in the Marshall frame."""
    measurements = {**ALL, "renyi2": {}, "dimers": {"operator": dimers}}
    df = measured(point(sector, {"kind": "exact"}, **measurements))
    assert np.allclose(df["value"], df["exact"], atol=1e-10, rtol=0)
    assert (df["flag"] == "").all()


@pytest.mark.parametrize(
    "sector, sampler, ansatz",
    [
        ("full", {"kind": "metropolis", "n_chains": 16, "n_samples_eval": 32768, "n_discard": 300}, None),
        ("zero_magnetization", {"kind": "metropolis", "n_chains": 16, "n_samples_eval": 32768, "n_discard": 500}, None),
        ("full", {"kind": "direct", "n_chains": 16, "n_samples_eval": 16384}, {"name": "arnn", "alpha": 1}),
        ("zero_magnetization", {"kind": "direct", "n_chains": 16, "n_samples_eval": 16384}, {"name": "arnn", "alpha": 1}),
    ],
    ids=["metropolis-full", "metropolis-zero-m", "direct-full", "direct-zero-m"],
)
def test_monte_carlo_agrees_with_exact_within_four_error_bars(sector, sampler, ansatz):
    df = measured(point(sector, sampler, ansatz))
    assert (df["flag"] == "").all() and df["value"].notna().all()
    df = df[df["error"] != 0]  # rows fixed by symmetry (S(0) in the sector) have no spread
    assert len(df) > 20 and (df["measurement"] == "renyi2").sum() == 4
    z = (df["value"] - df["exact"]).abs() / df["error"]
    assert (z < 4).all(), df[z >= 4][["measurement", "argument", "value", "error", "exact"]]


def test_the_enumeration_gives_zero_amplitude_to_configurations_of_zero_weight():
    """A state on two of the four configurations of sites 0 and 1 (s0 = s1), the rest at
    log ψ = −1000: the exact sampler gives those zero weight, and S2(site 0) of the Bell-like
    state is ln 2 exactly (not the value of the sampler's stand-in configurations)."""
    from nqs_sweep.mc.sampler import exact_sample
    from nqs_sweep.measure import base
    from nqs_sweep.measure.renyi import Renyi2
    from nqs_sweep.physics.lattice import Lattice

    lattice = Lattice("chain", 4)
    configs = jnp.asarray(hilbert.all_states(4, "full"), jnp.float64)
    log_psi = lambda theta, s: jnp.where(s[..., 0] == s[..., 1], 0.0, -1000.0) + 0j  # noqa: E731
    options = {"regions": [[0]]}

    def estimate(configs):  # jitted, as in the measurement, not op by op (2.0 s -> 0.55 s)
        sample = exact_sample(log_psi, None, configs)
        ctx = base.Context(lattice, False, False, log_psi, None, sample, sample.configs.reshape(-1, 4), sample.weights)
        return Renyi2().estimate(ctx, options, Renyi2().rows(lattice, options))

    est = jax.jit(estimate)(configs)
    assert float(est.mean[0]) == pytest.approx(np.log(2), abs=1e-12)


def test_a_diverged_network_is_flagged_not_measured_as_zero():
    from nqs_sweep.mc.sampler import Sample
    from nqs_sweep.measure import base
    from nqs_sweep.measure.renyi import Renyi2
    from nqs_sweep.physics.lattice import Lattice

    lattice = Lattice("chain", 4)
    configs = jnp.asarray(np.random.default_rng(0).choice([-1.0, 1.0], size=(4, 8, 4)))
    log_psi = lambda theta, s: jnp.full(s.shape[:-1], jnp.nan) + 0j  # noqa: E731
    options = {"regions": "blocks"}

    def estimate(configs):  # jitted, as in the measurement, not op by op (4.4 s -> 0.51 s)
        sample = Sample(configs, None, jnp.ones(()))
        flat = configs.reshape(-1, 4)
        ctx = base.Context(lattice, False, False, log_psi, None, sample, flat, jnp.full(32, 1 / 32))
        return Renyi2().estimate(ctx, options, Renyi2().rows(lattice, options))

    est = jax.jit(estimate)(configs)
    assert np.isnan(np.asarray(est.mean)).all() and (np.asarray(est.flag) == base.FLAGS.index("swap mean not finite")).all()


def test_the_swap_estimator_flags_a_variance_it_cannot_resolve():
    """A random complex autoregressive network on 16 sites, sampled directly (exact, independent
    samples): its half-chain S2 is 2.6 nats, so Tr ρ² = e^{-S2} is small and its relative variance
    large. 256 samples cannot resolve it: the row is flagged and its value left empty; 4096 can,
    and then agree with the Schmidt value."""
    results = []
    for n_samples in (256, 4096):
        spec = point(
            "full",
            {"kind": "direct", "n_chains": 16, "n_samples": 256, "n_samples_eval": n_samples},
            {"name": "arnn", "alpha": 2, "dtype": "complex128", "init_scale": 1.0},
            L=16,
            marshall=False,
            renyi2={"regions": [list(range(8))]},
        )
        results.append(measured(spec).iloc[0])
    few, many = results
    assert few["exact"] > 2.0
    assert few["flag"] == "relative error of the swap mean > 0.25" and np.isnan(few["value"]) and np.isnan(few["error"])
    assert many["flag"] == "" and abs(many["value"] - many["exact"]) < 4 * many["error"]


BAD = [
    ({"colour": {}}, "measurements.colour", "allowed"),
    ({"correlations": {"components": ["zx"]}}, "measurements.correlations.components", "zz, xx, yy"),
    ({"correlations": {"range": 3}}, "measurements.correlations.range", "allowed: components"),
    ({"pauli": {"strings": ["X0 X9"]}}, "measurements.pauli.strings[0]", "sites 0..7"),
    ({"pauli": {"strings": ["A0"]}}, "measurements.pauli.strings[0]", "not a Pauli string"),
    ({"pauli": {}}, "measurements.pauli.strings", "non-empty list"),
    ({"renyi2": {"regions": "everything"}}, "measurements.renyi2.regions", "blocks, squares, half"),
    ({"renyi2": {"regions": [[0, 8]]}}, "measurements.renyi2.regions[0]", "distinct sites in 0..7"),
    ({"renyi2": {"regions": "squares"}}, "measurements.renyi2.regions", "square lattice"),
    (["correlations", "correlations"], "measurements", "twice"),
    ("correlations", "measurements", "list of names or a mapping"),
]


@pytest.mark.parametrize("raw, field, words", BAD)
def test_bad_measurements_are_refused_by_name(raw, field, words):
    spec = {"model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 8}, "ansatz": {"name": "rbm"}, "measurements": raw}
    with pytest.raises(SpecError) as err:
        parse_spec(spec)
    assert err.value.field == field and words in str(err.value)


def test_staggered_magnetisation_needs_a_bipartite_lattice():
    spec = {"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 5}, "ansatz": {"name": "rbm"}}
    with pytest.raises(SpecError, match="bipartite"):
        parse_spec({**spec, "measurements": ["staggered_magnetisation"]})


def test_the_field_is_written_only_when_given_and_read_back():
    base = {"model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 8}, "ansatz": {"name": "rbm"}}
    plain = parse_spec(base)
    assert "measurements" not in plain.to_dict()
    listed = parse_spec({**base, "measurements": ["renyi2", "correlations"]})
    mapped = parse_spec({**base, "measurements": {"renyi2": {"regions": "blocks"}, "correlations": None}})
    assert listed == mapped and listed.spec_hash == mapped.spec_hash != plain.spec_hash
    assert parse_spec(listed.to_raw()) == listed
    assert set(MEASUREMENTS) >= {"correlations", "structure_factor", "staggered_magnetisation", "dimers", "pauli", "renyi2"}


def test_a_run_writes_its_measurements_with_the_exact_ground_state(tmp_path):
    import nqs_sweep

    spec = {
        "model": {"name": "heisenberg"},
        "lattice": {"kind": "chain", "L": 6},
        "hilbert": {"sector": "zero_magnetization"},
        "marshall_sign": True,
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"move": "exchange", "n_samples": 256, "n_chains": 8},
        "optimizer": {"n_iter": 5},
        "measurements": {"correlations": {"components": ["zz", "xx"]}, "renyi2": {}},
    }
    result = nqs_sweep.run(spec, tmp_path / "run")
    df = result.tables["measurements"]
    assert list(df["measurement"].unique()) == ["correlations", "renyi2"] and (df["flag"] == "").all()
    assert np.isfinite(df["value"]).all() and np.isfinite(df["exact"]).all()
    # the exact ground state of the 6-site chain: ⟨σᶻ_0 σᶻ_1⟩ = E / (3 N), a singlet's S2(site) = ln 2
    energy = nqs_sweep.exact(spec)
    assert df.set_index("argument").loc["zz r=1", "exact"] == pytest.approx(energy / 18, abs=1e-10)
    # and by SU(2) symmetry ⟨σˣσˣ⟩ too: the vector computed in the Marshall frame is measured in the physical one
    assert df.set_index("argument").loc["xx r=1", "exact"] == pytest.approx(energy / 18, abs=1e-10)
    assert df.set_index("argument").loc["site 0", "exact"] == pytest.approx(np.log(2), abs=1e-10)


def test_the_exact_job_keeps_the_ground_state_for_measurements(tmp_path):
    import yaml

    from nqs_sweep import cli, measure

    spec_path = tmp_path / "spec.yaml"
    spec = {"model": {"name": "tfim", "h": 1.0}, "lattice": {"kind": "chain", "L": 8}, "ansatz": {"name": "rbm"}}
    spec_path.write_text(yaml.safe_dump(spec))
    assert cli.main(["exact", "--spec", str(spec_path), "--out", str(tmp_path / "ref"), "--vector"]) == 0
    vector, frame = measure.load_state(tmp_path / "ref" / measure.STATE_FILE)
    assert vector.shape == (256,) and frame is False and np.linalg.norm(vector) == pytest.approx(1.0)
    assert cli.main(["exact", "--spec", str(spec_path), "--out", str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / measure.STATE_FILE).exists()


def test_the_docs_python_example_runs(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "measurements.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/measurements.md", "exec"), {})
    out = capsys.readouterr().out
    assert "site 0" in out and "sites 0-3" in out


def test_a_quench_measures_along_its_trajectory_against_exact_dynamics(tmp_path):
    """t-VMC with the exact sampler: S2 is the evolving network's own (no sampling error), so it
    differs from the exact dynamics only by the t-VMC state's error. From the +x product state
    (S2 = 0) the entanglement of the Ising chain grows to about 0.25 nats at t = 0.5."""
    import nqs_sweep

    quench = {
        "model": {"name": "tfim", "J": 1.0, "h": 2.0},
        "lattice": {"kind": "chain", "L": 6},
        "ansatz": {"name": "rbm", "alpha": 2, "dtype": "complex128"},
        "sampler": {"kind": "exact"},
        "initial": {"kind": "product", "direction": "x"},
        "dynamics": {"kind": "real", "t_final": 0.5, "dt": 0.01, "save_every": 0.25},
        "measurements": {"renyi2": {}, "correlations": {}},
    }
    result = nqs_sweep.run(quench, tmp_path / "quench")
    traj = result.tables["trajectory"]
    s2 = traj[traj["measurement"] == "renyi2"]
    assert len(s2) == 3 * 3 and s2["exact_value"].notna().all()  # 3 times x blocks of 1, 2, 3 sites
    start = s2[s2["time"] == 0]
    assert np.allclose(start["value"], 0, atol=1e-5) and np.allclose(start["exact_value"], 0, atol=1e-12)
    end = s2[s2["time"] == 0.5]
    assert (end["exact_value"] > 0.15).all()
    assert ((end["value"] - end["exact_value"]).abs() < 0.02).all(), end
    # the summary's largest error is the dynamics' observables', not the measurements'
    observed = traj[traj["observable"].isin(["sx", "sz", "zz_nn", "energy"])]
    assert result.summary["max_abs_error"].iloc[0] == pytest.approx(observed["abs_error"].max())


def test_the_strings_table_is_evaluated_in_chunks_with_the_same_result(monkeypatch):
    """Large lattices measure the samples in chunks (memory); the rows must not change."""
    from nqs_sweep.measure import base

    spec = point("full", {"kind": "metropolis", "n_chains": 8, "n_samples_eval": 512, "n_discard": 20})
    whole = measured(spec)
    assert base.chunk_size(512, 10) == 512 and base.chunk_size(512, 2**20) == 4 and base.chunk_size(7, 2**21) == 2
    # a prime count of samples: 2 chunks of 8191 (one sample of padding), not 16381 chunks of one
    assert base.chunk_size(16381, 2**9) == 8191
    sizes = []
    monkeypatch.setattr(base, "MAX_TABLE_ENTRIES", 600)  # over 100 strings here: chunks of a few samples, the last padded
    monkeypatch.setattr(base, "chunk_size", lambda n, k, f=base.chunk_size: sizes.append(f(n, k)) or sizes[-1])
    chunked = measured(spec)
    assert sizes and max(sizes) < 512
    assert np.allclose(chunked["value"], whole["value"], atol=1e-12, equal_nan=True)
    assert np.allclose(chunked["error"], whole["error"], atol=1e-12, equal_nan=True)
