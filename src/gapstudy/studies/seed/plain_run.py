"""The user's code run as a user runs it, beside the workflow's training job for the same seed: the same bits?

"Bit for bit the user's code" is a claim about one CPU (README, "What bit
for bit means"). This checks it. The user's side is a fresh Python that sets
nothing but the seed: no thread count, no determinism flag, no oneDNN
setting (the variables that the workflow and the tests set are taken out of
its environment), the posted code (``gapstudy.studies.seed.posted``), and
``sklearn.metrics.mean_squared_error`` on ``predict``'s output. The
workflow's side is another fresh Python that runs the training job as the
``train`` rule runs it (``workflow/scripts/train.py``: one thread, op
determinism, seeds 0 to 2 stacked in one job, the first seed trained again
alone for the repeat check). ``tests/test_posted_as_run.py`` asks for equal
bits at 3 epochs; the README's table is this module's output at 100::

    .venv/bin/python -m gapstudy.studies.seed.plain_run --epochs 100
    .venv/bin/python -m gapstudy.studies.seed.plain_run --epochs 100 --isa AVX2   # oneDNN's (and PyTorch's) AVX2 kernels
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from gapstudy.frameworks.runtime import THREAD_VARIABLES

SRC = Path(__file__).resolve().parents[1]

# (framework, variant, switches, the posted PyTorch loop with the one-line fix) of each comparison.
CASES = {
    "keras3": ("keras", "as_posted", {}, False),
    "keras2": ("keras2", "as_posted", {}, False),
    "torch-as-posted": ("torch", "as_posted", {}, False),
    "torch-fixed": ("torch", "fixed", {"target_shape": "matched"}, True),
}

_PLAIN_HEAD = """
import json
from gapstudy.studies.seed.data import make_dataset
from sklearn.metrics import mean_squared_error
dataset = make_dataset()
extra = {}  # what a framework's side records besides the scores (PyTorch: its threads, one thread's prediction)
"""

# What the user's process ran with, as TensorFlow reports it (nothing set: its defaults).
_TF_SETTINGS = """
import tensorflow as tf
from tensorflow.python.framework import config as tf_config
settings = {{"tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_op_determinism": tf_config.is_op_determinism_enabled()}}
"""

_PLAIN = {
    "keras": """
from gapstudy.studies.seed.posted import keras_as_posted
history, predictions, model = keras_as_posted(dataset, seed=0, epochs={epochs})
weights, losses = model.get_weights(), history.history["loss"]
""" + _TF_SETTINGS,
    "keras2": """
from gapstudy.studies.seed.posted import keras2_as_posted
history, predictions, model = keras2_as_posted(dataset, seed=0, epochs={epochs})
weights, losses = model.get_weights(), history.history["loss"]
""" + _TF_SETTINGS,
    "torch": """
