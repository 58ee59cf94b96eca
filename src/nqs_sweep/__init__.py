"""nqs-sweep: neural-quantum-state solver (VMC) for parameter-sweep studies."""

import jax

# Physics here needs float64 (energies to 1e-10 in tests, Lanczos references);
# float32 stays selectable per ansatz. This must be set before any array exists.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
