"""The tiny catalogue (config/catalogue_tiny.yaml) end to end: its tables, front page, reruns and report."""

import re
import shutil

import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "config/catalogue_tiny.yaml"


def dry_run(workdir, config_path=CONFIG) -> dict:
    """{rule: count} of the jobs a dry run would run ({} for none), and the training jobs' (case, side)."""
    out = snakemake(workdir, "-n", "--cores", "2", "--configfile", config_path)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}, set()
    stats = text.split("Job stats:")[1].split("total")[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
    train = set(re.findall(r"rule catalogue_train:\n(?:.*\n)*?\s+wildcards: case=(\w+), side=(\w+)", text))
    return counts, train


def test_every_pitfall_has_its_effect_verdict_divergence_and_source(catalogue):
    from gapstudy.studies.catalogue import cases, paths

    table = pd.read_csv(catalogue / paths.table("pitfalls"))
    assert set(table["pitfall"]) == set(cases.PITFALLS) and len(table) >= 12
    assert table["family"].nunique() >= 4
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table[["effect_ratio", "effect_ci_low", "effect_ci_high", "fixed_tost_p_holm", "fixed_power"]].notna().all().all()
    assert table["first_step"].notna().all() and table["first_tensor"].notna().all()
    runs = pd.read_csv(catalogue / paths.table("runs"))
    assert len(runs) == 3 * sum(len(cases.arms(c)) for c in cases.CASES)
    # The seed question's signature: step 1, the loss, with equal forward outputs.
    seed = table.set_index("pitfall").loc["target_broadcast"]
    assert (seed["first_step"], seed["first_tensor"], bool(seed["forward_equal"])) == (1, "loss", True)


def test_the_front_page_is_built_from_the_tables(catalogue):
    from gapstudy.studies.catalogue import paths

    table = pd.read_csv(catalogue / paths.table("pitfalls"))
    front = (catalogue / paths.FRONT_PAGE).read_text()
    assert front.startswith("Answer\n")
    for _, r in table.iterrows():
        assert r["source"] in front
        assert f"×{r['effect_ratio']:.3g} ({r['effect_ci_low']:.3g} to {r['effect_ci_high']:.3g})" in front
        assert f"step {int(r['first_step'])}" in front
    assert f"{len(table)} pitfalls in 5 cases of 4 model families" in front
    report = catalogue / paths.REPORT
    assert report.stat().st_size > 100_000


def _readme_ranked_table() -> pd.DataFrame:
    """The catalogue's ranked table as the README shows it (the full run's front table)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| rank | pitfall | model | what the user sees"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
    return pd.DataFrame(rows[2:], columns=rows[0])


def test_what_the_user_sees_agrees_with_every_measured_sign(catalogue):
    """Issue 25: no symptom sentence contradicts its row's measured sign, in the tiny catalogue's table (this
    session's run) and in the full catalogue's (the README's table, from a 20-seed run): "worse" where the
    effect is measured above 1, "better" below, "no change measured" where Holm finds none."""
    from gapstudy.studies.catalogue import analysis, paths

    tiny = pd.read_csv(catalogue / paths.table("pitfalls"))
    assert tiny["observed"].str.len().gt(20).all() and analysis.contradictions(tiny) == []
    full = _readme_ranked_table()
    assert len(full) == len(tiny)
    for _, r in full.iterrows():
        effect, seen = r["effect (CI)"], r["what the user sees (measured)"]
        ratio = float(re.search(r"×([0-9.e+-]+)", effect).group(1))
        assert re.search(r"×([0-9.e+-]+)", seen).group(1) == re.search(r"×([0-9.e+-]+)", effect).group(1), r["pitfall"]
        if "no effect measured" in effect:
            assert seen.startswith("no change measured"), r["pitfall"]
        else:
            assert ("worse" in seen) == (ratio > 1) and ("better" in seen) == (ratio < 1), r["pitfall"]


def test_a_finished_catalogue_has_nothing_to_rerun_and_an_edit_reruns_only_what_it_reaches(catalogue, tmp_path):
    from gapstudy.studies.catalogue import cases

    assert dry_run(catalogue) == ({}, set())
    work = tmp_path / "edited"
    shutil.copytree(catalogue, work, symlinks=True)
    # A changed lock-step tolerance: the traces and what reads them, no training.
    config = yaml.safe_load((work / CONFIG).read_text())
    config["lockstep"]["rtol"] = 1e-2
    (work / "config/edited.yaml").write_text(yaml.safe_dump(config))
    counts, train = dry_run(work, "config/edited.yaml")
    assert train == set() and counts["catalogue_lockstep"] == len(cases.CASES)  # one job per case
    # An edit of the ports' code: every case's PyTorch job (all its PyTorch arms) retrains, no Keras job.
    port = work / "src/gapstudy/studies/catalogue/torch_port.py"
    port.write_text(port.read_text() + "\n# an edit\n")
    counts, train = dry_run(work)
    assert train == {(c, "torch") for c in cases.CASES}
    port.write_text(port.read_text().replace("\n# an edit\n", ""))
    # An edit of the trace engine that the catalogue shares with users' ports: every trace reruns, and no
    # training job, so that the engine cannot move a table of runs.
    for module in ("trace/engine.py", "trace/observe.py", "studies/port/lockstep.py"):
        engine = work / "src/gapstudy" / module
        engine.write_text(engine.read_text() + "\n# an edit\n")
        counts, train = dry_run(work)
        assert train == set() and counts["catalogue_lockstep"] == len(cases.CASES), module
        engine.write_text(engine.read_text().replace("\n# an edit\n", ""))
    # The keys of a case reordered in the config change nothing.
    config = yaml.safe_load((work / CONFIG).read_text())
    reordered = {key: config[key] for key in reversed(list(config))}
    reordered["catalogue"] = {k: config["catalogue"][k] for k in reversed(list(config["catalogue"]))}
    (work / "config/edited.yaml").write_text(yaml.safe_dump(reordered, sort_keys=False))
    assert dry_run(work, "config/edited.yaml") == ({}, set())


def test_bad_catalogue_config_stops_before_any_job(tmp_path):
    from conftest import copy_repo

    work = copy_repo(tmp_path)
    config = yaml.safe_load((ROOT / CONFIG).read_text())
    config["catalogue"]["cases"] = ["seed", "imagenet"]
    (work / "config/bad.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(work, "--cores", "1", "--configfile", "config/bad.yaml", check=False)
    assert proc.returncode != 0
    assert "catalogue.cases: 'imagenet' is not a case; allowed: seed, digits_mlp" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


def test_the_catalogue_rules_pass_snakemake_lint():
    lint = snakemake(ROOT, "--lint", "--configfile", CONFIG)
    assert "Congratulations" in lint.stdout + lint.stderr
