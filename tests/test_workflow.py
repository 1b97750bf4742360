"""The workflow end to end on the tiny config, in a scratch copy of the repository."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, copy_repo, snakemake

pytestmark = pytest.mark.workflow


def test_every_run_is_recorded(study):
    from gapstudy import config as study_config

    cfg = study_config.load(study / "config/tiny.yaml")
    runs = pd.read_csv(study / "results/tables/runs.csv")
    expected = sorted((framework, variant, seed) for variant, spec in cfg["variants"].items()
                      for framework in spec["frameworks"] for seed in cfg["seeds"])
    assert sorted(zip(runs.framework, runs.variant, runs.seed)) == expected
    assert ("keras", "as_posted", 1) in expected and ("torch", "fixed", 0) in expected
    assert set(runs.device) == {"cpu"} and not runs.diverged.any()
    epochs = pd.read_csv(study / "results/tables/epochs.csv")
    assert len(epochs) == len(expected) * 2
    assert epochs[["train_loss", "val_loss_user", "val_mse"]].notna().all().all()
    predictions = pd.read_csv(study / "results/tables/predictions.csv")
    assert len(predictions) == len(expected) * 700


def test_statistics_cover_every_variant_and_switch(study):
    attribution = pd.read_csv(study / "results/tables/attribution.csv")
    assert set(attribution.variant) >= {"fixed", "init_keras", "adam_keras", "aligned_but_posted_shapes"}
    fixed = attribution.set_index("variant").loc["fixed"]
    assert fixed.switches == "target_shape: posted → matched" and fixed.share_of_gap > 0.5
    equivalence = pd.read_csv(study / "results/tables/equivalence.csv")
    assert {"tost_p", "equivalent", "margin"} <= set(equivalence.columns)
    answer = (study / "results/report/answer.rst").read_text()
    for heading in ["What to do", "research question 2", "research question 3", "research question 4",
                    "research question 5", "research question 6"]:
        assert heading in answer
    # Lock-step: the posted pair disagrees on the first batch's loss; runs repeat bit for bit on CPU.
    assert "They already disagree on the loss of the first batch" in answer
    assert "every run trained twice repeated **bit for bit**" in answer
    assert "this part did not run" in answer  # CPU against GPU, on a machine without one
    runs = pd.read_csv(study / "results/tables/runs.csv")
    assert {"torch", "keras", "keras_torch"} <= set(runs["framework"]) and runs["repeat_identical"].all()


def test_torch_as_posted_job_equals_the_users_loop(study):
    """Bit for bit, at the job's thread count (a matmul's sums depend on it)."""
    import torch

    from gapstudy.studies.seed import posted
    from gapstudy.studies.seed.data import load_dataset

    dataset = load_dataset(study / "results/data/draw0/dataset.npz", study / "results/data/draw0/manifest.json")
    record = json.loads((study / "results/runs/draw0/torch/as_posted/cpu/seed0.json").read_text())
    torch.set_num_threads(record["settings"]["torch_num_threads"])
    *_, predictions, _ = posted.torch_as_posted(dataset, seed=0, epochs=2)
    assert np.asarray(record["predictions"], dtype=np.float32).tobytes() == predictions.tobytes()


def test_job_logs_show_each_seed_and_epoch(study):
    log = (study / "logs/train/keras/as_posted/draw0/cpu.log").read_text()
    assert "training keras/as_posted seeds=[0, 1] " in log  # tiny.yaml's seeds, one job, one stack
    for seed in (0, 1):
        assert f"seed {seed} epoch    1/2" in log and f"seed {seed} epoch    2/2" in log
        assert f"seed {seed} done: val_mse=" in log


def test_jobs_stay_within_their_thread(study):
    for path in (study / "results/runs").rglob("*.json"):
        record = json.loads(path.read_text())
        assert record["threads"] == 1
        settings = record["settings"]
        assert settings.get("torch_num_threads", 1) == 1 and settings.get("tf_intra_op_threads", 1) == 1
        # One thread cannot use more CPU time than wall time (import included).
        assert record["cpu_seconds"] <= 1.3 * record["wall_seconds"], path


def test_report_holds_answer_figures_and_tables(study):
    html = (study / "results/report.html").read_text()
    answer = (study / "results/report/answer.rst").read_text()
    assert "torch/as_posted" in answer and "times the reference" in answer
    for name in ["loss_curves.png", "predicted_vs_true.png", "mse_per_variant.png", "run_time.png",
                 "summary.html", "comparison.html", "runs.html", "provenance.html", "runtime.html",
                 "attribution.html", "equivalence.html", "attribution_forest.png", "equivalence.png",
                 "lockstep.html", "lockstep_drift.png", "determinism.html", "devices.html", "determinism.png"]:
        assert name in html, name
    assert "times the reference" in html  # the answer is on the front page
    provenance = json.loads((study / "results/report/provenance.json").read_text())
    assert provenance["devices_ran"] == ["cpu"] and provenance["n_runs"] == len(pd.read_csv(study / "results/tables/runs.csv"))
    assert "torch" in provenance["distributions"] and "snakemake" in provenance["distributions"]


def test_a_finished_study_has_nothing_left_to_do(study):
    proc = snakemake(study, "-n", "--cores", "2", "--configfile", "config/tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_missing_device_stops_before_any_job(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    workdir = copy_repo(tmp_path)
    proc = snakemake(workdir, "--cores", "1", "--configfile", "config/tiny.yaml",
                     "--config", "devices=[cuda]", check=False)
    assert proc.returncode != 0
    assert "config key devices: 'cuda' is not available on this machine" in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


def test_lint_and_format_are_clean():
    lint = snakemake(ROOT, "--lint", "--configfile", "config/tiny.yaml")
    assert "Congratulations" in lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
                         cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_a_configfile_replaces_the_default_config(tmp_path):
    """Variants the given config leaves out do not run (no merge with config/config.yaml)."""
    import yaml

    from gapstudy import config as study_config

    cfg = study_config.load(ROOT / "config/tiny.yaml")
    cfg["variants"] = {"as_posted": cfg["variants"]["as_posted"]}
    cfg["lockstep"]["pairs"] = {"posted": cfg["lockstep"]["pairs"]["posted"]}
    cfg["crn"]["pairs"] = {"control": cfg["crn"]["pairs"]["control"]}
    cfg["hypotheses"] = {k: cfg["hypotheses"][k] for k in ("gap", "control")}
    cfg.pop("dataset_draws")
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    dry = snakemake(ROOT, "-n", "--cores", "1", "--configfile", str(path))
    counts = [line.split() for line in (dry.stdout + dry.stderr).splitlines() if line.startswith("train ")]
    assert counts and counts[0] == ["train", "5"]  # 1 variant × 5 frameworks, each job all seeds


def second_tiny_run(request, tmp_path_factory):
    """Another run of the tiny study from nothing, in its own copy: the session's run on the test SLURM
    cluster where there is one (``slurm_runs``: started when the tests were collected, through another
    executor, so the same bits say more and cost no second run here), else one with ``--cores 2``."""
    from conftest import SLURM_RUNS

    on_cluster = request.config.stash.get(SLURM_RUNS, {}).get("test_tiny_study_runs_as_slurm_jobs_to_a_finished_report")
    if on_cluster is not None:
        rc, log = on_cluster.wait()
        assert rc == 0, log[-5000:]
        return on_cluster.workdir
    again = copy_repo(tmp_path_factory.mktemp("again"))
    snakemake(again, "--cores", "2", "--configfile", "config/tiny.yaml")
    return again


def test_a_second_run_from_scratch_gives_the_same_tables_byte_for_byte(study, request, tmp_path_factory):
    """Times live in timings.csv and runtime.csv; every other table must not move by one byte."""
    again = second_tiny_run(request, tmp_path_factory)
    names = sorted(p.name for p in (study / "results/tables").glob("*.csv"))
    timed = {"timings.csv", "runtime.csv"}
    assert {"runs.csv", "epochs.csv", "predictions.csv", "summary.csv", "comparison.csv", "equivalence.csv",
            "attribution.csv", "determinism.csv", "lockstep.csv", "missing.csv"} <= set(names)
    for name in sorted(set(names) - timed):
        first, second = (root / "results/tables" / name for root in (study, again))
        assert first.read_bytes() == second.read_bytes(), f"{name} differs between two runs"
    timings = [pd.read_csv(root / "results/tables/timings.csv") for root in (study, again)]
    assert not timings[0]["started"].equals(timings[1]["started"])
    # The figures too (seaborn's jitter seeded), but those drawn from the times.
    from gapstudy.registry import FIGURES

    drawn = sorted(p.name for p in (study / "results/figures").glob("*.png"))
    untimed = [f"{n}.png" for n, f in FIGURES.items() if not timed & {f"{t}.csv" for t in f.tables}]
    assert "mse_per_variant.png" in set(untimed) & set(drawn)
    for name in sorted(set(untimed) & set(drawn)):
        first, second = (root / "results/figures" / name for root in (study, again))
        assert first.read_bytes() == second.read_bytes(), f"figure {name} differs between two runs"


def test_every_result_is_readable_by_the_group(study):
    """Atomic writes (mkstemp: 0600) get the umask's mode, like any new file."""
    import stat

    unreadable = [p for p in (study / "results").rglob("*")
                  if p.is_file() and not stat.S_IMODE(p.stat().st_mode) & stat.S_IRGRP]
    assert not unreadable, unreadable[:5]
    assert len(list((study / "results").rglob("*.json"))) > 30


