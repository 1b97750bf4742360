"""Snakemake on the test SLURM cluster, started when the session's tests are collected and run beside them.

A run on the cluster mostly waits: the SLURM plugin checks the jobs' status
10 s after a submission and adds 10 s to every check in which no job ended
(``snakemake_executor_plugin_slurm``, ``next_seconds_between_status_checks``),
so the tiny study took about 230 s there against about 105 s with
``--cores 2``. Each run of ``RUNS`` therefore starts in the background as soon
as pytest has collected its test (``conftest.pytest_collection_finish``), in
its own scratch copy of the repository, and its test waits for it and checks
what it did (``tests/test_slurm.py``). Its jobs' bits do not depend on what
runs beside them: every job's threads are fixed (``threads_per_job``).
Without the test cluster nothing starts and the tests skip.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

TEST_CLUSTER = "gapstudy"  # ClusterName in the slurm.conf that tests/slurm/cluster.sh writes
TESTS = "test_slurm.py"


def cluster_name() -> str | None:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^ClusterName\s*=\s*(\S+)", out.stdout, re.M)
    return found.group(1) if out.returncode == 0 and found else None


def _tiny(workdir: Path) -> list[str]:
    return ["--profile", "profiles/slurm", "--configfile", "config/tiny.yaml"]


def _gpu(workdir: Path) -> list[str]:
    """One cpu and one cuda job of the tiny config's posted PyTorch arm, asking SLURM for an h100."""
    cfg = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    cfg |= {"devices": ["cpu", "cuda"], "gpu_model": "h100", "seeds": [0], "repeat_runs": 0}
    (workdir / "config/gpu.yaml").write_text(yaml.safe_dump(cfg))
    return ["--profile", "profiles/slurm", "--configfile", "config/gpu.yaml", "--verbose",
            "results/runs/draw0/torch/as_posted/cpu", "results/runs/draw0/torch/as_posted/cuda"]


# test name: (scratch folder, its Snakemake arguments given the copy, seconds it may take from its start)
RUNS = {
    "test_tiny_study_runs_as_slurm_jobs_to_a_finished_report": ("slurm", _tiny, 1200),
    "test_only_cuda_jobs_ask_slurm_for_a_gpu": ("slurm_gpu", _gpu, 600),
}


class Run:
    """One Snakemake on the cluster in its own process group, its output in ``workdir/<log>``."""

    def __init__(self, workdir: Path, args: list[str], timeout: int, env: dict, log: str = "snakemake.log"):
        self.workdir, self.args, self.timeout, self.env = workdir, args, timeout, env
        self.log = workdir / log
        self.started = time.monotonic()
        with open(self.log, "w") as handle:
            self.proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env,
                                         stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self) -> tuple[int, str]:
        """(return code, log); past ``timeout`` from the start the run is killed and this fails."""
        import pytest

        try:
            self.proc.wait(timeout=max(1.0, self.timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"snakemake {' '.join(self.args)} did not finish in {self.timeout} s; "
                        f"log:\n{self.log.read_text()[-5000:]}")
        return self.proc.returncode, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL to the group, not SIGTERM: a Snakemake waiting on a status check ignores SIGTERM;
        then its SLURM jobs are cancelled by the run's name."""
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        run = re.search(r"SLURM run ID: (\S+)", self.log.read_text())
        if run:
            subprocess.run(["scancel", "--name", run.group(1)], check=False)


def start_collected(items, mktemp, copy_repo, workflow_env) -> dict[str, Run]:
    """Start the run of every collected test of ``RUNS`` (none without the test cluster)."""
    chosen = [item.name for item in items if item.path.name == TESTS and item.name in RUNS]
    if not chosen or cluster_name() != TEST_CLUSTER:
        return {}
    runs = {}
    for name in chosen:
        folder, arguments, timeout = RUNS[name]
        workdir = copy_repo(mktemp(folder))
        runs[name] = Run(workdir, arguments(workdir), timeout, workflow_env(workdir))
    return runs
