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

from benchmarks import phases, resnet_step, reweighting, sector_exact, solve, throughput
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
    "python -m benchmarks.sector_exact": lambda argv: sector_exact.build_parser().parse_args(argv),
    "python -m benchmarks.resnet_step": lambda argv: resnet_step.build_parser().parse_args(argv),
    "python -m benchmarks.reweighting": lambda argv: reweighting.build_parser().parse_args(argv),
    "python -m benchmarks.solve": lambda argv: solve.build_parser().parse_args(argv),
}


@pytest.mark.parametrize("prefix", list(PARSERS))
def test_every_benchmark_command_shown_parses(prefix):
    commands = _commands(prefix)
    assert commands, f"no {prefix} command found in {[p.name for p in PAGES]}"
    for page, argv in commands:
        if argv and argv[-1] in ("T", "DIR"):  # a placeholder the text explains
            argv = argv[:-1] + ["1" if argv[-1] == "T" else "/tmp/x"]
        argv = ["/tmp/x" if a in ("RUN", "RUN_DIR") else a for a in argv]  # a finished run's directory
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


def test_every_cli_command_shown_parses():
    """Each `nqs-sweep <command> ...` in the README and docs is one the command line takes (parsed,
    not run; placeholders such as DIR or … stand for a value); a bare `nqs-sweep vmc` names a
    command that exists."""
    import argparse

    from nqs_sweep.cli import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    commands = [(page, argv) for page, argv in _commands("nqs-sweep") if argv]
    assert len(commands) >= 8
    for page, argv in commands:
        assert argv[0] in subcommands, f"{page}: `nqs-sweep {argv[0]}` is not a command"
        if len(argv) == 1:
            continue
        values = ["/tmp/x" if a in ("DIR", "…", "...") else a for a in argv]
        try:
            parser.parse_args(values)
        except SystemExit as err:
            pytest.fail(f"{page}: `nqs-sweep {shlex.join(argv)}` is refused (exit {err.code})")
