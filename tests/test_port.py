"""A user's own port (examples/*): the diagnosis names the planted pitfalls first, the loop runs unchanged."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT

EXAMPLES = ROOT / "examples"
# What each example's port carries (its torch_port.py says so), and what a diagnosis must rank first.
PLANTED = {
    "seed": {"target_broadcast"},
    "cnn": {"unshuffled", "double_softmax"},
    # (nn.LSTM's second bias comes with it too; its effect is too small to rank at a few seeds.)
    "lstm": {"lstm_init", "lr_schedule_per_epoch"},
}
MEASURED = {"seed": {"target_broadcast"}, "cnn": PLANTED["cnn"]}
# Few seeds and epochs: enough for the probes, the trace and a measured effect of the large pitfalls.
TINY = {"seed": (3, 2), "cnn": (3, 6), "lstm": (3, 8)}


def example_config(name: str, seeds: int | None = None, epochs: int | None = None) -> dict:
    from gapstudy.studies.port import spec

    config = yaml.safe_load((EXAMPLES / name / "config.yaml").read_text())
    config["port"]["path"] = str(EXAMPLES / name)
    if seeds:
        config["port"]["seeds"] = list(range(seeds))
    if epochs:
        config["port"]["epochs"] = epochs
    return spec.validate(config)


@pytest.fixture(scope="module", params=sorted(PLANTED))
def diagnosed(request):
    """One example traced, probed, and trained over a few seeds with each fix; its tables."""
    from gapstudy.studies.port import analysis, diagnose, sides, train

    name = request.param
    config = example_config(name, *TINY[name])
    data = sides.load_data(config["port"])
    steps, result, findings = diagnose.diagnose(config, data, log=lambda *_: None)
    runs = pd.DataFrame([row for arm in train.arms(findings)
                         for row in train.train_arm(config, arm, findings, data, config["port"]["seeds"],
                                                    log=lambda *_: None)])
    causes = analysis.cause_table(runs, findings, 0.95, 0.05)
    return name, steps, result, findings, runs, causes


def test_the_diagnosis_names_the_planted_pitfalls_first(diagnosed):
    name, steps, result, findings, runs, causes = diagnosed
    planted = PLANTED[name]
    assert set(causes["probe"].head(len(planted))) == planted, causes[["rank", "probe", "effect_ratio"]]
    assert all(f["auto_fix"] for f in findings if f["probe"] in planted)
    # Where a few seeds and epochs suffice (the LSTM's need more), the largest planted pitfall is measured:
    # fixing it alone makes the port better.
    if name in MEASURED:
        top = causes.iloc[0]
        assert top["probe"] in MEASURED[name] and top["effect_measured"] and top["effect_ratio"] < 1, causes


def test_the_trace_leaves_keras_where_the_pitfall_acts(diagnosed):
    name, steps, result, findings, runs, causes = diagnosed
    first = {"seed": (0, "initial weights"), "cnn": (1, "input"), "lstm": (0, "initial weights")}[name]
    assert (result["first_step"], result["first_kind"]) == first, result
    step1 = steps[steps["step"] == 1]
    # Same weights, same rows, same dropout masks: every layer's output agrees at step 1 (the mapping,
    # the flatten order after the convolutions, and the masks carried over through it).
    assert not step1[step1["kind"].isin(["layer output"]) | (step1["tensor"] == "input")]["differs"].any(), step1
    assert set(step1["kind"]) >= {"input", "layer output", "loss", "gradient", "Adam moment", "updated weight"}


def test_every_arm_ran_every_seed_and_the_fixed_port_is_its_fixes(diagnosed):
    from gapstudy.studies.port import train

    name, steps, result, findings, runs, causes = diagnosed
    seeds = TINY[name][0]
    assert len(runs) == seeds * len(train.arms(findings))
    assert np.isfinite(runs["value"]).all()
    fixed = runs[runs["arm"] == "fixed"]["fixes"].iloc[0]
    assert set(yaml.safe_load(fixed)) == {f["probe"] for f in findings if f["auto_fix"]}


def test_the_examples_ports_know_nothing_of_the_workflow():
    """The user's loop is called unchanged: no example module imports this package or attaches hooks."""
    for path in EXAMPLES.glob("*/*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(m.startswith("gapstudy") for m in imported), path
        assert "register_" not in path.read_text() and "_hook" not in path.read_text(), path


def write_port(folder: Path, loop: str, extra: str = "", keras_units: int = 8) -> Path:
    """A small port written as a user writes one (no import of this package), and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "keras_side.py").write_text(f'''
import keras
from keras import layers


def build():
    model = keras.Sequential([keras.Input((4,)), layers.Dense({keras_units}, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model
''')
    (folder / "torch_side.py").write_text(f'''
import numpy as np
import torch
from torch import nn

CALLS = []


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)).astype(np.float32)
    return X, X.sum(axis=1)


def build(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-7), nn.MSELoss()

{extra}

def train_epoch(model, optimizer, loss_fn, loader, epoch):
{loop}
''')
    config = {
        "port": {"name": "tiny", "path": str(folder), "task": "regression", "metric": "mse",
                 "data": {"generator": "torch_side:data"},
                 "keras": {"model": "keras_side:build", "fit": {"batch_size": 32, "epochs": 2}},
                 "torch": {"build": "torch_side:build", "shuffle": True, "train_epoch": "torch_side:train_epoch"},
                 "seeds": [0, 1], "epochs": None},
        "lockstep": {"seed": 0, "epochs": 1, "atol": 1e-6, "rtol": 1e-3},
        "statistics": {"confidence_level": 0.95, "alpha": 0.05, "equivalence_margin": 1.2,
                       "bootstrap_resamples": 200, "bootstrap_seed": 0},
        "threads_per_job": 1,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


GOOD_LOOP = '''    CALLS.append(epoch)
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x).squeeze(-1), y)
        loss.backward()
        optimizer.step()
'''


def test_the_users_loop_runs_unchanged_and_a_careful_port_has_nothing_to_fix(tmp_path, monkeypatch):
    """The loop's own function runs, once per epoch, as written; a port without differences is found so."""
    import importlib
    import sys

    from gapstudy.studies.port import diagnose, spec, train

    config = spec.validate(yaml.safe_load(write_port(tmp_path / "port", GOOD_LOOP).read_text()))
    monkeypatch.syspath_prepend(str(tmp_path / "port"))
    sys.modules.pop("torch_side", None)
    module = importlib.import_module("torch_side")
    code = module.train_epoch.__code__
    steps, result, findings = diagnose.diagnose(config, log=lambda *_: None)
    # One traced epoch of the port, and one of the control (the port with its fixes) where it has fixes.
    traced = [0, 0] if result["control"] else [0]
    assert module.CALLS == traced and module.train_epoch.__code__ is code
    assert {f["probe"] for f in findings} <= {"adam_epsilon", "dense_init"}, findings
    rows = train.train_arm(config, "port", findings, diagnose.sides.load_data(config["port"]), [0], log=lambda *_: None)
    assert module.CALLS == traced + [0, 1] and np.isfinite(rows[0]["value"])
    # A trace of a large dataset ends after lockstep.max_steps optimizer steps, then validates.
    config["lockstep"]["max_steps"] = 3
    steps, result, findings = diagnose.diagnose(config, log=lambda *_: None)
    assert steps["step"].max() == 3 and (steps["kind"] == "validation output").sum() == 1


@pytest.mark.workflow
@pytest.mark.parametrize("case", ["missing entry point", "shapes", "unmapped layer", "loop raises"])
def test_a_bad_port_is_refused_before_any_training_and_writes_nothing(tmp_path, case):
    from conftest import copy_repo, snakemake

    (tmp_path / "repo").mkdir()
    work = copy_repo(tmp_path / "repo")
    loop = "    raise RuntimeError('my loop is broken')\n" if case == "loop raises" else GOOD_LOOP
    config_path = write_port(work / "myport", loop)
    config = yaml.safe_load(config_path.read_text())
    config["port"]["path"] = "myport"
    expected = {
        "missing entry point": "port.torch.train_epoch: 'torch_side:no_such_loop': module 'torch_side' has no attribute",
        "shapes": "port.torch.build: the module's output on two rows has shape (2, 2), the Keras model's (2, 1)",
        "unmapped layer": "port.mapping:",
        "loop raises": "port.torch.train_epoch: 'torch_side:train_epoch' raised RuntimeError: my loop is broken",
    }[case]
    if case == "missing entry point":
        config["port"]["torch"]["train_epoch"] = "torch_side:no_such_loop"
    source = (work / "myport" / "torch_side.py").read_text()
    if case == "unmapped layer":
        source = source.replace("nn.Linear(8, 1))", "nn.Linear(8, 8), nn.Linear(8, 1))")
    if case == "shapes":
        source = source.replace("nn.Linear(8, 1))", "nn.Linear(8, 2))")
    (work / "myport" / "torch_side.py").write_text(source)
    config_path.write_text(yaml.safe_dump(config))
    proc = snakemake(work, "--cores", "1", "--configfile", "myport/config.yaml", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and expected in text, text[-3000:]
    assert not (work / "results").exists()


@pytest.mark.parametrize("change, message", [
    (lambda c: c["port"].update(colour="red"), "port.colour: unknown key"),
    (lambda c: c["port"]["torch"].update(build="torch_port"), "port.torch.build: 'torch_port' is not allowed; "
                                                              "allowed: an entry point 'module:attribute'"),
    (lambda c: c["port"]["torch"].update(train="torch_port:train_epoch"), "exactly one of train_epoch"),
    (lambda c: c["port"].update(task="ranking"), "port.task: 'ranking' is not allowed"),
    (lambda c: c["port"].update(seeds=[0]), "port.seeds: [0] is not allowed"),
    (lambda c: c["port"].update(seeds_per_job=0), "port.seeds_per_job: 0 is not allowed; allowed: an integer ≥ 1"),
    (lambda c: c["port"].update(seeds_per_job="2"), "port.seeds_per_job: '2' is not allowed"),
    (lambda c: c["port"]["data"].update(torch_layout="nchw"), "port.data.torch_layout: 'nchw' is not allowed"),
    (lambda c: c["port"].update(path="no/such/folder"), "port.path: 'no/such/folder' is not a folder"),
    (lambda c: c["lockstep"].pop("atol"), "lockstep.atol: missing"),
])
def test_a_bad_port_key_is_named_with_what_is_allowed(change, message):
    from gapstudy.config import ConfigError
    from gapstudy.studies.port import spec

    config = yaml.safe_load((EXAMPLES / "cnn" / "config.yaml").read_text())
    config["port"]["path"] = str(EXAMPLES / "cnn")
    change(config)
    with pytest.raises(ConfigError, match=None) as error:
        spec.validate(config)
    assert message in str(error.value)


def test_an_arms_seeds_are_split_into_jobs_in_order_and_the_front_page_says_so():
    from gapstudy.studies.port import answer, spec, train

    assert train.seed_jobs(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert train.seed_jobs([3, 1], 5) == [[3, 1]] and train.seed_jobs([3, 1], 1) == [[3], [1]]
    config = yaml.safe_load((EXAMPLES / "cnn" / "config.yaml").read_text())
    config["port"]["path"] = str(EXAMPLES / "cnn")
    port = spec.validate(config)["port"]
    assert port["seeds_per_job"] == len(port["seeds"]) == 10  # null: one job an arm
    assert answer.seed_jobs_sentence(port | {"seeds_per_job": 4}).startswith(
        "Each arm's 10 seeds ran as 3 jobs of at most 4 (``port.seeds_per_job``)")
    assert answer.seed_jobs_sentence(port).startswith("Each arm's 10 seeds ran in one job, one seed after another")


def test_dropout_masks_reach_keras_whether_the_port_uses_modules_or_functions(tmp_path):
    """F.dropout in forward and nn.Dropout both get the mask Keras' Dropout applies: equal outputs at step 1."""
    from gapstudy.studies.port import diagnose, spec

    path = write_port(tmp_path / "port", GOOD_LOOP)
    keras_side = (tmp_path / "port" / "keras_side.py").read_text()
    (tmp_path / "port" / "keras_side.py").write_text(keras_side.replace(
        'layers.Dense(8, activation="relu"), ', 'layers.Dense(8, activation="relu"), layers.Dropout(0.5), '))
    torch_side = (tmp_path / "port" / "torch_side.py").read_text()
    (tmp_path / "port" / "torch_side.py").write_text(torch_side.replace(
        "    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))",
        '''    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = nn.Linear(4, 8), nn.Linear(8, 1)

        def forward(self, x):
            return self.out(torch.nn.functional.dropout(torch.relu(self.hidden(x)), 0.5, self.training))

    model = Net()'''))
    config = spec.validate(yaml.safe_load(path.read_text()))
    steps, result, findings = diagnose.diagnose(config, log=lambda *_: None)
    step1 = steps[steps["step"] == 1]
    assert not step1[step1["kind"].isin(["layer output", "loss input", "loss", "gradient"])]["differs"].any(), step1


BROADCAST_LOOP = '''    CALLS.append(epoch)
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        accuracy = (out == y).float().mean()  # a metric of the batch, not the loss
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
'''


def test_a_loss_module_over_shapes_that_broadcast_is_found_and_a_batch_metric_is_not(tmp_path):
    """nn.MSELoss of (N, 1) against (N,) broadcasts inside the loss (the function mode sees its call); an
    accuracy of the same shapes, which never reaches backward's tensor, is not what broadcasts the loss."""
    from gapstudy.studies.port import diagnose, spec

    config = spec.validate(yaml.safe_load(write_port(tmp_path / "port", BROADCAST_LOOP).read_text()))
    steps, result, findings = diagnose.diagnose(config, log=lambda *_: None)
    found = {f["probe"]: f["evidence"] for f in findings}
    assert "mse_loss" in found["target_broadcast"], found


def test_the_check_refuses_a_loop_the_hooks_cannot_see(tmp_path):
    from gapstudy.config import ConfigError
    from gapstudy.studies.port import diagnose, spec

    loop = GOOD_LOOP.replace("model(x)", "model.forward(x)")
    config = spec.validate(yaml.safe_load(write_port(tmp_path / "port", loop).read_text()))
    with pytest.raises(ConfigError, match="model.forward"):
        diagnose.check(config)


def test_targets_come_as_the_losses_want_them_and_one_hot_scores_by_class():
    from gapstudy.studies.port import sides

    assert sides._targets(np.array([0, 1, 1]), "binary").dtype == np.float32
    assert sides._targets(np.array([0, 2, 1]), "multiclass").dtype == np.int64
    assert sides._targets(np.eye(3)[[0, 2]], "multiclass").dtype == np.float32
    assert sides._inputs(np.array([[3, 1]])).dtype == np.int64
    port = {"metric": "accuracy", "task": "multiclass"}

    class Entries:
        metric = None

    one_hot = np.eye(3)[[0, 2, 1, 1]]
    output = np.eye(3)[[0, 2, 1, 0]]
    assert sides.score(port, Entries, one_hot, output) == pytest.approx(0.25)
    # A perfect run's error rate is half a row, so that its log is finite.
    assert sides.score(port, Entries, one_hot, one_hot) == pytest.approx(0.5 / 4)
