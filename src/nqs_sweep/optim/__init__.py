"""Optimisation: the jitted VMC step, the optimiser registry, SR/MinSR solves, schedules."""
