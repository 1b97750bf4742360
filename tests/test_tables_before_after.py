"""The tiny study's and the tiny catalogue's tables are those the commit before issue 23's move wrote.

Issue 23 grouped the package into layers and put the catalogue's cases on
the port's trace engine. Every finished table had to stay byte for byte
what it was, except times, or have its change named with the reason. The
digests in ``tests/golden/`` were written (``tests/golden.py``) from the
tiny configs run by commit 8c964e4, the last before the move; these tests
hold today's tiny study and tiny catalogue (the session's fixtures, no
training of their own) to them. On the CPU the digests were written on,
every column is held bit for bit; on another, the columns that do not depend
on the CPU's kernels (``tests/golden.py`` says which and why).

A deliberate change of a table (a new column, a corrected number) rewrites
the digest file from the old and the new commit's runs, and names the
change here.
"""

import json

import pytest

from conftest import ROOT
from golden import differences

from gapstudy.studies.catalogue import cases, torch_port_stacked

# The catalogue's columns the move changed by design, and why (the closing note of issue 23).
CATALOGUE_CHANGED = {
    # The lock-step is the port's trace engine now. Keras replays the port's rows, which are a tensor
    # of their own ("batch rows", first in every step); the losses compared are Keras' compute_loss
    # with its penalty; what reaches the loss is read as the port's loss reads it; gradients are
    # traced before clipping; the fixed port on the same rows and masks is the control. So the
    # traces themselves, and the trace's columns of the pitfall table, changed:
    # unshuffled's first tensor input -> batch rows, l2_weight_decay's L2 penalty -> loss,
    # adam_epsilon's hidden.kernel -> hidden.bias (other batches; a difference near the tolerance),
    # the CNN's control first leaves Keras at step 26, not 4 (round-off at a ReLU, on other batches).
    # (8c964e4 wrote them under lockstep/; the digest's keys say traces/, where one job per case writes
    # them since issue 24.)
    "traces/*/*.csv": {"*": "each arm's trace, on the port's trace engine"},
    "tables/traces.csv": {"*": "the traces' summary, on the port's trace engine (and five columns more)"},
    "tables/pitfalls.csv": {column: "the lock-step on the port's trace engine"
                            for column in ("first_tensor", "first_relative_difference", "control_first_step")},
}
# Issue 24: the MLP and LSTM ports' seeds are stacked (torch_port_stacked), within its TOLERANCE of each
# seed's own run, so the last bits of their losses and scores, and of the statistics over them, changed;
# every other column (the Keras references, the CNN's port, every verdict) is as it was.
STACKED = "stacked MLP and LSTM ports (torch_port_stacked), within its TOLERANCE of each seed alone"
_SCORES = ("train_loss_last", "val_mse", "val_log_loss", "val_accuracy")
CATALOGUE_CHANGED |= {f"runs/{case}/{arm}.csv": dict.fromkeys(_SCORES, STACKED)
                      for case, c in cases.CASES.items() if c.family in torch_port_stacked.FAMILIES
                      for arm in cases.arms(case) if arm != cases.KERAS}
CATALOGUE_CHANGED |= {
    "tables/runs.csv": dict.fromkeys(_SCORES, STACKED),
    "tables/arms.csv": dict.fromkeys(("geometric_mean", "ci_low", "ci_high"), STACKED),
}
CATALOGUE_CHANGED["tables/pitfalls.csv"] |= dict.fromkeys(
    [f"{side}_{part}" for side in ("effect", "gap") for part in ("ratio", "ci_low", "ci_high")]
    + ["effect_p", "effect_p_holm", "share_of_gap", "share_ci_low", "share_ci_high", "fixed_ratio",
       "fixed_equivalence_ci_low", "fixed_equivalence_ci_high", "fixed_tost_p", "fixed_tost_p_holm",
       "fixed_power"], STACKED)


