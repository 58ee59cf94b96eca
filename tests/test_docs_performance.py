"""The commands docs/performance.md and the README's show are the ones the tools take.

Benchmark commands are parsed and checked by their own entry points (a renamed option or
workload fails here) without running them: each takes minutes. `nqs-sweep threads` is run, and
its output must have the shape the page shows.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import phases, throughput
from benchmarks import run as bench_run

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def _commands(prefix: str) -> list[tuple[str, list[str]]]:
    """(page, argv after the prefix) of every inline or block command starting with prefix."""
    found = []
    for page in PAGES:
        text = page.read_text()
        blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
        prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
        # an inline command may be wrapped over two lines inside its backticks
        inline = [m.replace("\n", " ") for m in re.findall(r"`([^`]+)`", prose)]
        lines = [line.strip().removeprefix("$ ") for block in blocks for line in block.splitlines()]
        for cmd in inline + lines:
            cmd = cmd.split("  #")[0].strip()
            if cmd.startswith(prefix):
                found.append((page.name, shlex.split(cmd)[len(shlex.split(prefix)) :]))
    return found


PARSERS = {
    "python -m benchmarks.run": lambda argv: bench_run.plan([*argv, "--workloads", "W1"] if "--workloads" not in argv else argv),
    "python -m benchmarks.phases": lambda argv: phases.build_parser().parse_args(argv),
    "python -m benchmarks.throughput": lambda argv: throughput.build_parser().parse_args(argv),
}


@pytest.mark.parametrize("prefix", list(PARSERS))
def test_every_benchmark_command_shown_parses(prefix):
    commands = _commands(prefix)
    assert commands, f"no {prefix} command found in {[p.name for p in PAGES]}"
    for page, argv in commands:
        if argv and argv[-1] in ("T", "DIR"):  # a placeholder the text explains
            argv = argv[:-1] + ["1" if argv[-1] == "T" else "/tmp/x"]
        try:
            PARSERS[prefix](argv)
        except SystemExit as err:
            pytest.fail(f"{page}: `{prefix} {shlex.join(argv)}` is refused (exit {err.code})")


def test_threads_command_prints_the_report_the_page_shows():
    assert _commands("nqs-sweep threads"), "docs/performance.md shows `nqs-sweep threads`"
    proc = subprocess.run(
        [sys.executable, "-m", "nqs_sweep.cli", "threads", "--threads", "1"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) == {"job", "blas", "xla"}
    assert all(set(lib) == {"library", "api", "threading", "threads"} for lib in report["blas"])
    page = (ROOT / "docs" / "performance.md").read_text()
    for lib in report["blas"]:
        if lib["api"] == "openblas":
            # the page names the libraries by their folder (the hash in the file name may change)
            assert lib["library"].split("/")[0] in page