def test_records_and_provenance_name_the_code(study):
    record = json.loads((study / "results/runs/draw0/torch/as_posted/cpu/seed0.json").read_text())
    assert len(record["code_sha256"]) == 64 and len(record["code"]["package_sha256"]) == 64
    # A scratch copy is no git checkout: the source hash stands for the code.
    assert record["code"]["git_commit"] is None
    provenance = json.loads((study / "results/report/provenance.json").read_text())
    assert provenance["code"]["package_sha256"] == record["code"]["package_sha256"]
    assert "package source sha256" in (study / "results/report/provenance.html").read_text()


def number_forms(value) -> set[str]:
    """Every way the front page may print ``value`` (gapstudy.studies.seed.answer's formatters)."""
    from gapstudy.studies.seed.answer import _fmt, _pct

    try:
        x = float(value)
    except (TypeError, ValueError):
        return set()
    if not np.isfinite(x):
        return set()
    forms = {f for v in (x, -x) for f in ({_fmt(v, d) for d in (2, 3, 4)}
                                         | {_pct(v).removesuffix(" %"), f"{100 * v:.0f}", f"{v:g}"})}
    if x == int(x):
        forms.add(str(int(x)))
    return forms


def test_every_front_page_number_is_found_in_a_table(study):
    """No number on the front page is typed or computed apart: each is a value the workflow wrote."""
    import re

    import yaml

    text = (study / "results/report/answer.rst").read_text()
    text = re.sub(r"^\.\. image:: data:.*?\n(   [A-Za-z0-9+/=]+\n)*", "", text, flags=re.M)  # the figure, inline
    text = re.sub(r"``[^`]*``", "", text)  # code spans: names of switches and values, not results
    found = set()
    for path in (study / "results/tables").glob("*.csv"):
        for value in pd.read_csv(path).to_numpy().ravel():
            found |= number_forms(value)

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        else:
            found.update(number_forms(node))

    walk(json.loads((study / "results/report/provenance.json").read_text()))
    walk(yaml.safe_load((study / "config/tiny.yaml").read_text()))
    ordinals = {str(i) for i in range(1, 10)}  # research questions, list ranks
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", text)
    assert len(numbers) > 50
    assert "**Which Keras**" in text  # tiny.yaml declares the keras2 hypothesis: its paragraph's numbers count too
    missing = sorted({n for n in numbers if n not in found and n.lstrip("-") not in found and n not in ordinals})
    assert not missing, missing


