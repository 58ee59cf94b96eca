"""The tiny study through a real single-node SLURM cluster, its points packed two per allocation as the
profile's GPU packing does, gives the same tables as a local run; and a point stopped by its SLURM
time limit resumes from its checkpoint on the retry.

Needs root (the fixture installs slurm-wlm and munge with apt-get if missing and starts the
daemons with tests/cluster/slurm-up.sh); skipped otherwise, or failed if NQS_REQUIRE_SLURM=1.
    sudo bash tests/cluster/slurm-up.sh && python -m pytest tests/cluster -m slurm -rs
Set NQS_KEEP_SLURM=1 to leave the cluster running after the tests.
"""

import importlib.util
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
UP_TIMEOUT_S = 900  # a first run installs the packages
# A guard against a hung cluster, not a speed target: each run takes 200-280 s here on an idle
# machine and more than twice that in CI, where the other worker's tests share the two cores.
SLURM_RUN_TIMEOUT_S = 1200

# One worker runs all the tests (make test distributes whole modules, --dist loadfile): two workers
# would each start the cluster, and the first to finish would stop it under the other.
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _workflow_helpers():
    """tests/workflow/conftest.py's helpers (copy_workflow, snakemake), without clashing with tests/conftest.py."""
    spec = importlib.util.spec_from_file_location("workflow_test_helpers", REPO / "tests" / "workflow" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _workflow_helpers()

# Columns that legitimately differ between two runs of the same study.
VOLATILE = {"runtime_s", "wall_time_s", "device", "git_revision", "peak_memory_mb"}


def _unavailable(reason: str):
    if os.environ.get("NQS_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM required (NQS_REQUIRE_SLURM=1) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"no SLURM test cluster: {reason}")


def _script(name: str, timeout: int) -> subprocess.CompletedProcess:
    # OMP_NUM_THREADS=1 always: a pytest worker has it set once any of its tests configured the
    # solver's threads, and whether one did depends on how xdist shared out the files. The worst
    # case every time, so that a script misled by it fails here, not now and then in CI.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(HERE / name)], capture_output=True, text=True, timeout=timeout, env=env)


def _slurm_down():
    if os.environ.get("NQS_KEEP_SLURM") != "1":
        _script("slurm-down.sh", timeout=120)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node cluster (partition `debug`): {'cpus': int, 'mem_mb': int} of its node."""
    if sys.platform != "linux" or os.geteuid() != 0:
        _unavailable("tests/cluster/slurm-up.sh must run as root on Linux (it installs and starts slurm and munge)")
    # The cluster's own configuration, not the one that keeps scontrol quiet elsewhere in the
    # suite (tests/conftest.py); the SLURM jobs inherit this environment.
    no_slurm = os.environ.get("NQS_TEST_NO_SLURM_CONF")
    if no_slurm and os.environ.get("SLURM_CONF") == no_slurm:
        del os.environ["SLURM_CONF"]
    try:
        yield from _cluster()
    finally:
        if no_slurm:
            os.environ["SLURM_CONF"] = no_slurm


def _cluster():
    try:
        up = _script("slurm-up.sh", timeout=UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _slurm_down()
        _unavailable(f"tests/cluster/slurm-up.sh did not finish within {UP_TIMEOUT_S}s")
    if up.returncode != 0:
        _slurm_down()
        _unavailable(f"tests/cluster/slurm-up.sh failed ({up.returncode}):\n{(up.stdout + up.stderr)[-3000:]}")
    node = subprocess.run(["sinfo", "--noheader", "--partition=debug", "--format=%c %m"], capture_output=True, text=True)
    if node.returncode != 0 or not node.stdout.split():
        _slurm_down()
        _unavailable(f"sinfo shows no partition 'debug': {node.stdout}{node.stderr}")
    cpus, mem_mb = (int(x) for x in node.stdout.split()[:2])
    try:
        yield {"cpus": cpus, "mem_mb": mem_mb}
    finally:
        _slurm_down()


def test_the_node_has_the_cores_of_this_process_whatever_openmp_says(slurm_cluster):
    """slurm-up.sh started with OMP_NUM_THREADS=1 (see _script) still gives the node every core
    this process may run on: `nproc` alone obeys the variable, and a 1-CPU node left the packed
    points' 2-CPU job pending forever in CI."""
    assert slurm_cluster["cpus"] == len(os.sched_getaffinity(0)), slurm_cluster


def test_slurm_up_cancels_jobs_left_over_from_an_earlier_run(slurm_cluster):
    """slurmctld recovers its queue when it starts; a job of an earlier, killed test run would hold
    the node and the next run's jobs would wait behind it until they time out (it happened in CI:
    a job left RUNNING with no process behind it). slurm-up.sh cancels whatever is queued."""
    held = (
        subprocess.run(
            ["sbatch", "--parsable", "--hold", "--job-name=left-over", "--partition=debug", "--wrap=sleep 600"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .split(";")[0]
    )
    assert scontrol_job(held)["JobState"] == "PENDING"
    up = _script("slurm-up.sh", timeout=UP_TIMEOUT_S)
    assert up.returncode == 0, (up.stdout + up.stderr)[-3000:]
    assert f"cancelling jobs left over from an earlier run: {held}" in up.stdout, up.stdout[-3000:]
    assert scontrol_job(held)["JobState"] == "CANCELLED"
    queued = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True, check=True).stdout
    assert not queued.split(), queued


def test_profile_resources_are_replaced_not_merged_by_command_line_flags(slurm_cluster, tmp_path):
    """Why the SLURM test writes a derived profile instead of passing --set-resources/--default-resources:
    Snakemake lets a command-line flag replace the whole top-level key of the workflow profile.
    (A dry run; it needs the cluster only because the plugin asks slurmctld for its MinJobAge, slowly when down.)"""
    workdir = helpers.copy_workflow(tmp_path)
    args = ["--configfile", "tiny.yaml", "--workflow-profile", "workflow/profiles/slurm", "--slurm-no-account", "-n"]
    as_profiled = helpers.snakemake(workdir, *args)
    overridden = helpers.snakemake(workdir, *args, "--set-resources", "vmc:cpus_per_task=1")
    vmc = lambda proc: re.search(r"rule vmc:.*?resources: ([^\n]*)", proc.stdout + proc.stderr, re.S).group(1)
    profiled = ("gres=gpu:1", "cpus_per_task=4", "mem_mb=8000", "runtime=240")
    assert all(r in vmc(as_profiled).split(", ") for r in profiled), vmc(as_profiled)
    # cpus_per_task=1 as asked, but the profile's GPU, memory and runtime for vmc are gone with it.
    assert "cpus_per_task=1" in vmc(overridden).split(", "), vmc(overridden)
    assert not any(r in vmc(overridden).split(", ") for r in profiled), vmc(overridden)


def slurm_test_profile(workdir: Path, cpus: int, mem_mb: int) -> tuple[str, dict[str, int]]:
    """workflow/profiles/slurm fitted to the test node, every other setting as shipped:
    no GPU (the test node has none), partition `debug`, at most the node's CPUs and memory per job.
    Returns the profile's path (relative to workdir) and its set-threads."""
    profile = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    assert profile["set-resources"]["vmc"]["gres"] == "gpu:1"

    def fit(resources: dict) -> dict:
        if "cpus_per_task" in resources:
            resources["cpus_per_task"] = min(resources["cpus_per_task"], cpus)
        if "mem_mb" in resources:
            resources["mem_mb"] = min(resources["mem_mb"], mem_mb // 2)
        return resources

    profile["default-resources"] = {**fit(profile["default-resources"]), "slurm_partition": "debug"}
    profile["set-resources"] = {rule: fit(res) for rule, res in profile["set-resources"].items()}
    for res in profile["set-resources"].values():  # the CPU stand-in for a GPU job
        res.pop("gres", None)
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile.get("set-threads", {}).items()}
    path = workdir / "workflow" / "profiles" / "slurm-test"
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return str(path.relative_to(workdir)), profile["set-threads"]


def _shell(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"


def run_on_cluster(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake through the SLURM profile. On a timeout, the failure says what the cluster was
    doing (queue, node, daemons' logs, the plugin's job logs) and this run's jobs are cancelled,
    so that the next test does not queue behind them."""
    try:
        return helpers.snakemake(workdir, *args, timeout=SLURM_RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as timeout:
        stderr = timeout.stderr.decode(errors="replace") if isinstance(timeout.stderr, bytes) else timeout.stderr or ""
        report = [f"snakemake {' '.join(args)} still running after {SLURM_RUN_TIMEOUT_S} s; its stderr ends:", stderr[-3000:]]
        report += [_shell("squeue", "--all", "--long"), _shell("scontrol", "show", "node", "--oneliner")]
        report += [_shell("tail", "-n", "30", f"/var/log/slurm/{daemon}.log") for daemon in ("slurmctld", "slurmd")]
        for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-4:]:
            report.append(f"--- {log.relative_to(workdir)} ends:\n{log.read_text(errors='replace')[-1500:]}")
        run_id = re.search(r"SLURM run ID: (\S+)", stderr)
        if run_id:
            report.append(_shell("scancel", f"--name={run_id.group(1)}"))
        pytest.fail("\n".join(report), pytrace=False)


def slurm_logs(workdir: Path, rule: str) -> dict[str, str]:
    """{SLURM job id: log text} of one rule's jobs, from the plugin's .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<id>.log."""
    root = workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}"
    return {log.stem: log.read_text() for log in root.rglob("*.log")} if root.exists() else {}


def scontrol_job(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def table(workdir: Path, name: str, keys: list[str]) -> pd.DataFrame:
    df = pd.read_parquet(workdir / "results" / "tiny" / "tables" / f"{name}.parquet")
    volatile = [c for c in df.columns if c in VOLATILE or c.startswith("version_")]
    return df.drop(columns=volatile).sort_values(keys).reset_index(drop=True)


def shipped_packing() -> dict:
    """The commented-out block of workflow/profiles/slurm that packs points onto one GPU, uncommented."""
    lines = (REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text().splitlines()
    start = lines.index("# groups:")
    block = [line[2:] for line in lines[start : start + 5]]
    packing = yaml.safe_load("\n".join(block))
    assert set(packing) == {"groups", "group-components"}, packing
    return packing


# Points per group on the 2-CPU test node: one CPU each, so a group fills the node.
PACKED = 2


def test_tiny_study_through_slurm_with_points_packed_per_allocation_matches_a_local_run(slurm_cluster, tmp_path):
    """The profile's packing of several points into one allocation (one GPU on a GPU cluster; here
    the CPU stand-in): every group of PACKED points is one SLURM job that ran them one after the
    other, and the study's tables equal a plain local run's."""
    local, cluster = (tmp_path / "local").resolve(), (tmp_path / "slurm").resolve()
    # The tiny study without its QGT spectra: their rules add eight SLURM jobs (one spectrum per
    # point, the table, three figures; about 55 s of this test), are not compared here, and run
    # locally in tests/workflow. The energies' figures still run through SLURM.
    study = {k: v for k, v in helpers.tiny_study().items() if k != "qgt"}
    for workdir in (local, cluster):
        workdir.mkdir()
        helpers.copy_workflow(workdir)
        helpers.write_study(workdir / "tiny.yaml", study)
    grid = study["grid"]
    n_points = len(grid["lattice.L"]) * len(grid["ansatz.alpha"])
    assert n_points % PACKED == 0
    # A group job asks for its points' CPUs summed; on a smaller node it would pend until the timeout.
    assert slurm_cluster["cpus"] >= PACKED, f"the node has {slurm_cluster['cpus']} CPUs; a group of {PACKED} points needs as many"

    profile, _ = slurm_test_profile(cluster, slurm_cluster["cpus"], slurm_cluster["mem_mb"])
    config_path = cluster / profile / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    packing = shipped_packing()
    assert "vmc=gpu_points" in packing["groups"] and packing["group-components"] == ["gpu_points=4"], packing
    config.update(groups=packing["groups"], **{"group-components": [f"gpu_points={PACKED}"]})
    config["set-resources"]["vmc"].update(cpus_per_task=1, mem_mb=min(2000, slurm_cluster["mem_mb"] // (2 * PACKED)))
    config["set-threads"]["vmc"] = 1
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    threads = config["set-threads"]

    # The local run gives each rule the threads the SLURM profile gives it. Snakemake exports
    # OPENBLAS_NUM_THREADS=<threads> to a job, and the solver's LAPACK calls (eigh, Cholesky in
    # SR, through jaxlib/scipy's OpenBLAS) round differently with another thread count: with
    # threads 1 locally and 2 under SLURM the histories differ in the last bits (~1e-14 relative).
    # Its tables only (target aggregate): the figures are not compared, and their jobs cost ~20 s.
    helpers.snakemake(local, "aggregate", "--configfile", "tiny.yaml", "--set-threads", *(f"{r}={n}" for r, n in threads.items()))

    slurm_args = ["--workflow-profile", profile, "--slurm-no-account", "--jobs", "4", "--latency-wait", "10"]
    # --slurm-keep-successful-logs: the plugin deletes the logs of successful jobs otherwise.
    slurm_args.append("--slurm-keep-successful-logs")
    run = run_on_cluster(cluster, "--configfile", "tiny.yaml", *slurm_args)

    # Every group of points (and each exact reference and the aggregation) ran as a SLURM job:
    # this run submitted it (sbatch gave a job id), the job's output is the plugin's log of a
    # Snakemake jobstep running the group's vmc jobs, and slurmctld knows the job: named after
    # this run, completed, in partition debug, in this directory, without a GPU, with the CPUs
    # of its points summed.
    out = run.stdout + run.stderr
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", out))
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)  # the plugin's job name for this run's jobs
    vmc_dir = cluster / "results" / "tiny" / "vmc"
    points = {str(p.parent.relative_to(vmc_dir)) for p in vmc_dir.rglob("summary.parquet")}
    assert len(points) == n_points
    assert not slurm_logs(cluster, "vmc"), "a point ran as a job of its own"
    # The plugin's log of a group job: .snakemake/slurm_logs/group_<group>_<rules>/<id>.log. In it, the
    # jobstep's Snakemake runs the group's jobs (each one again through srun: every point shows twice).
    logs = (cluster / ".snakemake" / "slurm_logs").glob("group_gpu_points*/*.log")
    groups = {log.stem: log.read_text() for log in logs}
    assert len(groups) == n_points // PACKED, (sorted(groups), out[-3000:])
    ran = {}  # point -> SLURM job id of its group
    for job_id, log in groups.items():
        assert "--executor slurm-jobstep" in log and "rule vmc:" in log, log[-3000:]
        mine = set(re.findall(r"wildcards: point=(\S+)", log))
        assert len(mine) == PACKED, (job_id, mine)
        # One after the other (the plugin's jobstep runs with --jobs 1; docs/cluster.md says so):
        # the k-th point starts after the group's Snakemake counted k done. Should the plugin
        # start running a group's points side by side, this fails and the docs must change.
        starts = sorted(log.index(f"wildcards: point={point}") for point in mine)
        for k, start in enumerate(starts[1:], 1):
            assert f"{k} of {PACKED} steps" in log[:start], log[-3000:]
        ran.update(dict.fromkeys(mine, job_id))
    assert set(ran) == points, (sorted(ran), sorted(points), out[-3000:])
    assert len(slurm_logs(cluster, "exact_reference")) == 2 and len(slurm_logs(cluster, "aggregate")) == 1, out[-3000:]
    for job_id in groups:
        assert job_id.isdigit() and job_id in submitted, (job_id, sorted(submitted))
        info = scontrol_job(job_id)
        assert info["JobName"] == run_id and info["JobState"] == "COMPLETED" and info["Partition"] == "debug", info
        assert Path(info["WorkDir"]).resolve() == cluster, info
        assert "gpu" not in info.get("TRES", "") + info.get("TresPerNode", ""), info
        assert info["NumCPUs"] == str(PACKED), info

    # The same numbers, exactly: the solver is deterministic on the CPU for a given spec and seed.
    for name, keys in (("energies", ["spec_hash"]), ("convergence", ["spec_hash", "iteration"])):
        expected, got = table(local, name, keys), table(cluster, name, keys)
        assert list(got.columns) == list(expected.columns), name
        assert len(got) == len(expected) > 0, name
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
    assert len(table(cluster, "energies", ["spec_hash"])) == n_points


# An open TFIM chain, L=16, RBM α=2: 26-36 ms per step on one core here, so 4000 steps take 104-144 s,
# past the at most ~50 s of steps the first job runs before its SIGTERM (below), also on a machine
# twice as fast. No exact reference
# (the open chain has no closed form; max_dim 0): its job would start beside the point's first job
# and slow the point's start, which must come before the signal.
LIMIT_STUDY = {
    "study": "limit",
    "defaults": {
        "model": {"name": "tfim", "J": 1.0, "h": 1.0},
        "lattice": {"kind": "chain", "pbc": False, "L": 16},
        "ansatz": {"name": "rbm", "dtype": "float64", "alpha": 2},
        "sampler": {"n_samples": 1024, "n_chains": 16, "n_discard": 4, "n_samples_eval": 1024},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "n_iter": 4000},
    },
    "grid": {"seed": [0]},
    "exact": {"max_dim": 0},
}
# slurmctld looks at time limits every 30 s and sends --signal=SIG@W at the first look within
# W + 30 s of the limit: with a 1-minute limit and W = 1, 29 to 59 s after the job starts, when
# the solver has run for up to ~50 s (it starts ~10 s in, after two Snakemake start-ups). With a
# larger W it comes earlier, and from W = 30 on at the first look, maybe before the solver
# has its handler: then nothing is checkpointed.
SIGNAL_BEFORE_LIMIT_S = 1


def run_log_time(line: str) -> datetime:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_a_point_stopped_by_its_time_limit_resumes_from_its_checkpoint(slurm_cluster, tmp_path):
    """The shipped profile's --signal=TERM@W, checkpoint and retries, on a 1-minute limit: the
    first job of the point is signalled before its limit, the run checkpoints, the job fails, the
    retry resumes from that checkpoint and the study's tables hold every iteration once."""
    workdir = helpers.copy_workflow(tmp_path).resolve()
    helpers.write_study(workdir / "limit.yaml", LIMIT_STUDY)
    n_iter = LIMIT_STUDY["defaults"]["optimizer"]["n_iter"]
    profile, _ = slurm_test_profile(workdir, slurm_cluster["cpus"], slurm_cluster["mem_mb"])
    config_path = workdir / profile / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    assert config["retries"] >= 1 and config["default-resources"]["slurm_extra"] == "'--signal=TERM@120'", config
    vmc = config["set-resources"]["vmc"]
    # The retry gets 10 minutes, out of reach of its signal: a second 1-minute job would be stopped
    # again somewhere in its 29-59 s, and the number of jobs would depend on this machine's speed.
    vmc.update(runtime="1 if attempt == 1 else 10", slurm_extra=f"'--signal=TERM@{SIGNAL_BEFORE_LIMIT_S}'")
    # One core on any node: the step times above are one thread's.
    vmc["cpus_per_task"] = config["set-threads"]["vmc"] = 1
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    slurm_args = ["--workflow-profile", profile, "--slurm-no-account", "--slurm-keep-successful-logs", "--latency-wait", "10"]
    # The tables, not the figures: the plots add three SLURM jobs (~25 s) and test_tiny_study_* runs them.
    run = run_on_cluster(workdir, "aggregate", "--configfile", "limit.yaml", *slurm_args)
    out = run.stdout + run.stderr

    (point,) = [p.parent for p in (workdir / "results" / "limit" / "vmc").rglob("summary.parquet")]
    summary = pd.read_parquet(point / "summary.parquet").iloc[0]
    # What a finished run writes (vmc.convergence_status); a stopped one says interrupted or failed.
    assert summary["status"] in ("converged", "not_converged") and summary["n_iter"] == n_iter, summary
    assert pd.read_parquet(point / "history.parquet")["iteration"].tolist() == list(range(n_iter))
    tables = workdir / "results" / "limit" / "tables"
    energies = pd.read_parquet(tables / "energies.parquet")
    assert energies[["spec_hash", "status", "n_iter"]].values.tolist() == [[summary["spec_hash"], summary["status"], n_iter]]
    assert pd.read_parquet(tables / "convergence.parquet")["iteration"].tolist() == list(range(n_iter))

    logs = slurm_logs(workdir, "vmc")
    assert len(logs) > 1, f"the point finished in its first job, before SIGTERM: raise n_iter\n{out[-3000:]}"
    assert len(logs) == 2, (sorted(logs), out[-3000:])
    stopped, retried = sorted(logs, key=int)
    first, second = scontrol_job(stopped), scontrol_job(retried)
    assert first["JobState"] == "FAILED" and first["TimeLimit"] == "00:01:00", first
    assert second["JobState"] == "COMPLETED" and second["TimeLimit"] == "00:10:00", second
    # slurmstepd logs the signal to the step as "CANCELLED"; SLURM's own kill at the limit would
    # add a line "DUE TO TIME LIMIT". SIGTERM reaches every process of the step; the rule's shell
    # has exec'd the solver, so Snakemake sees the solver's own exit: 75, interrupted after its
    # checkpoint (a shell that waited would die of the signal at once: "died with <Signals.SIGTERM: 15>").
    signalled = re.search(rf"STEP {stopped}\.0 ON \S+ CANCELLED AT (\S+) \*\*\*", logs[stopped])
    assert signalled and "DUE TO TIME LIMIT" not in logs[stopped], logs[stopped][-3000:]
    assert "returned non-zero exit status 75." in logs[stopped], logs[stopped][-3000:]
    signalled_at = datetime.fromisoformat(signalled.group(1))
    assert signalled_at < datetime.fromisoformat(first["StartTime"]) + timedelta(minutes=1), (signalled_at, first)

    # run.log: the stopped job's last checkpoint is the one written on the signal (a periodic one,
    # every 25 iterations, would be older than the signal), and the retry resumes there.
    lines = (point / "run.log").read_text().splitlines()
    resumes = [i for i, line in enumerate(lines) if " resuming " in line]
    # None: the signal came before the solver had its handler (a slow start), and nothing was saved.
    assert len(resumes) == 1, "\n".join(line[:100] for line in lines[-60:])
    (resumed,) = resumes
    at = int(re.search(rf"resuming {summary['spec_hash']} at iteration (\d+)$", lines[resumed]).group(1))
    checkpoint = [line for line in lines[:resumed] if re.search(r" iteration \d+: E=", line)][-1]
    assert 0 < at < n_iter and f" iteration {at - 1}: E=" in checkpoint, lines[resumed - 3 : resumed + 1]
    assert run_log_time(checkpoint) >= signalled_at, (checkpoint, signalled_at)
