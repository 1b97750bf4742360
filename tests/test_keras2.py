"""Keras 2 (``keras2``, the user's Keras) and Keras 3 on JAX (``keras_jax``), each in a child process.

This test process runs Keras 3 on TensorFlow (conftest), and a process holds
one Keras on one backend (``gapstudy.studies.seed.run._claim_keras``), so every run of
another Keras happens in a child: the child prints one JSON line, the test
reads it.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gapstudy import variants
from gapstudy.registry import FRAMEWORKS
from gapstudy.studies.seed.run import _trainer

from conftest import ROOT

PRELUDE = """
import json
import numpy as np
from gapstudy.frameworks.runtime import limit_threads
limit_threads(1)
from gapstudy.studies.seed import run
from gapstudy.studies.seed.data import make_dataset
from gapstudy.variants import resolve
dataset = make_dataset()
def same(a, b):
    return (a["predictions"].tobytes() == b["predictions"].tobytes()
            and all(x.tobytes() == y.tobytes() for x, y in zip(a["weights"], b["weights"]))
            and a["epochs"] == b["epochs"])
"""


def child(code: str, backend: str | None = None, timeout: int = 600) -> dict:
    """Run ``PRELUDE + code`` in a fresh Python; return the JSON its last line prints."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(ROOT / "src")
    if backend:
        env["KERAS_BACKEND"] = backend
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_keras2_and_keras_jax_run_the_keras_code_with_keras_defaults():
    for framework in ("keras2", "keras_jax"):
        assert FRAMEWORKS[framework].family == "keras"
        assert variants.resolve({}, framework, {"epochs": 1}) == variants.resolve({}, "keras", {"epochs": 1})
    assert FRAMEWORKS["keras2"].keras == "tf_keras" and FRAMEWORKS["keras_jax"].backend == "jax"


def test_keras_jax_in_a_tensorflow_keras_process_is_refused_with_a_reason():
    import keras  # noqa: F401  (on TensorFlow here, see conftest)

    with pytest.raises(RuntimeError, match="run it in its own process"):
        _trainer("keras_jax")


@pytest.mark.parametrize("first, second", [("keras", "keras2"), ("keras2", "keras"), ("keras2", "keras_torch")])
def test_a_process_that_holds_one_keras_refuses_another(first, second):
    result = child(f"""
        run._trainer({first!r})
        try:
            run._trainer({second!r})
            print(json.dumps({{"refused": ""}}))
        except RuntimeError as error:
            print(json.dumps({{"refused": str(error)}}))
    """, backend=FRAMEWORKS[first].backend)
    assert "run it in its own process" in result["refused"], result


def test_the_workflows_keras2_path_is_the_posted_keras2_code_bit_for_bit(hp):
    """The user's code verbatim on tf_keras (``Input(shape=10)``, ``fit(validation_data=...)``) against
    both of the workflow's paths: one ``fit`` per seed, and the seeds stacked (seed 2 trained third)."""
    result = child(f"""
        from gapstudy.studies.seed.posted import keras2_as_posted
        trainer = run._trainer("keras2")
        run.configure_threads("keras2", 1)
        run.configure_determinism("keras2")
        hp = {dict(hp, epochs=3)!r}
        switches = resolve({{}}, "keras2", hp)
        history, predictions, model = keras2_as_posted(dataset, seed=2, epochs=3)
        alone = trainer.train(dataset, 2, hp, switches)
        stacked = trainer.train_seeds(dataset, [5, 7, 2], hp, switches)
        def matches_posted(r):
            return (r["predictions"].tobytes() == predictions.tobytes()
                    and all(x.tobytes() == y.tobytes() for x, y in zip(r["weights"], model.get_weights()))
                    and [e["train_loss"] for e in r["epochs"]] == history.history["loss"]
                    and [e["val_loss_user"] for e in r["epochs"]] == history.history["val_loss"])
        orders = trainer.fit_orders(len(dataset.X_train), 3, True)
        print(json.dumps({{
            "alone": matches_posted(alone), "stacked": matches_posted(stacked[2]),
            "each_stacked_seed_is_its_own_run": all(same(r, trainer.train(dataset, s, hp, switches))
                                                    for s, r in zip([5, 7], stacked)),
            "uses_stacked": trainer.supports(switches), "settings": alone["settings"],
            "stacked_settings": stacked[0]["settings"],
            "new_order_every_epoch": bool((orders[0] != orders[1]).any() and (orders[1] != orders[2]).any()),
        }}))
    """)
    assert result["uses_stacked"] and result["stacked_settings"]["stacked_seeds"] == 3
    assert result["alone"] and result["stacked"] and result["each_stacked_seed_is_its_own_run"], result
    assert result["settings"]["keras"].startswith("tf_keras 2.") and result["settings"]["tf_op_determinism"]
    # Keras 2's fit reshuffles every epoch (Keras 3's repeats its first order: keras_stacked.epoch_orders).
    assert result["new_order_every_epoch"]


