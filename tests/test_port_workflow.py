"""A port's diagnosis end to end (examples/cnn, few seeds and epochs): the report's first paragraph, reruns."""

import pandas as pd
import pytest
import yaml

from conftest import copy_repo, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    from gapstudy.studies.port import paths
    from gapstudy.studies.report_path import report_path

    work = copy_repo(tmp_path_factory.mktemp("port"))
    config = yaml.safe_load((work / "examples/cnn/config.yaml").read_text())
    config["port"]["seeds"], config["port"]["epochs"], config["port"]["seeds_per_job"] = [0, 1, 2], 2, 2
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, "--cores", "2", "--configfile", "tiny.yaml")
    snakemake(work, "--cores", "2", "--configfile", "tiny.yaml", "--report", report_path(config))
    assert report_path(config) == paths.paths("cnn")["report"]
    return work, config


def test_the_first_paragraph_names_the_planted_pitfalls_the_first_divergence_and_the_verdict(cnn):
    from gapstudy.studies.port import paths

    work, config = cnn
    front = (work / paths.paths("cnn")["front"]).read_text()
    first = front.split("\n\n")[1]
    assert first.startswith("**Diagnosis** of A CNN on 8×8 digits")
    causes = pd.read_csv(work / paths.table("cnn", "causes"))
    assert set(causes["probe"].head(2)) == {"unshuffled", "double_softmax"}
    for title in causes["title"].head(2):
        assert title in first
    assert first.index(causes["title"].iloc[0]) < first.index(causes["title"].iloc[1])
    assert "first leaves Keras at step 1 (epoch 1), tensor batch rows (input)" in first
    v = pd.read_csv(work / paths.table("cnn", "verdict")).iloc[0]
    assert f"TOST p = {v['fixed_tost_p']:.2g}" in first
    assert ("is equivalent to Keras" if v["fixed_equivalent"] else "not shown equivalent to Keras") in first
    assert f"×{v['gap_ratio']:.3g} ({v['gap_ci_low']:.3g} to {v['gap_ci_high']:.3g})" in first
    assert (work / paths.paths("cnn")["report"]).stat().st_size > 100_000
    # Valid RST: docutils stops at any warning.
    import docutils.core

    docutils.core.publish_string(front, writer_name="html", settings_overrides={"halt_level": 2, "report_level": 2})


def test_each_arms_seeds_ran_as_the_jobs_the_config_asks_for_and_the_report_says_so(cnn):
    """``port.seeds_per_job: 2`` over seeds 0, 1, 2: two jobs an arm ([0, 1] and [2]), gathered in order."""
    from gapstudy.studies.port import paths, train

    work, config = cnn
    runs = pd.read_csv(work / paths.table("cnn", "runs"))
    arms = list(dict.fromkeys(runs["arm"]))
    assert len(arms) >= 4 and list(runs["seed"]) == [0, 1, 2] * len(arms)
    for arm in arms:
        jobs = [pd.read_csv(work / paths.paths("cnn")["runs"].format(arm=arm, job=job)) for job in (0, 1)]
        assert [list(job["seed"]) for job in jobs] == [[0, 1], [2]]
        assert not (work / paths.paths("cnn")["runs"].format(arm=arm, job=2)).exists()
    front = (work / paths.paths("cnn")["front"]).read_text()
    assert "Each arm's 3 seeds ran as 2 jobs of at most 2 (``port.seeds_per_job``)" in front
    assert train.seed_jobs(config["port"]["seeds"], 2) == [[0, 1], [2]]


def test_a_finished_port_has_nothing_to_rerun_even_with_its_keys_reordered(cnn):
    work, config = cnn
    out = snakemake(work, "-n", "--cores", "2", "--configfile", "tiny.yaml")
    assert "Nothing to be done" in out.stdout + out.stderr
    reordered = {k: config[k] for k in reversed(list(config))}
    reordered["port"] = {k: config["port"][k] for k in reversed(list(config["port"]))}
    (work / "reordered.yaml").write_text(yaml.safe_dump(reordered, sort_keys=False))
    out = snakemake(work, "-n", "--cores", "2", "--configfile", "reordered.yaml")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_an_edit_of_the_users_code_retrains_the_port(cnn, tmp_path):
    work, config = cnn
    path = work / "examples/cnn/torch_port.py"
    path.write_text(path.read_text() + "\n# an edit\n")
    out = snakemake(work, "-n", "--cores", "2", "--configfile", "tiny.yaml")
    text = out.stdout + out.stderr
    # The training jobs come after the diagnosis' checkpoint, which a dry run does not pass: their params hold
    # the same hash of the user's code as the dataset's.
    assert "params have changed since last execution:\n        port_dataset" in text and "port_diagnose" in text


def test_a_port_config_lints_and_is_formatted():
    from conftest import ROOT

    lint = snakemake(ROOT, "--lint", "--configfile", "examples/cnn/config.yaml")
    assert "Congratulations" in lint.stdout + lint.stderr