# Issue 25: the catalogue says only what it measured. The seed case's port is the posted code (its init,
# its DataLoaders' draws, its one-call prediction), so every arm of the seed case trained on other draws;
# the Linear-init pitfall moved to cancer_mlp's port; every case gained the port without each pitfall
# (new runs) and the LSTM a second schedule variant; the tables of runs and arms have their rows, the
# pitfall table its rows and columns (shares by removal, interaction, the measured symptom, Bessel's
# correction), the traces' summary its columns. The other cases' arms and traces are as they were.
ISSUE_25 = "issue 25: the seed port as posted, the port without each pitfall, the measured symptoms"
CATALOGUE_CHANGED |= {pattern: {"*": ISSUE_25} for pattern in (
    "runs/seed/*.csv", "traces/seed/*.csv", "runs/cancer_mlp/port.csv", "runs/*/without_*.csv",
    "runs/cancer_mlp/dense_init.csv", "traces/cancer_mlp/dense_init.csv",
    "runs/adding_lstm/lr_decay_rate_per_epoch.csv", "traces/adding_lstm/lr_decay_rate_per_epoch.csv",
    "tables/runs.csv", "tables/arms.csv", "tables/pitfalls.csv", "tables/traces.csv")}
# Each case's PyTorch arms train in one job (runs/{case}/torch.csv, the Keras reference's
# runs/{case}/keras.csv): the per-arm tables are gone, their rows are in tables/runs.csv.
CATALOGUE_CHANGED["runs/*/*.csv"] = {"*": "issue 24: one training job per case and side"}


def _golden(name):
    return json.loads((ROOT / "tests" / "golden" / f"{name}.json").read_text())


@pytest.mark.workflow
def test_the_tiny_studys_tables_are_those_before_the_move(study):
    golden = _golden("tiny")
    problems, exact = differences(golden, study / "results")
    assert not problems, (f"the tiny study's tables differ from commit {golden['source']}'s "
                          f"({'bit for bit' if exact else 'CPU-independent columns'}): {problems}")


@pytest.mark.workflow
def test_the_tiny_catalogues_tables_are_those_before_the_move_but_the_trace(catalogue):
    golden = _golden("catalogue_tiny")
    problems, exact = differences(golden, catalogue / "results" / "catalogue", CATALOGUE_CHANGED)
    assert not problems, (f"the tiny catalogue's tables differ from commit {golden['source']}'s "
                          f"({'bit for bit' if exact else 'CPU-independent columns'}): {problems}")


@pytest.mark.parametrize("name", ["tiny", "catalogue_tiny"])
def test_a_digest_file_says_where_it_came_from(name):
    golden = _golden(name)
    assert golden["source"] == "8c964e4" and golden["config"] == f"config/{name}.yaml"
    assert golden["tables"] and set(golden["cpu_independent"]) == set(golden["tables"])
    # The CPU-independent columns are a subset of each table's, and leave its numbers to the exact check.
    for table, columns in golden["cpu_independent"].items():
        assert set(columns) <= set(golden["tables"][table]["columns"]) - set(golden["tables"][table]["float_columns"])


def test_the_digest_finds_a_changed_cell_a_missing_row_and_a_new_table(tmp_path, monkeypatch):
    import golden as g

    (tmp_path / "tables").mkdir()
    table = tmp_path / "tables" / "t.csv"
    table.write_text("framework,seed,val_mse,wall_seconds\ntorch,0,0.25,1.5\nkeras,0,0.125,2.5\n")
    written = {"source": "x", "config": "y", "machine": g.machine(), "tables": g.digest(tmp_path)}
    written["cpu_independent"] = {"tables/t.csv": ["framework", "seed"]}
    assert differences(written, tmp_path) == ([], True)
    table.write_text("framework,seed,val_mse,wall_seconds\ntorch,0,0.25,9.0\nkeras,0,0.125,7.0\n")
    assert differences(written, tmp_path) == ([], True), "a time column is not held"
    table.write_text("framework,seed,val_mse,wall_seconds\ntorch,0,0.2500001,1.5\nkeras,0,0.125,2.5\n")
    assert differences(written, tmp_path) == (["tables/t.csv: column val_mse differs"], True)
    # On another CPU only the CPU-independent columns are held.
    monkeypatch.setattr(g, "machine", lambda: {"cpu_name": "another"})
    assert differences(written, tmp_path) == ([], False)
    table.write_text("framework,seed,val_mse,wall_seconds\ntorch,0,0.25,1.5\n")
    (tmp_path / "tables" / "u.csv").write_text("a\n1\n")
    assert differences(written, tmp_path)[0] == [
        "tables/t.csv: 1 rows, 2 before", "tables/t.csv: column framework differs",
        "tables/t.csv: column seed differs", "tables/u.csv: new table"]
