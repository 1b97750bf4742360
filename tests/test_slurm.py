"""The workflow on a real SLURM cluster through profiles/slurm.

The cluster is the one-node test cluster of ``tests/slurm/cluster.sh`` (CI
starts it in ``.ci/run``); without it these tests are skipped with a message
that says how to start it. They never touch another cluster: they check its
name first. Each test's Snakemake run starts in the background when the
tests are collected and runs beside the other tests (``slurm_runs``: a run
on the cluster mostly waits for its status checks); the test waits for it.
"""

import re

import pytest
import yaml

from slurm_runs import Run

pytestmark = pytest.mark.workflow


def test_tiny_study_runs_as_slurm_jobs_to_a_finished_report(slurm_run):
    workdir = slurm_run.workdir
    rc, log = slurm_run.wait()
    assert rc == 0, log[-5000:]
    report = Run(workdir, [*slurm_run.args, "--report", "results/report.html"], 300, slurm_run.env,
                 log="report.log")
    rc, report_log = report.wait()
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


def test_only_cuda_jobs_ask_slurm_for_a_gpu(slurm_run):
    """The sbatch lines the plugin sends, read from its log: --gpus for cuda, nothing for cpu.

    This cluster has no GPU: SLURM refuses the cuda job's request, which shows
    the request reached it. The submitting host has none either; on a cluster
    the listed devices are taken as they are.
    """
    workdir = slurm_run.workdir
    rc, log = slurm_run.wait()
    calls = re.findall(r"sbatch call: (sbatch .*)", log)
    cpu = [c for c in calls if "device=cpu" in c or "device_cpu" in c]
    cuda = [c for c in calls if "device=cuda" in c or "device_cuda" in c]
    assert len(cpu) == 1 and len(cuda) == 1, calls
    assert "--gpus=h100:1" in cuda[0]
    assert "--gpus" not in cpu[0] and "--gres" not in cpu[0]
    assert "--cpus-per-task=1" in cpu[0] and "--mem 2000" in cpu[0]
    assert "Invalid generic resource" in log  # SLURM itself refused the GPU request
    assert rc != 0 and (workdir / "results/runs/draw0/torch/as_posted/cpu/seed0.json").is_file()
