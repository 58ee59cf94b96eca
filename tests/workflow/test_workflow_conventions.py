"""The Snakemake workflow catalog's conventions: both workflows lint clean, every rule that runs
code names its conda environment, that environment carries the lock's pins, and the study schema
is on the JSON Schema draft Snakemake validates with (no warning on every call)."""

import importlib.util
import re
import subprocess

from conftest import REPO, copy_workflow, snakemake


def _from_lock():
    spec = importlib.util.spec_from_file_location("from_lock", REPO / "workflow" / "envs" / "from_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_workflows_lint_clean(tmp_path):
    workdir = copy_workflow(tmp_path)
    for args in ((), ("-s", "workflow/paper.smk")):
        proc = snakemake(workdir, *args, "--lint", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out, out[-4000:]
        assert "Lints for" not in out, out[-4000:]


def test_every_rule_running_code_names_the_conda_environment_built_from_the_lock():
    from_lock = _from_lock()
    env_file = REPO / "workflow" / "envs" / "nqs-sweep.yaml"
    assert env_file.read_text() == from_lock.render(REPO / "requirements.lock"), "run: python workflow/envs/from_lock.py"
    assert (REPO / "workflow" / "envs" / "nqs-sweep.post-deploy.sh").exists()
    for rule_file in [*sorted((REPO / "workflow" / "rules").glob("*.smk")), REPO / "workflow" / "paper.smk"]:
        for rule in re.split(r"\n(?=rule \w+:)", rule_file.read_text())[1:]:
            name = re.match(r"rule (\w+):", rule).group(1)
            if re.search(r"^    (shell|script):", rule, re.M):
                env = re.search(r'^    conda:\n        "([^"]+)"', rule, re.M)
                assert env, f"{rule_file.name}: rule {name} runs code without a conda environment"
                assert (rule_file.parent / env.group(1)).resolve() == env_file, (name, env.group(1))


def test_the_study_schema_is_on_the_draft_snakemake_validates_with(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "--configfile", "tiny.yaml", "-n")
    assert "No validator found for JSON Schema" not in proc.stdout + proc.stderr


def test_make_env_cuda_installs_cuda_jaxlib_at_the_locked_jax_version():
    """`make env-cuda` (docs/cluster.md, GPU set-up), dry: the CUDA wheels it asks pip for are those
    of the jax version in the lock file, for CUDA 13 unless CUDA=12 is given."""
    lock = (REPO / "requirements.lock").read_text().splitlines()
    locked = next(line.split("==")[1] for line in lock if line.startswith("jax=="))
    for args, cuda in (((), "13"), (("CUDA=12",), "12")):
        dry = subprocess.run(["make", "-n", "env-cuda", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
        (pip,) = [line for line in dry.stdout.splitlines() if "pip install" in line and "jax[cuda" in line]
        requirement = re.search(r'"(jax\[cuda\d+\]==[^"]+)"', pip).group(1)
        expanded = subprocess.run(["bash", "-c", f'echo "{requirement}"'], cwd=REPO, capture_output=True, text=True, check=True)
        assert expanded.stdout.strip() == f"jax[cuda{cuda}]=={locked}", pip
