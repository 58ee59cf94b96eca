"""The physics a point is about, independent of any network: lattices and their symmetry
groups, the Hilbert space and its sectors, the Hamiltonians (a registry of models), and the
exact references (free fermions, Lanczos, exact dynamics)."""
