"""The XLA settings every solver process applies (nqs_sweep.xla_options)."""

import os
import subprocess
import sys

import pytest

from nqs_sweep.xla_options import SMALL_LOOP_BYTES, SMALL_LOOP_OPTION, with_small_loop_bytes

SET = f"--xla_backend_extra_options={SMALL_LOOP_OPTION}={SMALL_LOOP_BYTES}"


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("", SET),
        ("--xla_cpu_use_xnnpack=false", f"--xla_cpu_use_xnnpack=false {SET}"),
        # a token of its own: XLA merges repeated extra-options tokens (a quoted one stays intact)
        ("--xla_backend_extra_options=a=1 --xla_dump_to=/tmp/d", f"--xla_backend_extra_options=a=1 --xla_dump_to=/tmp/d {SET}"),
        ('--xla_backend_extra_options="a=1"', f'--xla_backend_extra_options="a=1" {SET}'),
        # a threshold the user chose is theirs, quoted or not, in any token
        (f"--xla_backend_extra_options={SMALL_LOOP_OPTION}=5,b=2", f"--xla_backend_extra_options={SMALL_LOOP_OPTION}=5,b=2"),
        (f'--xla_backend_extra_options=b=2 --xla_backend_extra_options="{SMALL_LOOP_OPTION}=5"', None),
        # a file of flags (XLA reads a value that does not start with "-" as a path)
        ("/etc/xla_flags.txt", "/etc/xla_flags.txt"),
    ],
)
def test_the_small_loop_threshold_joins_the_flags_without_overriding_a_choice(flags, expected):
    assert with_small_loop_bytes(flags) == (flags if expected is None else expected)


def test_a_benchmark_can_put_back_xlas_own_threshold():
    """The later token wins in XLA's merge (test below: a fresh process compiles with it)."""
    flags = f"--xla_backend_extra_options={SMALL_LOOP_OPTION}={SMALL_LOOP_BYTES},b=2"
    assert with_small_loop_bytes(flags, 1024, replace=True) == f"{flags} --xla_backend_extra_options={SMALL_LOOP_OPTION}=1024"


_COUNT_HOISTED = """
import jax, jax.numpy as jnp
import nqs_sweep
def sweep(x):  # a Metropolis-like loop: a few small kernels per iteration, thousands of iterations
    return jax.lax.fori_loop(0, 1000, lambda i, c: jnp.roll(c, 1) * 0.5 + jnp.sin(c[i % 8]), x)
text = jax.jit(sweep).lower(jnp.ones(4096)).compile().as_text()
print(text.count('xla_cpu_small_call="true"'))
"""


@pytest.mark.parametrize(
    "user_flags, hoisted",
    [
        (None, "1"),
        (f"--xla_backend_extra_options={SMALL_LOOP_OPTION}=1024", "0"),
        (with_small_loop_bytes(SET, 1024, replace=True), "0"),  # the later of two tokens wins
    ],
)
def test_importing_nqs_sweep_makes_small_loops_one_function(user_flags, hoisted):
    """In a fresh process, after ``import jax`` even: XLA reads its flags at the first compilation.
    The loop touches 32 KiB an iteration: above XLA's 1 KiB, below ours; a user's setting wins."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if user_flags is not None:
        env["XLA_FLAGS"] = user_flags
    out = subprocess.run([sys.executable, "-c", _COUNT_HOISTED], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == hoisted
