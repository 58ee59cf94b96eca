"""The machine's own floor: a fixed single-threaded computation, timed like a step.

A one-thread CPU-bound process can be slowed by load only through the share of a core the
scheduler gives it. With K busy processes beside it on C cores a fair scheduler gives it
min(1, C / (K + 1)) of a core: two thirds with two busy processes on two cores, a loaded/idle
ratio of 1.5 for any code. This "code" measures that share in the same run and the same
conditions as the codes it sits beside, so a loaded/idle ratio can be read against what the
machine allowed at that moment rather than against an argument.

Its step is pure Python integer arithmetic (no library, no thread pool, no memory traffic to
speak of) of a fixed amount, the same idle and loaded: about 25 ms on this project's CPU
machine, near W1's step, so that ``--repeats`` steps span about as long a window as the codes'.
"""

from __future__ import annotations

import time

from benchmarks.timing import mean_seconds_per_call, result_row
from benchmarks.workloads import Workload
from nqs_sweep.mc.devices import peak_memory_mb

# Fixed, never calibrated at run time: a calibration under load would scale the work by the load.
ITERATIONS = 400_000


def spin(n: int) -> int:
    s = 0
    for i in range(n):
        s = (s + i * i) & 0xFFFFFFFF
    return s


def run(w: Workload, n_steps: int, repeats: int, seed: int = 0) -> dict:
    """One row like a code's: step_s is the mean over ``repeats`` consecutive fixed units of work
    (after one untimed unit, as the codes' first step is their compilation)."""
    t0 = time.perf_counter()
    spin(ITERATIONS)
    first_s = time.perf_counter() - t0

    def units(k: int) -> int:
        out = 0
        for _ in range(k):
            out = spin(ITERATIONS)
        return out

    step_s = mean_seconds_per_call(units, repeats)
    # The rest of n_steps untimed, as the codes run theirs: a copy of this worker used as load
    # (``--load-kind copies``, n_steps 10**6) must keep running until it is killed.
    done = 1 + repeats
    units(max(0, n_steps - done))
    nan = float("nan")
    return result_row("control", 0, first_s, step_s, nan, peak_memory_mb(), nan, nan, max(n_steps, done))
