"""Accuracy of RBM alpha=2 + SR against our own Lanczos energies (slow).

Targets (issue 2): relative error <= 1e-4 on the periodic Ising chain L=20 at h=1 (against free fermions),
<= 2e-3 on the periodic Heisenberg chain L=16 and the periodic 4x4 Heisenberg model
(Marshall sign on). Each test also requires the final error bar to be well below the
target, so the claim is not carried by statistical luck.
"""

import pytest

from nqs_sweep.jobs.vmc import run_vmc
from nqs_sweep.physics.exact import free_fermion_energy, ground_state
from nqs_sweep.spec import parse_spec

SR_SETTINGS = {
    "kind": "sr",
    "learning_rate": {"schedule": "exponential", "init": 0.05, "end": 0.01},
    "diag_shift": {"schedule": "exponential", "init": 0.01, "end": 1e-4},
}
CASES = {
    "tfim-chain20": (
        dict(model={"name": "tfim", "h": 1.0}, lattice={"kind": "chain", "L": 20}, sampler={"move": "local"}),
        # 250 steps: seeds 0-3 ended at 6.0e-5, 4.1e-5, 4.5e-5, 5.1e-5 (error bars 1.5e-5), 28 s each
        # on an idle core; 500 steps (3.6e-5 for seed 0) took 43 s, 122 s in the loaded CI suite.
        250,
        1e-4,
    ),
    "heisenberg-chain16": (
        dict(model={"name": "heisenberg"}, lattice={"kind": "chain", "L": 16}, sampler={"move": "exchange"}, marshall_sign=True),
        300,
        2e-3,
    ),
    "heisenberg-4x4": (
        dict(model={"name": "heisenberg"}, lattice={"kind": "square", "L": 4}, sampler={"move": "exchange"}, marshall_sign=True),
        500,
        2e-3,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_rbm_alpha2_sr_reaches_target_accuracy(tmp_path, case):
    raw, n_iter, target = CASES[case]
    raw = {
        **raw,
        "ansatz": {"name": "rbm", "alpha": 2, "dtype": "float64"},
        "sampler": {**raw["sampler"], "n_samples": 2048, "n_chains": 16, "n_discard": 16, "n_samples_eval": 65536},
        "optimizer": {**SR_SETTINGS, "n_iter": n_iter},
        "seed": 0,
    }
    spec = parse_spec(raw)
    # The Ising chain's energy in closed form (free fermions): Lanczos on its 2^20 states took 15 s.
    exact = free_fermion_energy(20, 1.0, 1.0) if case == "tfim-chain20" else ground_state(spec).energy
    row = run_vmc(spec, tmp_path / case, exact_energy=exact, show_progress=False).iloc[0]
    print(f"{case}: E = {row['energy']:.6f} ± {row['energy_error']:.1e}, exact {exact:.6f}, rel. error {row['rel_error']:.2e}")
    assert row["energy_error"] / abs(exact) < target / 4
    assert row["rel_error"] <= target
