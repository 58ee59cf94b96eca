"""The same workload in NetKet (optional dependency group ``bench``).

Same Hamiltonian and sign convention (Pauli matrices; Marshall sign folded into the
Heisenberg operator exactly as nqs-sweep does), same real RBM (alpha, float64,
normal init with the same scale), same sampler settings (chains, samples, sweep
size N, discarded sweeps), and NetKet's own SR driver ``VMC_SR`` with the same
diagonal shift. For SR, NetKet chooses the space by shapes (its default, NTK when
samples < parameters) as nqs-sweep does; MinSR forces the sample space in both.

One convention differs: NetKet's right-hand side is the energy gradient ∇E = 2 Re⟨ΔO*ΔE⟩,
ours is half of it (qgt.py), so NetKet's learning rate is set to half of ours and the
two codes take the same step.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.timing import mean_seconds_per_call, median_seconds, result_row
from benchmarks.workloads import Workload
from nqs_sweep.mc.devices import peak_memory_mb


def _hamiltonian(w: Workload):
    import netket as nk

    graph = nk.graph.Chain(w.L, pbc=True) if w.lattice == "chain" else nk.graph.Square(w.L, pbc=True)
    if w.model == "tfim":
        hi = nk.hilbert.Spin(0.5, N=graph.n_nodes)
        return hi, graph, nk.operator.IsingJax(hi, graph, h=1.0, J=-1.0)
    if w.model == "j1j2":
        # edge colour 0: nearest neighbours (J1, the Marshall rotation), 1: next-nearest (J2, the
        # same sublattice, no sign change); the exchange sampler proposes along both, as ours
        # proposes along every exchange bond of the Hamiltonian
        graph = nk.graph.Square(w.L, pbc=True, max_neighbor_order=2)
        hi = nk.hilbert.Spin(0.5, N=graph.n_nodes, total_sz=0)
        ham = nk.operator.Heisenberg(hi, graph, J=[1.0, w.J2], sign_rule=[True, False]).to_jax_operator()
        return hi, graph, ham
    hi = nk.hilbert.Spin(0.5, N=graph.n_nodes, total_sz=0)
    # NetKet's Heisenberg(sign_rule=True) is J Σ σ·σ with the Marshall rotation; J=1 in Pauli units.
    ham = nk.operator.Heisenberg(hi, graph, J=1.0, sign_rule=True).to_jax_operator()
    return hi, graph, ham


def run(w: Workload, n_steps: int, repeats: int, seed: int = 0) -> dict:
    import netket as nk
    import optax

    hi, graph, ham = _hamiltonian(w)
    init = jax.nn.initializers.normal(stddev=0.01)
    if w.cnn is not None:  # the very module nqs-sweep runs as a plug-in
        from benchmarks.deep_cnn import DeepCNN

        model = DeepCNN(**w.ansatz()["kwargs"])
    else:
        model = nk.models.RBM(
            alpha=w.alpha, param_dtype=np.float64, kernel_init=init, hidden_bias_init=init, visible_bias_init=init
        )
    if w.move == "local":
        sampler = nk.sampler.MetropolisLocal(hi, n_chains=w.n_chains, sweep_size=hi.size)
    else:
        sampler = nk.sampler.MetropolisExchange(hi, graph=graph, n_chains=w.n_chains, sweep_size=hi.size)
    vs = nk.vqs.MCState(sampler, model, n_samples=w.n_samples, n_discard_per_chain=w.n_discard, seed=seed, sampler_seed=seed + 1)
    if w.cnn is not None:
        # the per-sample Jacobian in chunks, as nqs-sweep takes it on the CPU (estimators.JACOBIAN_CHUNK):
        # unchunked, XLA's CPU convolution failed on the 4096-configuration batch
        vs.chunk_size = 256
    driver = nk.driver.VMC_SR(
        ham,
        optax.sgd(w.learning_rate / 2),
        diag_shift=w.diag_shift,
        variational_state=vs,
        use_ntk=True if w.solver == "minsr" else None,
        # The Jacobian in chunks, as ours; explicit, as ours (the lazy NTK of on_the_fly=True, NetKet's
        # default, asked for 97 GB: a (B, B, positions x channels) contraction at 4096 samples)
        **({"chunk_size_bwd": 256, "on_the_fly": False} if w.cnn is not None else {}),
    )

    t0 = time.perf_counter()
    driver.run(1, out=None, show_progress=False)
    jax.block_until_ready(vs.parameters)
    compile_s = time.perf_counter() - t0

    def run_steps(k: int):
        driver.run(k, out=None, show_progress=False)
        return vs.parameters

    step_s = mean_seconds_per_call(run_steps, repeats)

    def one_sample():
        vs.reset()
        return vs.samples

    sample_s = median_seconds(one_sample, repeats)
    done = 1 + repeats
    if n_steps > done:
        jax.block_until_ready(run_steps(n_steps - done))
    peak_mb = peak_memory_mb()  # of the optimisation; the final evaluation below is not a step
    vs.n_samples = w.eval_factor * w.n_samples
    e = vs.expect(ham)
    code = f"netket {nk.__version__}"
    n_params, samples_per_s = vs.n_parameters, w.n_samples / sample_s
    return result_row(
        code, n_params, compile_s, step_s, samples_per_s, peak_mb, np.real(e.mean), e.error_of_mean, max(n_steps, done)
    )
