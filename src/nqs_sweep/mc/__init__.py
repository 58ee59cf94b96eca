"""Monte Carlo: samplers and their moves, local energies and log-derivatives, statistics,
the one estimate path, observables, and chains over devices."""