def test_keras2_switches_change_what_they_name_on_either_path(hp):
    result = child(f"""
        trainer = run._trainer("keras2")
        hp = {hp!r}
        posted = trainer.train_seeds(dataset, [0], hp, resolve({{}}, "keras2", hp))[0]
        out = {{}}
        for name, value in [("adam_rule", "torch"), ("weight_init", "xavier_normal"), ("dtype", "float64"),
                            ("activation", "relu"), ("loss", "handwritten")]:
            switches = resolve({{name: value}}, "keras2", hp)
            run_ = trainer.train_seeds(dataset, [0], hp, switches)[0]
            out[name] = {{"stacked": trainer.supports(switches), "dtype": str(run_["weights"][0].dtype),
                         "changed": not same(run_, posted),
                         "again": same(run_, trainer.train(dataset, 0, hp, switches))}}
        print(json.dumps(out))
    """)
    for name, found in result.items():
        # Every switch gives the same bits through train_seeds as through its own fit; the init is
        # drawn by the posted model and the Adam rule, the loss and the dtype are the stacked path's own,
        # so it takes them; an activation trains one fit per seed.
        assert found["again"] and found["stacked"] == (name != "activation"), (name, found)
    assert result["dtype"]["dtype"] == "float64"
    # Each switch changes the run, except the hand-written loss: Keras 2 aligns the (N,) target with the
    # (N, 1) prediction before any loss, so the user's loss is Keras' MSE there.
    assert all(result[name]["changed"] for name in ("adam_rule", "weight_init", "dtype", "activation"))
    assert not result["loss"]["changed"]


def test_a_keras_jax_run_trains_on_the_jax_backend(tmp_path, dataset, hp):
    from gapstudy.studies.seed.data import save_dataset

    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {})
    out = tmp_path / "seed0.json"
    child(f"""
        hp = {hp!r}
        run.train_runs("keras_jax", "as_posted", resolve({{}}, "keras_jax", hp), [0], [{str(out)!r}], repeat=1,
                       device="cpu", hp=hp, dataset_npz={str(npz)!r}, dataset_manifest={str(manifest)!r},
                       threads=1, log=lambda *a: None)
        print("{{}}")
    """)
    record = json.loads(out.read_text())
    assert record["framework"] == "keras_jax" and record["settings"]["keras_backend"] == "jax"
    assert "--xla_cpu_multi_thread_eigen=false" in record["settings"]["xla_flags"]  # recorded as it ran
    assert record["versions"]["jax"] and record["repeat"]["identical"]
    assert [row["epoch"] for row in record["epochs"]] == [1, 2] and record["val_mse"] < 0.01


def test_keras2_lock_step_side_steps_as_train_on_batch(hp):
    """Keras 2's side runs an epoch's train steps in one compiled call: each step's loss (not a running
    mean) and weights are ``train_on_batch``'s."""
    result = child(f"""
        from gapstudy.studies.seed import lockstep
        run._trainer("keras2")
        hp = {hp!r}
        switches = resolve({{}}, "keras2", hp)
        weights = lockstep.initial_weights(0, 10, hp, switches)
        fast, plain = lockstep.side("keras2", weights, hp, switches), lockstep.side("keras2", weights, hp, switches)
        order = lockstep.batch_orders(len(dataset.X_train), 1, seed=1)[0][:32 * 5 + 7]
        same_steps = []
        for xs, ys in lockstep._epoch_batches(dataset, order, 32):
            losses, flat = fast.epoch(xs, ys)
            for i, (x, y) in enumerate(zip(xs, ys)):
                same_steps.append(bool(np.float32(plain.step(x, y)) == losses[i]
                                       and lockstep._flat(plain.weights()).astype(np.float32).tobytes()
                                       == flat[i].tobytes()))
        print(json.dumps({{"same": same_steps, "type": type(fast).__name__}}))
    """)
    assert result["type"] == "Keras2Side" and len(result["same"]) == 6 and all(result["same"]), result
