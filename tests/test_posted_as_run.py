"""The user's code run as a user runs it, against the workflow's training job for the same seed: the same bits.

The user's side is a fresh Python that sets nothing but the seed: no thread
count, no determinism flag, no oneDNN setting (the variables that the test
process sets are taken out of its environment), the posted code
(``gapstudy.posted``), ``sklearn.metrics.mean_squared_error`` on
``predict``'s output. The workflow's side is another fresh Python that runs
the training job as the ``train`` rule runs it (``workflow/scripts/train.py``:
one thread, op determinism, seeds 0 to 2 stacked in one job, the first seed
trained again alone for the repeat check). Both on this machine: README,
"What bit for bit means".
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from gapstudy.runtime import THREAD_VARIABLES

EPOCHS = 3

PLAIN = {
    "keras": """
        from gapstudy.posted import keras_as_posted
        history, predictions, model = keras_as_posted(dataset, seed=0, epochs={epochs})
        weights, losses = model.get_weights(), history.history["loss"]
    """,
    "keras2": """
        from gapstudy.posted import keras2_as_posted
        history, predictions, model = keras2_as_posted(dataset, seed=0, epochs={epochs})
        weights, losses = model.get_weights(), history.history["loss"]
    """,
    "torch": """
        from gapstudy.posted import torch_as_posted
        losses, _, predictions, model = torch_as_posted(dataset, seed=0, epochs={epochs}, fixed={fixed})
        weights = model.keras_layout()
    """,
}

PLAIN_HEAD = """
import json
from gapstudy.data import make_dataset
from sklearn.metrics import mean_squared_error
dataset = make_dataset()
"""

PLAIN_TAIL = """
from gapstudy.metrics import weights_sha256
print(json.dumps({{"val_mse": float(mean_squared_error(dataset.y_val, predictions)),
                  "predictions": [float(p) for p in predictions], "weights_sha256": weights_sha256(weights),
                  "train_loss": [float(x) for x in losses], "settings": {settings}}}))
"""

WORKFLOW = """
import json, sys
from pathlib import Path
from gapstudy.runtime import limit_threads
limit_threads(1)
from gapstudy.data import make_dataset, save_dataset
from gapstudy.run import train_runs
from gapstudy.variants import resolve
framework, variant, switches, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4])
hp = dict(epochs={epochs}, batch_size=32, hidden_units=100, learning_rate=1e-3, beta_1=0.9, beta_2=0.9999,
          epsilon=1e-7)
save_dataset(make_dataset(), out / "d.npz", out / "m.json", {{}})
records = [out / f"seed{{s}}.json" for s in range(3)]
train_runs(framework, variant, resolve(switches, framework, hp), [0, 1, 2], records, repeat=1, device="cpu",
           hp=hp, dataset_npz=out / "d.npz", dataset_manifest=out / "m.json", threads=1, log=lambda *a: None)
print(json.dumps(json.loads(records[0].read_text())))
"""


def plain_env() -> dict:
    """This process's environment without what the tests set: a fresh shell's, for the posted code."""
    drop = {*THREAD_VARIABLES, "XLA_FLAGS", "KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA",
            "CUBLAS_WORKSPACE_CONFIG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def python(code: str, *args, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CASES = [
    pytest.param("keras", "as_posted", {}, False, id="keras3"),
    pytest.param("keras2", "as_posted", {}, False, id="keras2"),
    pytest.param("torch", "as_posted", {}, False, id="torch-as-posted"),
    pytest.param("torch", "fixed", {"target_shape": "matched"}, True, id="torch-fixed"),
]


@pytest.mark.parametrize("framework, variant, switches, fixed", CASES)
def test_the_users_code_run_plainly_gives_the_workflows_bits(tmp_path, framework, variant, switches, fixed):
    family = "torch" if framework == "torch" else framework
    settings = ("{'tf_intra_op_threads': __import__('tensorflow').config.threading.get_intra_op_parallelism_threads(),"
                " 'tf_op_determinism': __import__('tensorflow.python.framework.config', fromlist=['x'])"
                ".is_op_determinism_enabled()}" if family != "torch" else
                "{'torch_deterministic': __import__('torch').are_deterministic_algorithms_enabled()}")
    code = (PLAIN_HEAD + textwrap.dedent(PLAIN[family]).format(epochs=EPOCHS, fixed=fixed)
            + PLAIN_TAIL.format(settings=settings))
    env = plain_env()
    plain = python(code, env=env)
    # Nothing was set in the user's process: its pools are TensorFlow's or PyTorch's defaults.
    assert plain["settings"] in ({"tf_intra_op_threads": 0, "tf_op_determinism": False},
                                 {"torch_deterministic": False}), plain["settings"]
    workflow = python(WORKFLOW.format(epochs=EPOCHS), framework, variant, json.dumps(switches), str(tmp_path),
                      env=dict(env, KERAS_BACKEND="tensorflow"))
    assert workflow["epochs"][-1]["epoch"] == EPOCHS and workflow["repeat"]["identical"]
    if family != "torch":
        assert workflow["settings"]["stacked_seeds"] == 3 and workflow["settings"]["tf_op_determinism"]
        assert workflow["settings"]["tf_intra_op_threads"] == 1 and workflow["settings"]["onednn"] == "on"
    assert workflow["predictions"] == plain["predictions"]
    assert workflow["weights_sha256"] == plain["weights_sha256"]
    assert workflow["val_mse"] == plain["val_mse"]  # sklearn's MSE on predict's output, bit for bit
    assert [row["train_loss"] for row in workflow["epochs"]] == plain["train_loss"]
