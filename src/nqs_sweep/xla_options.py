"""XLA compiler settings that every solver process applies before its first compilation.

**Small loops as one function.** XLA's CPU runtime runs a compiled program as a sequence of
"thunks", one per fused kernel, and a ``while`` loop dispatches its body's thunks once per
iteration. A Metropolis sweep is thousands of iterations of a dozen tiny kernels (W1: 16
chains × 80 hidden units, 2720 proposals per step), so the dispatch, not the arithmetic, is
most of the sampling time. XLA's ``SmallWhileLoopHoistingPass`` compiles a loop whose one
iteration touches fewer bytes than a threshold into a single function instead; at XLA's default
(1 KiB) our samplers' loops stay thunks. At 512 KiB every sampler loop of the RBM workloads (W1,
W2) is one function, and W1's sampling phase took 7.4 ms instead of 10.7-11.6 (docs/performance.md).
Loops that touch more keep the thunk runtime, whose kernels can be faster and multithreaded:
1 MiB also took in the autoregressive network's sampling loop, and its step ran 3-6 % slower.
The pass leaves out loops with LAPACK calls, sorts and scatters. Other backends read no such
key (XLA hands LLVM only the extra options that do not start with ``xla_``), so a GPU process
carries the setting harmlessly.

XLA reads ``XLA_FLAGS`` once, when it first compiles, so ``nqs_sweep`` sets it on import; a
setting already in ``XLA_FLAGS`` is kept, so a user (or a benchmark of another code) can choose
any threshold, XLA's own included. The threshold is a compiler option of the whole process: XLA
does not take it per program (``jax.jit(compiler_options=...)`` refuses map-valued options).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SMALL_LOOP_OPTION = "xla_cpu_small_while_loop_byte_threshold"
SMALL_LOOP_BYTES = 1 << 19
XLA_DEFAULT_SMALL_LOOP_BYTES = 1024  # XLA's own, for processes that should run as shipped
_EXTRA = "--xla_backend_extra_options="


def with_small_loop_bytes(flags: str, limit: int = SMALL_LOOP_BYTES, replace: bool = False) -> str:
    """``flags`` (an XLA_FLAGS value) with the small-loop threshold at ``limit``; a threshold already
    there is kept unless ``replace``.

    The setting is a token of its own at the end: XLA merges repeated ``--xla_backend_extra_options``
    into one map, a later value winning, so a user's token (quoted or not) is never edited. A value
    that does not start with ``-`` names a file XLA reads its flags from, and is left as it is.
    """
    if flags.strip() and not flags.strip().startswith("-"):
        return flags
    chosen = any(
        option.strip("\"'").split("=")[0] == SMALL_LOOP_OPTION
        for token in flags.split()
        if token.startswith(_EXTRA)
        for option in token[len(_EXTRA) :].strip("\"'").split(",")
    )
    if chosen and not replace:
        return flags
    return " ".join([*flags.split(), f"{_EXTRA}{SMALL_LOOP_OPTION}={limit}"])


def apply(environ: MutableMapping[str, str] | None = None) -> None:
    """Put this project's XLA settings into ``environ`` (default: this process's environment)."""
    environ = os.environ if environ is None else environ
    environ["XLA_FLAGS"] = with_small_loop_bytes(environ.get("XLA_FLAGS", ""))
