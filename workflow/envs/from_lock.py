"""Write workflow/envs/nqs-sweep.yaml from requirements.lock (make lock runs it; a test checks they agree).

Snakemake copies a rule's conda environment file into .snakemake/conda/ before it creates the
environment, so the file cannot point at the lock with a relative `-r`: it carries the pins itself.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

HEADER = """\
# Generated from requirements.lock by workflow/envs/from_lock.py (make lock): do not edit.
# The solver's software for Snakemake's conda deployment, for a cluster whose nodes do not
# see this checkout's .venv: snakemake --sdm conda ... (docs/cluster.md). The post-deploy
# script beside this file installs nqs_sweep itself from the checkout. Without --sdm conda,
# the rules run the interpreter that runs Snakemake (make env's .venv).
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def pins(lock: Path) -> list[str]:
    lines = (ln.strip() for ln in lock.read_text().splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def render(lock: Path) -> str:
    return HEADER + "".join(f"      - {pin}\n" for pin in pins(lock))


if __name__ == "__main__":
    (HERE / "nqs-sweep.yaml").write_text(render(REPO / "requirements.lock"))
