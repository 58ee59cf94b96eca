"""Chains sharded over two CPU host devices give the single-device run.

XLA_FLAGS must be set before JAX starts, so the two-device run is a subprocess.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    from nqs_sweep.mc import estimators
    from nqs_sweep.mc.devices import place_chains
    from nqs_sweep.models import make_ansatz
    from nqs_sweep.spec import parse_spec
    from nqs_sweep.optim.step import init_state, make_step
    from nqs_sweep.problem import build_problem

    spec = parse_spec({
        "model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 8},
        "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"},
        "sampler": {"kind": "metropolis", "move": "exchange", "n_samples": 64, "n_chains": 4, "n_discard": 2},
        "optimizer": {"kind": "minsr", "learning_rate": 0.05, "n_iter": 3}, "marshall_sign": True,
    })
    # 64 samples x 8 bonds in chunks of 64 moves: the chunked local energies run sharded too.
    estimators.MOVES_PER_CHUNK[jax.default_backend()] = 64
    problem = build_problem(spec)
    hyper = problem.hyper
    step = make_step(problem)
    state = init_state(problem, jax.random.key(0))
    if sys.argv[1] == "sharded":
        state = state._replace(chains=place_chains(state.chains))
    for i in range(3):
        state, metrics = step(state, jax.random.key(i), hyper)
    print("RESULT " + json.dumps({
        "devices": jax.device_count(),
        "chain_devices": len(state.chains.configs.sharding.device_set),
        "theta": [float(x) for x in state.theta],
        "energy": float(metrics["energy"]),
    }))
    """
)


def _run(mode: str, n_devices: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n_devices}", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.slow
def test_chains_sharded_over_two_devices_give_the_single_device_result():
    single = _run("plain", 1)
    sharded = _run("sharded", 2)
    assert single["devices"] == 1 and sharded["devices"] == 2
    assert sharded["chain_devices"] == 2  # the chains really live on both devices after three steps
    np.testing.assert_allclose(sharded["theta"], single["theta"], rtol=1e-9, atol=1e-12)
    assert sharded["energy"] == pytest.approx(single["energy"], rel=1e-10)
