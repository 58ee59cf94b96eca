"""The benchmark workloads: one table of the work both codes must do.

Each workload fixes what makes two VMC codes comparable: the Hamiltonian and its
sign convention, the network and its parameter count, samples per step, chains,
sweeps between samples (one sweep = N proposals), discarded sweeps, and the
natural-gradient family (SR solved in parameter space, or MinSR in sample space).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    model: str  # tfim | heisenberg
    lattice: str  # chain | square
    L: int
    alpha: int
    n_samples: int
    n_chains: int
    move: str  # local | exchange
    solver: str  # sr (parameter space) | minsr (sample space)
    diag_shift: float
    learning_rate: float
    n_steps: int  # optimisation steps before the energy is compared
    n_discard: int = 4  # sweeps each chain discards before every step's samples
    gpu_only: bool = False
    J2: float = 0.0  # model j1j2: the next-nearest-neighbour coupling (J1 = 1)
    # (features, depth, kernel) of benchmarks.deep_cnn.DeepCNN, run as the same flax module in
    # both codes; None: the RBM of width alpha (each code's own)
    cnn: tuple[int, int, int] | None = None
    eval_factor: int = 8  # the final energy from eval_factor x n_samples fresh samples

    @property
    def n_sites(self) -> int:
        return self.L if self.lattice == "chain" else self.L**2

    @property
    def n_params(self) -> int:
        if self.cnn is not None:
            from benchmarks.deep_cnn import n_params

            return n_params(*self.cnn)
        n, m = self.n_sites, self.alpha * self.n_sites
        return n + m + n * m

    def ansatz(self) -> dict:
        if self.cnn is None:
            return {"name": "rbm", "alpha": self.alpha, "dtype": "float64", "init_scale": 0.01}
        features, depth, kernel = self.cnn
        kwargs = {"L": self.L, "features": features, "depth": depth, "kernel": kernel}
        return {"module": "benchmarks.deep_cnn:DeepCNN", "kwargs": kwargs}

    @property
    def exact_energy(self) -> float | None:
        """Known ground-state energies in our Pauli-matrix units, where the sizes allow."""
        return _EXACT.get((self.model, self.lattice, self.L))

    def spec(self, seed: int = 0) -> dict:
        """The nqs-sweep point spec of this workload."""
        model = {
            "tfim": {"name": "tfim", "J": 1.0, "h": 1.0},
            "heisenberg": {"name": "heisenberg", "J": 1.0},
            "j1j2": {"name": "j1j2", "J1": 1.0, "J2": self.J2},
        }[self.model]
        return {
            "model": model,
            "lattice": {"kind": self.lattice, "L": self.L, "pbc": True},
            "hilbert": {"sector": "zero_magnetization" if self.move == "exchange" else "full"},
            "ansatz": self.ansatz(),
            "sampler": {
                "kind": "metropolis",
                "n_samples": self.n_samples,
                "n_chains": self.n_chains,
                "n_discard": self.n_discard,
                "move": self.move,
                "n_samples_eval": self.n_samples,
            },
            "optimizer": {
                "kind": self.solver,
                "learning_rate": self.learning_rate,
                "diag_shift": self.diag_shift,
                "n_iter": self.n_steps,
            },
            "marshall_sign": self.model in ("heisenberg", "j1j2"),
            "seed": seed,
        }


# TFIM chain L=40, h=1 (periodic): E0/N = -(1/N) Σ_k ε_k with free-fermion modes (computed in exact.py
# style below, not hard-coded); Heisenberg 6x6: -0.678873 J per site in S units (Schulz et al. 1996)
# is 4x that in Pauli units.
_EXACT: dict = {}


def tfim_chain_energy(L: int, J: float = 1.0, h: float = 1.0) -> float:
    """Periodic TFIM chain ground energy in the even-parity sector (Pfeuty), Pauli units."""
    import numpy as np

    k = np.pi * (2 * np.arange(L) + 1 - L) / L  # antiperiodic momenta of the even sector
    return float(-np.sum(np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k))))


_EXACT[("tfim", "chain", 40)] = tfim_chain_energy(40)
_EXACT[("heisenberg", "square", 6)] = -0.678873 * 4 * 36
# J1-J2 6x6 at J2 = 0.5: -0.503810 per site in S units (Schulz, Ziman & Poilblanc 1996; varbench
# J1J2/square_36_P_0.5: -72.5485902 in Pauli units)
_EXACT[("j1j2", "square", 6)] = -72.5485902

_HEISENBERG_6X6 = dict(model="heisenberg", lattice="square", L=6, alpha=2, n_samples=1024, n_chains=16, move="exchange")

WORKLOADS = {
    w.name: w
    for w in (
        Workload("W0", "smoke test: Ising chain L=8", "tfim", "chain", 8, 1, 256, 8, "local", "sr", 0.01, 0.02, 5),
        Workload(
            "W1", "Ising chain L=40, h=1, RBM alpha=2, SR", "tfim", "chain", 40, 2, 1024, 16, "local", "sr", 0.01, 0.02, 200
        ),
        Workload(
            "W2-SR",
            "Heisenberg 6x6, RBM alpha=2, SR",
            **_HEISENBERG_6X6,
            solver="sr",
            diag_shift=0.01,
            learning_rate=0.02,
            n_steps=200,
        ),
        Workload(
            "W2-MinSR",
            "Heisenberg 6x6, RBM alpha=2, MinSR",
            **_HEISENBERG_6X6,
            solver="minsr",
            diag_shift=0.01,
            learning_rate=0.02,
            n_steps=200,
        ),
        Workload(
            "W3",
            "Heisenberg 10x10, RBM alpha=4, MinSR (GPU)",
            model="heisenberg",
            lattice="square",
            L=10,
            alpha=4,
            n_samples=8192,
            n_chains=2048,
            move="exchange",
            solver="minsr",
            diag_shift=0.01,
            learning_rate=0.02,
            n_steps=100,
            gpu_only=True,
        ),
        Workload(
            "W4",
            "J1-J2 6x6 at J2=0.5, deep CNN (20 channels, 4 layers, 3x3: 11 060 parameters), MinSR",
            model="j1j2",
            J2=0.5,
            lattice="square",
            L=6,
            alpha=0,
            n_samples=4096,
            n_chains=128,
            move="exchange",
            solver="minsr",
            diag_shift=0.01,
            learning_rate=0.02,
            n_steps=5,
            cnn=(20, 4, 3),
            eval_factor=1,  # 4096 samples of a deep network cost minutes on a CPU already
            # compile + 5 steps ran past 1500 s in each code on the 2-core CPU (docs/performance.md)
            gpu_only=True,
        ),
    )
}
