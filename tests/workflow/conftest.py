import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def copy_workflow(dest: Path) -> Path:
    """The workflow (Snakefile, rules, schemas, profiles, configs) in a scratch directory."""
    shutil.copy(REPO / "Snakefile", dest / "Snakefile")
    shutil.copytree(REPO / "workflow", dest / "workflow")
    shutil.copytree(REPO / "config", dest / "config")
    (dest / "profiles").symlink_to("workflow/profiles")
    shutil.copy(REPO / "tests" / "workflow" / "tiny.yaml", dest / "tiny.yaml")
    return dest


def snakemake(
    cwd: Path, *args: str, check: bool = True, timeout: int = 600, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Snakemake in cwd; prefix: a command it runs under (e.g. setpriv)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([*prefix, SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The job-count table a dry run prints: {rule: count}."""
    out = proc.stdout + proc.stderr
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def tiny_study() -> dict:
    return yaml.safe_load((REPO / "tests" / "workflow" / "tiny.yaml").read_text())


def write_study(path: Path, study: dict) -> Path:
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.fixture
def workdir(tmp_path):
    return copy_workflow(tmp_path)
