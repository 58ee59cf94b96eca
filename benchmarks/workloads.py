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

    @property
    def n_sites(self) -> int:
        return self.L if self.lattice == "chain" else self.L**2

    @property
    def n_params(self) -> int:
        n, m = self.n_sites, self.alpha * self.n_sites
        return n + m + n * m

    @property
    def exact_energy(self) -> float | None:
        """Known ground-state energies in our Pauli-matrix units, where the sizes allow."""
        return _EXACT.get((self.model, self.lattice, self.L))

    def spec(self, seed: int = 0) -> dict:
        """The nqs-sweep point spec of this workload."""
        model = {"name": "tfim", "J": 1.0, "h": 1.0} if self.model == "tfim" else {"name": "heisenberg", "J": 1.0}
        return {
            "model": model,
            "lattice": {"kind": self.lattice, "L": self.L, "pbc": True},
            "hilbert": {"sector": "zero_magnetization" if self.move == "exchange" else "full"},
            "ansatz": {"name": "rbm", "alpha": self.alpha, "dtype": "float64", "init_scale": 0.01},
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
            "marshall_sign": self.model == "heisenberg",
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
    )
}