def test_the_front_page_opens_with_the_answer_in_the_users_words(study):
    """Before any table: what is wrong (the posted line quoted), the one-line fix, what it buys, the user's r;
    no framework or variant id; then the user's figures, inline."""
    import re

    from gapstudy.registry import FRAMEWORKS, SWITCHES

    text = (study / "results/report/answer.rst").read_text()
    first = text.split("\n\n")[1]  # after the "Answer" heading
    assert first.startswith("**What is wrong.**"), first[:200]
    assert f"``{SWITCHES['target_shape'].posted_line}``" in first
    assert "``y`` has shape (32,) and ``ypred`` has shape (32, 1)" in first and "(32, 32) matrix" in first
    assert SWITCHES["target_shape"].code["matched"] in first
    assert "PyTorch's validation MSE" in first and "Keras gets" in first and "r = 0.912" in first
    assert "the Adam optimizer" in first and "the initialisation" in first  # the forum's suspects, measured
    ids = [f"{f}/" for f in FRAMEWORKS] + ["as_posted", "aligned", "init_keras", "adam_keras"]
    assert not [i for i in ids if i in first], first
    figure = text.split("\n\n")[2]
    assert re.match(r"\.\. image:: data:image/png;base64,[A-Za-z0-9+/=]+\n(   [A-Za-z0-9+/=]+\n){100,}   :width: 100%",
                    figure)
    assert text.index("**What is wrong.**") < text.index("The primary hypotheses")
