"""The workflow under bad input, a killed job, an interrupted Snakemake and a failing job, for real."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from conftest import copy_repo
from conftest import snakemake as _snakemake

pytestmark = pytest.mark.workflow


def small_config(workdir, name, **changes):
    """The tiny config cut to a few jobs, so that each scenario takes seconds, not minutes."""
    cfg = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    cfg["variants"] = {"as_posted": {"frameworks": ["torch", "keras"], "question": "reproduce"}}
    for key in ("lockstep", "crn", "dataset_draws"):
        cfg.pop(key, None)
    cfg["repeat_runs"] = 0
    cfg["stack_seeds"] = 1  # one seed at a time: a kill lands between two finished seeds
    for key, value in changes.items():
        cfg[key] = value
    # Only the hypotheses whose framework and variant this cut-down config still runs.
    cfg["hypotheses"] = {name: h for name, h in cfg["hypotheses"].items()
                         if h["framework"] in cfg["variants"].get(h["variant"], {}).get("frameworks", [])}
    path = workdir / "config" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return f"config/{name}.yaml"


def snakemake(workdir, *args):
    return _snakemake(workdir, *args, check=False)


def test_a_bad_config_stops_snakemake_before_any_job(tmp_path):
    workdir = copy_repo(tmp_path)
    config = small_config(workdir, "bad")
    text = (workdir / config).read_text().replace("learning_rate: 0.001", "learning_rate: -0.001")
    (workdir / config).write_text(text)
    proc = snakemake(workdir, "--cores", "1", "--configfile", config)
    assert proc.returncode != 0
    assert "config key training.learning_rate: -0.001 is less than or equal to the minimum of 0" in proc.stderr
    assert not (workdir / "results").exists()

    missing = snakemake(workdir, "--cores", "1", "--configfile", "config/nope.yaml")
    assert missing.returncode != 0 and "config/nope.yaml" in missing.stderr
    assert not (workdir / "results").exists()


def _wait_for(path, proc, timeout=600):
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, "snakemake ended before the moment to interrupt it"
        assert time.time() - start < timeout, f"{path} did not appear"
        time.sleep(0.05)


def _training_process(workdir):
    """The pid of the training job's Python process running in ``workdir``."""
    out = subprocess.run(["pgrep", "-f", f"{workdir}/.snakemake/scripts/.*train.py"],
                         capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, out.stdout
    return pids[0]


def test_killed_job_and_interrupted_snakemake_resume_without_redoing_finished_runs(tmp_path):
    workdir = copy_repo(tmp_path)
    config = small_config(workdir, "resume", seeds=[0, 1, 2, 3])
    command = ["--cores", "1", "--configfile", config]
    log = open(workdir / "first.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *command], cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # The Keras job runs first (longest first); kill the PyTorch job after it, between two seeds.
        keras = workdir / "results/runs/draw0/keras/as_posted/cpu/seed3.json"
        kept = workdir / "results/partial/draw0/torch/as_posted/cpu/seed1.json"
        _wait_for(kept, proc)
        os.kill(_training_process(workdir), signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert proc.returncode != 0
    assert keras.is_file() and not (workdir / "results/tables/runs.csv").exists()
    keras_mtime = keras.stat().st_mtime_ns

    proc = snakemake(workdir, *command)
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch_log = (workdir / "logs/train/torch/as_posted/draw0/cpu.log").read_text()
    assert "seed 0: reusing the finished run" in torch_log and "seed 1: reusing the finished run" in torch_log
    second_start = torch_log.rindex("seed 0: reusing")
    assert "training torch/as_posted seeds=[0]" not in torch_log[second_start:]
    assert keras.stat().st_mtime_ns == keras_mtime  # the finished job was not run again
    runs = pd.read_csv(workdir / "results/tables/runs.csv")
    assert len(runs) == 8 and not (workdir / "results/partial/draw0/torch/as_posted/cpu").exists()


FAULT = '''

# Injected by tests/test_failures.py in this scratch copy: the fixed variant runs out of memory.
_train_seeds = train_seeds


def train_seeds(dataset, seeds, hp, switches, **kwargs):
    if switches["target_shape"] == "matched":
        raise MemoryError("injected by the test: out of memory")
    return _train_seeds(dataset, seeds, hp, switches, **kwargs)
'''


def test_a_failing_job_and_a_diverging_run_with_keep_going_and_partial_results(tmp_path):
    workdir = copy_repo(tmp_path)
    with open(workdir / "src/gapstudy/frameworks/train_torch.py", "a") as source:
        source.write(FAULT)
    variants = {
        "as_posted": {"frameworks": ["torch", "keras"], "question": "reproduce"},
        "fixed": {"frameworks": ["torch"], "switches": {"target_shape": "matched"}, "baseline": "as_posted",
                  "fix": True, "question": "reproduce"},
        "diverging": {"description": "Keras at learning rate 1e6: the loss becomes NaN in the first epoch.",
                      "frameworks": ["keras"], "switches": {"learning_rate": 1.0e6}, "question": "diagnose"},
    }
    config = small_config(workdir, "faulty", variants=variants)

    # Without partial results: the failing job stops, the others finish, no tables.
    proc = snakemake(workdir, "--cores", "2", "--keep-going", "--configfile", config)
    assert proc.returncode != 0
    assert "MemoryError: injected by the test: out of memory" in (workdir / "logs/train/torch/fixed/draw0/cpu.log").read_text()
    for done in ("torch/as_posted", "keras/as_posted", "keras/diverging"):
        assert (workdir / f"results/runs/draw0/{done}/cpu/seed1.json").is_file(), done
    assert not (workdir / "results/tables/runs.csv").exists()

    # With partial results: the same command builds tables and report from what finished.
    cfg = yaml.safe_load((workdir / config).read_text()) | {"partial_results": True}
    (workdir / config).write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = snakemake(workdir, "--cores", "2", "--keep-going", "--configfile", config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = snakemake(workdir, "--cores", "2", "--configfile", config, "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]

    missing = pd.read_csv(workdir / "results/tables/missing.csv")
    assert sorted(zip(missing.framework, missing.variant, missing.seed)) == [("torch", "fixed", 0), ("torch", "fixed", 1)]
    assert (missing.reason == "MemoryError: injected by the test: out of memory").all()
    runs = pd.read_csv(workdir / "results/tables/runs.csv")
    diverged = runs[runs.diverged]
    assert set(diverged.variant) == {"diverging"} and (diverged.diverged_epoch == 1).all()
    summary = pd.read_csv(workdir / "results/tables/summary.csv").set_index("variant")
    assert summary.loc["diverging", "n_diverged"] == 2
    answer = (workdir / "results/report/answer.rst").read_text()
    assert "Runs that failed or diverged" in answer
    assert "``torch/fixed``, failed, seeds 0, 1: MemoryError" in answer
    assert "``keras/diverging``, diverged, seeds 0, 1: loss not finite at epoch 1" in answer
