"""Benchmarks of nqs-sweep against NetKet (not tests; see benchmarks/README.md)."""