from gapstudy.studies.seed.posted import torch_as_posted
losses, _, predictions, model = torch_as_posted(dataset, seed=0, epochs={epochs}, fixed={fixed})
weights = model.keras_layout()
import torch
settings = {{"torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}}
threads = torch.get_num_threads()
# The posted prediction once more, on the job's one thread (see PREDICT_THREADS_TOLERANCE).
torch.set_num_threads(1)
one_thread = model(torch.tensor(dataset.X_val, dtype=torch.float32)).detach().numpy().reshape(-1)
extra = {{"threads": threads, "predictions_one_thread": [float(p) for p in one_thread]}}
""",
}

_PLAIN_TAIL = """
from gapstudy.frameworks.metrics import weights_sha256
print(json.dumps({"val_mse": float(mean_squared_error(dataset.y_val, predictions)),
                  "predictions": [float(p) for p in predictions], "weights_sha256": weights_sha256(weights),
                  "train_loss": [float(x) for x in losses], "settings": settings, **extra}))
"""

_WORKFLOW = """
import json, sys
from pathlib import Path
from gapstudy.frameworks.runtime import limit_threads
limit_threads(1)
from gapstudy.studies.seed.data import make_dataset, save_dataset
from gapstudy.studies.seed.run import train_runs
from gapstudy.variants import resolve
framework, variant, switches, epochs, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
hp = dict(epochs=epochs, batch_size=32, hidden_units=100, learning_rate=1e-3, beta_1=0.9, beta_2=0.9999, epsilon=1e-7)
save_dataset(make_dataset(), out / "d.npz", out / "m.json", {})
records = [out / f"seed{s}.json" for s in range(3)]
train_runs(framework, variant, resolve(switches, framework, hp), [0, 1, 2], records, repeat=1, device="cpu", hp=hp,
           dataset_npz=out / "d.npz", dataset_manifest=out / "m.json", threads=1, log=lambda *a: None)
print(json.dumps(json.loads(records[0].read_text())))
"""

# What the workflow or a test may have set, and a user's fresh shell has not.
SET_BY_US = (*THREAD_VARIABLES, "XLA_FLAGS", "KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA",
             "CUBLAS_WORKSPACE_CONFIG", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")


def plain_env(isa: str | None = None) -> dict:
    """A fresh shell's environment for the posted code: none of ``SET_BY_US``.

    ``isa`` ("AVX2") caps oneDNN's, PyTorch's and MKL's kernels at that
    instruction set, as on a CPU that has no more (both sides get it).
    """
    env = {k: v for k, v in os.environ.items() if k not in SET_BY_US}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    if isa:
        aten, mkl = {"AVX2": ("avx2", "AVX2"), "AVX512_CORE": ("avx512", "AVX512")}[isa]
        env.update(ONEDNN_MAX_CPU_ISA=isa, ATEN_CPU_CAPABILITY=aten, MKL_ENABLE_INSTRUCTIONS=mkl)
    return env


def _python(code: str, *args, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"a child Python failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_plain(case: str, epochs: int, env: dict) -> dict:
    """The posted code of ``case`` (``CASES``), seed 0, as a user runs it: its scores, weights hash, settings."""
    framework, _, _, fixed = CASES[case]
    body = _PLAIN["torch" if framework == "torch" else framework].format(epochs=epochs, fixed=fixed)
    return _python(_PLAIN_HEAD + body + _PLAIN_TAIL, env=env)


def run_workflow(case: str, epochs: int, env: dict, workdir: Path) -> dict:
    """The workflow's training job of ``case``, seeds 0 to 2 stacked: seed 0's record."""
    framework, variant, switches, _ = CASES[case]
    return _python(textwrap.dedent(_WORKFLOW), framework, variant, json.dumps(switches), epochs, workdir,
                   env=dict(env, KERAS_BACKEND="tensorflow"))


# PyTorch predicts the 700 validation rows in one product, which its default pool (a thread per
# core) splits across threads. On some CPUs that split rounds differently from one thread: on a
# 2-core Intel Xeon with AVX-512 FP16 and AMX, 3 of 700 posted predictions came out 9e-8 away from
# a one-thread run of the same weights (the weights and every loss the same bits). So the user's
# PyTorch prediction is also made on one thread, the job's, and that one is held bit for bit;
# the default pool's is held within this tolerance (absolute, on targets in [0, 1]).
PREDICT_THREADS_TOLERANCE = 1e-6


def compare(case: str, epochs: int, isa: str | None = None) -> dict:
    """Both sides of ``case`` in fresh processes: their validation MSEs and whether every bit agrees.

    ``same_predictions`` compares the user's own prediction, in its process's default threads;
    for PyTorch, ``same_predictions_one_thread`` the same weights' prediction on one thread, and
    ``predictions_max_abs_diff`` how far the default threads' prediction is from the job's."""
    env = plain_env(isa)
    plain = run_plain(case, epochs, env)
    with tempfile.TemporaryDirectory() as workdir:
        ours = run_workflow(case, epochs, env, Path(workdir))
    one_thread = plain.get("predictions_one_thread", plain["predictions"])
    return {
        "case": case, "epochs": epochs, "isa": isa or "default",
        "plain_val_mse": plain["val_mse"], "workflow_val_mse": ours["val_mse"],
        "same_predictions": ours["predictions"] == plain["predictions"],
        "same_predictions_one_thread": ours["predictions"] == one_thread,
        "predictions_max_abs_diff": max(abs(a - b) for a, b in zip(ours["predictions"], plain["predictions"])),
        "plain_threads": plain.get("threads"),
        "same_weights": ours["weights_sha256"] == plain["weights_sha256"],
        "same_train_loss": [row["train_loss"] for row in ours["epochs"]] == plain["train_loss"],
        "plain_settings": plain["settings"], "workflow_settings": ours["settings"],
        "workflow_repeat_identical": ours["repeat"]["identical"], "cpu": ours["device_name"],
        "cpu_flags": ours["cpu_flags"],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--isa", choices=("AVX2", "AVX512_CORE"), help="cap the kernels at this instruction set")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: every case")
    args = parser.parse_args(argv)
    print("| case | user's code, run plainly | workflow's job | same bits (predictions, weights, losses) |")
    print("| --- | --- | --- | --- |")
    for case in args.case or CASES:
        row = compare(case, args.epochs, args.isa)
        same = row["same_predictions"] and row["same_weights"] and row["same_train_loss"]
        note = "" if same or not row["same_predictions_one_thread"] else (
            f"; predicted on one thread, yes (on {row['plain_threads']} threads the predictions are at most "
            f"{row['predictions_max_abs_diff']:.2g} apart)")
        print(f"| {case} ({row['epochs']} epochs, {row['isa']}) | {row['plain_val_mse']!r} | "
              f"{row['workflow_val_mse']!r} | {'yes' if same else 'NO'}{note} |", flush=True)


if __name__ == "__main__":
    main()
