"""Keras 3 on the PyTorch backend (framework ``keras_torch``): the user's Keras code, PyTorch's numerics.

Keras picks its backend once per process, and this test process runs Keras
on TensorFlow, so the keras_torch run happens in a child process.
"""

import json
import os
import subprocess
import sys

import pytest

from gapstudy import variants
from gapstudy.studies.seed.run import _trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_keras_torch_runs_the_keras_code_with_keras_defaults():
    assert variants.resolve({}, "keras_torch", {"epochs": 1}) == variants.resolve({}, "keras", {"epochs": 1})
    with pytest.raises(ValueError, match="exists only for torch"):
        variants.check({"graph": "retain_graph"}, ["keras_torch"])


def test_keras_torch_in_a_tensorflow_keras_process_is_refused_with_a_reason():
    import keras  # noqa: F401  (on TensorFlow here, see conftest)

    with pytest.raises(RuntimeError, match="run it in its own process"):
        _trainer("keras_torch")


def test_a_keras_torch_run_trains_on_the_pytorch_backend(tmp_path, dataset, hp):
    from gapstudy.studies.seed.data import save_dataset

    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {})
    hp["epochs"] = 2
    out = tmp_path / "seed0.json"
    code = (
        "from gapstudy.frameworks.runtime import limit_threads; limit_threads(1);"
        "from gapstudy.studies.seed.run import train_runs; from gapstudy.variants import resolve;"
        f"hp = {hp!r};"
        f"train_runs('keras_torch', 'as_posted', resolve({{}}, 'keras_torch', hp), [0], [{str(out)!r}],"
        f" device='cpu', hp=hp, dataset_npz={str(npz)!r}, dataset_manifest={str(manifest)!r},"
        " threads=1, log=print)"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = os.path.join(ROOT, "src")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["framework"] == "keras_torch" and record["settings"]["keras_backend"] == "torch"
    # The workflow's path: Keras' variables and Adam on PyTorch, seeds stacked (here one).
    assert record["settings"]["torch_num_threads"] == 1 and record["settings"]["stacked_seeds"] == 1
    assert [row["epoch"] for row in record["epochs"]] == [1, 2]
    # Two epochs of the Keras code already fit far better than the posted PyTorch loss allows.
    assert record["val_mse"] < 0.01
