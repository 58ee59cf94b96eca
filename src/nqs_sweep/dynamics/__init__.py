"""Real- and imaginary-time evolution: the TDVP equation of motion, integrators, initial states."""
