"""The workflow on a real SLURM cluster through profiles/slurm.

The cluster is the one-node test cluster of ``tests/slurm/cluster.sh`` (CI
starts it in ``.ci/run``); without it these tests are skipped with a message
that says how to start it. They never touch another cluster: they check its
name first.
"""

import os
import re
import signal
import subprocess
import sys

import pytest
import yaml

from conftest import copy_repo

pytestmark = pytest.mark.workflow

TEST_CLUSTER = "gapstudy"  # ClusterName in the slurm.conf that tests/slurm/cluster.sh writes


def cluster_name() -> str | None:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^ClusterName\s*=\s*(\S+)", out.stdout, re.M)
    return found.group(1) if out.returncode == 0 and found else None


requires_cluster = pytest.mark.skipif(
    cluster_name() != TEST_CLUSTER,
    reason="no test SLURM cluster here; `sudo tests/slurm/cluster.sh up` starts one (.ci/run does)",
)


def snakemake_bounded(workdir, *args, timeout: int):
    """Run Snakemake in its own process group; past ``timeout`` kill the group and its SLURM jobs.

    SIGKILL, not SIGTERM: a Snakemake waiting on a status check that never
    answers ignores SIGTERM.
    """
    log = workdir / "snakemake.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            run = re.search(r"SLURM run ID: (\S+)", log.read_text())
            if run:
                subprocess.run(["scancel", "--name", run.group(1)], check=False)
            pytest.fail(f"snakemake {' '.join(args)} did not finish in {timeout} s; log:\n{log.read_text()[-5000:]}")
    return proc.returncode, log.read_text()


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return lambda name: copy_repo(tmp_path_factory.mktemp(name))


@requires_cluster
def test_tiny_study_runs_as_slurm_jobs_to_a_finished_report(copy):
    workdir = copy("slurm")
    profile = ["--profile", "profiles/slurm", "--configfile", "config/tiny.yaml"]
    rc, log = snakemake_bounded(workdir, *profile, timeout=1200)
    assert rc == 0, log[-5000:]
    rc, report_log = snakemake_bounded(workdir, *profile, "--report", "results/report.html", timeout=300)
    assert rc == 0, report_log[-5000:]
    assert (workdir / "results/report.html").stat().st_size > 100_000

    # Every training, lock-step and common-random-numbers job ran inside a SLURM job, each its own.
    from gapstudy import config as study_config

    cfg = study_config.validate(yaml.safe_load((workdir / "config/tiny.yaml").read_text()), available_devices=["cpu"])
    train = {(r["framework"], r["variant"], r["device"], r["draw"])
             for r in study_config.runs(cfg) + study_config.draw_runs(cfg)}
    jobs = len(train) + len(cfg["lockstep"]["pairs"]) + 2 * len(cfg["crn"]["pairs"])
    cluster_logs = sorted(p for part in ("train", "lockstep", "crn") for p in (workdir / "logs" / part).rglob("*.log"))
    assert len(cluster_logs) == jobs
    ids = {}
    for path in cluster_logs:
        found = re.search(r"SLURM_JOB_ID=(\d+)", path.read_text())
        assert found, f"{path} did not run as a SLURM job"
        ids[path] = found.group(1)
    # ... the very jobs the plugin submitted, one each.
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert sorted(ids.values()) == sorted(submitted)
    # The light rules ran on the submitting host.
    for light in ("aggregate", "statistics", "determinism"):
        assert "SLURM_JOB_ID" not in (workdir / f"logs/{light}.log").read_text()


@requires_cluster
def test_only_cuda_jobs_ask_slurm_for_a_gpu(copy):
    """The sbatch lines the plugin sends, read from its log: --gpus for cuda, nothing for cpu.

    This cluster has no GPU: SLURM refuses the cuda job's request, which shows
    the request reached it. The submitting host has none either; on a cluster
    the listed devices are taken as they are.
    """
    workdir = copy("slurm_gpu")
    cfg = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    cfg |= {"devices": ["cpu", "cuda"], "gpu_model": "h100", "seeds": [0], "repeat_runs": 0}
    (workdir / "config/gpu.yaml").write_text(yaml.safe_dump(cfg))
    rc, log = snakemake_bounded(
        workdir, "--profile", "profiles/slurm", "--configfile", "config/gpu.yaml", "--verbose",
        "results/runs/draw0/torch/as_posted/cpu", "results/runs/draw0/torch/as_posted/cuda", timeout=600)
    calls = re.findall(r"sbatch call: (sbatch .*)", log)
    cpu = [c for c in calls if "device=cpu" in c or "device_cpu" in c]
    cuda = [c for c in calls if "device=cuda" in c or "device_cuda" in c]
    assert len(cpu) == 1 and len(cuda) == 1, calls
    assert "--gpus=h100:1" in cuda[0]
    assert "--gpus" not in cpu[0] and "--gres" not in cpu[0]
    assert "--cpus-per-task=1" in cpu[0] and "--mem 2000" in cpu[0]
    assert "Invalid generic resource" in log  # SLURM itself refused the GPU request
    assert rc != 0 and (workdir / "results/runs/draw0/torch/as_posted/cpu/seed0.json").is_file()
