"""Time Lanczos in a symmetry sector (physics.sector_exact) against Lanczos on the whole Hilbert
sector (physics.exact), one process per measurement so that peak memory is the run's own.

    python -m benchmarks.sector_exact heisenberg chain 26            # the ground state's sector
    python -m benchmarks.sector_exact heisenberg chain 26 --plain    # the whole zero-magnetisation sector
    python -m benchmarks.sector_exact tfim square 5 --h 3

Prints one line: model, lattice, L, what was diagonalised (sector label and block dimension, or
the Hilbert sector), the energy, seconds and peak resident memory. docs/symmetry.md quotes it.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("heisenberg", "xxz", "j1j2", "tfim"))
    parser.add_argument("lattice", choices=("chain", "square"))
    parser.add_argument("L", type=int)
    parser.add_argument("--h", type=float, default=1.0, help="transverse field of tfim")
    parser.add_argument("--plain", action="store_true", help="Lanczos on the whole Hilbert sector instead")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    from nqs_sweep.models.projection import default_sector
    from nqs_sweep.physics import exact
    from nqs_sweep.physics.hamiltonians import build_hamiltonian
    from nqs_sweep.physics.sector_exact import sector_ground_state
    from nqs_sweep.spec import parse_spec

    tfim = args.model == "tfim"
    raw = {
        "model": {"name": args.model, **({"h": args.h} if tfim else {})},
        "lattice": {"kind": args.lattice, "L": args.L},
        "ansatz": {"name": "rbm"},
        "sampler": {"move": "local" if tfim else "exchange"},
    }
    spec = parse_spec(raw)
    start = time.perf_counter()
    if args.plain:
        res = exact.ground_state(spec)
        what, energy = f"{spec.sector} dim {res.hilbert_dim}", res.energy
    else:
        sector = default_sector(spec)
        res = sector_ground_state(build_hamiltonian(spec, xp=np), spec.n_sites, spec.sector, spec.lattice.build(), sector)
        what, energy = f"{sector.label(args.L)} block {res.block_dim} of {res.hilbert_dim}", res.energy
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{args.model} {args.lattice} L={args.L}: {what}: E={energy:.10f} in {seconds:.1f} s, peak {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
