"""The stacked Keras path: on TensorFlow every seed bit for bit its own ``fit``; on PyTorch the same arithmetic."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, same_run
from gapstudy.frameworks import keras_stacked, train_keras
from gapstudy.studies.seed import posted
from gapstudy.variants import resolve

SWITCHES = [
    {},  # as posted
    {"target_shape": "matched", "activation": "relu"},
    {"activation": "tanh", "weight_init": "torch_default", "bias_init": "torch_default"},
    {"dtype": "float64", "epsilon": 1e-3, "beta_2": 0.999},
    {"shuffle": "off", "learning_rate": 0.01},
    # The Keras-side switches of the diagnosis: PyTorch's Adam rule, the user's hand-written loss.
    {"adam_rule": "torch", "loss": "handwritten"},
    {"loss": "handwritten", "target_shape": "matched", "dtype": "float64", "adam_rule": "torch"},
]


@pytest.mark.parametrize("seed", [0, 7])
def test_the_orders_are_fits_own_epoch_by_epoch(seed):
    """Against Keras' own ArrayDataAdapter, iterated as fit iterates it (every epoch the same order)."""
    import keras

    n = 7000
    keras.utils.set_random_seed(seed)
    ours = keras_stacked.epoch_orders(n, 3, shuffle=True)
    keras.utils.set_random_seed(seed)
    theirs = keras_stacked.adapter_orders(n, 3, shuffle=True)
    assert np.array_equal(ours, theirs)
    assert sorted(ours[0]) == list(range(n)) and not np.array_equal(ours[0], np.arange(n))
    assert np.array_equal(keras_stacked.epoch_orders(n, 2, shuffle=False), keras_stacked.adapter_orders(n, 2, False))


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "posted")
def test_each_stacked_seed_is_its_own_fit_bit_for_bit(dataset, hp, switches):
    """Seeds 2, 5, 6 together against each alone (train_keras.train, itself the posted fit's bits)."""
    hp["epochs"] = 3
    resolved = resolve(switches, "keras", hp)
    assert keras_stacked.supports(resolved)
    stacked = keras_stacked.train(dataset, [2, 5, 6], hp, resolved)
    for seed, result in zip([2, 5, 6], stacked):
        assert same_run(result, train_keras.train(dataset, seed, hp, resolved)), f"seed {seed}"
        assert result["settings"]["stacked_seeds"] == 3


def test_a_stacked_seed_is_the_posted_fit_bit_for_bit(dataset, hp):
    """The user's compile and fit(validation_data=...) for seed 2, trained third in a stack."""
    hp["epochs"] = 2
    result = keras_stacked.train(dataset, [5, 6, 2], hp, resolve({}, "keras", hp))[2]
    history, predictions, model = posted.keras_as_posted(dataset, seed=2, epochs=2)
    assert result["predictions"].tobytes() == predictions.tobytes()
    for ours, theirs in zip(result["weights"], model.get_weights()):
        assert ours.tobytes() == np.asarray(theirs).tobytes()
    assert [row["train_loss"] for row in result["epochs"]] == history.history["loss"]
    assert [row["val_loss_user"] for row in result["epochs"]] == history.history["val_loss"]


def test_a_diverging_seed_stops_where_its_fit_stops(dataset, hp):
    """At learning rate 1e6 the loss is NaN in the first epoch: TerminateOnNaN ends that fit there."""
    hp["epochs"] = 3
    resolved = resolve({"learning_rate": 1e6}, "keras", hp)
    stacked = keras_stacked.train(dataset, [0, 1], hp, resolved)
    for seed, result in zip([0, 1], stacked):
        alone = train_keras.train(dataset, seed, hp, resolved)
        assert len(result["epochs"]) == len(alone["epochs"]) == 1
        # NaN is not equal to itself, and its sign bit carries no meaning: compare as NaN-aware values.
        assert json.dumps(result["epochs"]) == json.dumps(alone["epochs"])
        assert np.array_equal(result["predictions"], alone["predictions"], equal_nan=True)
        for a, b in zip(result["weights"], alone["weights"]):
            assert np.array_equal(a, b, equal_nan=True)


def test_every_keras_switch_value_takes_the_stacked_path_on_tensorflow(hp):
    """Every value of every switch Keras has (the registry's) trains stacked; numbers of any value do."""
    from gapstudy.registry import SWITCHES

    for switch in SWITCHES.values():
        if not switch.applies_to("keras"):
            continue
        for value in switch.values:
            assert keras_stacked.supports(resolve({switch.name: value}, "keras", hp)), (switch.name, value)
    # On Keras' PyTorch backend the stacked path has the posted loss and Adam rule only.
    assert keras_stacked.SUPPORTED_ON_TORCH["adam_rule"] == ("keras",)
    assert keras_stacked.SUPPORTED_ON_TORCH["loss"] == ("framework",)


def on_backend(backend: str, script: str, hp: dict) -> dict:
    """Run ``script`` (given ``hp`` as its argument) in a fresh Python on Keras' ``backend``; what it prints
    after RESULT."""
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(hp)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


KERAS_TORCH = r"""
import json, sys
from gapstudy.frameworks.runtime import limit_threads; limit_threads(1)
import numpy as np, keras
from gapstudy.studies.seed.data import make_dataset
from gapstudy.frameworks import keras_model, keras_stacked, train_keras
from gapstudy.variants import resolve
ds = make_dataset()
hp = json.loads(sys.argv[1])
sw = resolve({}, "keras_torch", hp)

# fit's own batch order on this backend, seen from inside a train_step
seen = []
class Recorder(keras.Model):
    def train_step(self, data):
        seen.append(data[0].detach().numpy()[:, 0].astype(int))
        return {"z": 0.0}
keras.utils.set_random_seed(4)
keras_model.build_model(10, hp, sw)  # the same draws as a run, before fit
inp = keras.layers.Input(shape=(1,)); m = Recorder(inp, keras.layers.Dense(1)(inp)); m.compile(optimizer="adam", loss="mse")
m.fit(np.arange(7000, dtype="float32")[:, None], np.zeros(7000, "float32"), batch_size=32, epochs=3, verbose=0)
orders = keras_stacked.draw(ds, 4, hp, sw)[2]

stacked = keras_stacked.train(ds, [4, 1], hp, sw)
alone = keras_stacked.train(ds, [1], hp, sw)[0]
out = {"orders_equal": bool(np.array_equal(np.concatenate(seen), orders.reshape(-1))), "runs": [],
       "alone_equals_stacked": alone["predictions"].tobytes() == stacked[1]["predictions"].tobytes()
                               and all(a.tobytes() == b.tobytes() for a, b in zip(alone["weights"], stacked[1]["weights"]))}
for seed, r in zip([4, 1], stacked):
    one = train_keras.train(ds, seed, hp, sw)
    out["runs"].append({
        "weights_max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(one["weights"], r["weights"])),
        "val_mse": [one["epochs"][-1]["val_mse"], r["epochs"][-1]["val_mse"]],
        "backend": r["settings"]["keras_backend"], "stacked": r["settings"]["stacked_seeds"]})
print("RESULT" + json.dumps(out))
"""


def test_keras_on_pytorch_stacked_is_its_fit_within_rounding(hp):
    """Same orders and initial weights as fit on that backend, the same arithmetic, equal up to rounding;
    and each seed the same bits alone as in a stack.

    Tolerance, after 3 epochs: weights within 1e-5 absolute, validation MSE within 1e-4 relative
    (measured: about 1e-7 and 1e-6).
    """
    hp["epochs"] = 3
    result = on_backend("torch", KERAS_TORCH, hp)
    assert result["orders_equal"]
    assert result["alone_equals_stacked"]  # a seed's bits do not depend on its stack-mates (the repeat check's claim)
    for run in result["runs"]:
        assert run["backend"] == "torch" and run["stacked"] == 2
        assert run["weights_max_abs_diff"] < 1e-5
        assert run["val_mse"][1] == pytest.approx(run["val_mse"][0], rel=1e-4)


KERAS_JAX = r"""
import json, sys
from gapstudy.frameworks.runtime import limit_threads; limit_threads(1)
from gapstudy.studies.seed import run
run._trainer("keras_jax")
import numpy as np, keras
from gapstudy.studies.seed.data import make_dataset
from gapstudy.frameworks import keras_model, keras_stacked, train_keras
from gapstudy.variants import resolve
ds = make_dataset()
hp = json.loads(sys.argv[1])
def same(a, b):
    return (a["predictions"].tobytes() == b["predictions"].tobytes()
            and all(x.tobytes() == y.tobytes() for x, y in zip(a["weights"], b["weights"]))
            and a["epochs"] == b["epochs"])

# fit's own batch order on this backend, seen from inside an eager train_step
seen = []
class Recorder(keras.Model):
    def train_step(self, state, data):
        seen.append(np.asarray(data[0])[:, 0].astype(int))
        return {"z": 0.0}, state
sw = resolve({}, "keras_jax", hp)
keras.utils.set_random_seed(4)
keras_model.build_model(10, hp, sw)  # the same draws as a run, before fit
inp = keras.layers.Input(shape=(1,)); m = Recorder(inp, keras.layers.Dense(1)(inp))
m.compile(optimizer="adam", loss="mse", jit_compile=False)
m.fit(np.arange(7000, dtype="float32")[:, None], np.zeros(7000, "float32"), batch_size=32, epochs=hp["epochs"],
      verbose=0)
orders = keras_stacked.draw(ds, 4, hp, sw)[2]
out = {"orders_equal": bool(np.array_equal(np.concatenate(seen), orders.reshape(-1)))}

# train_keras's validation loss is fit's own val_loss on this backend
keras.utils.set_random_seed(3)
model = keras_model.build_model(10, hp, sw)
history = model.fit(ds.X_train, ds.y_train, batch_size=32, epochs=hp["epochs"], validation_data=(ds.X_val, ds.y_val),
                    verbose=0)
ours = train_keras.train(ds, 3, hp, sw)
out["val_loss_is_fits"] = [r["val_loss_user"] for r in ours["epochs"]] == history.history["val_loss"]
out["loss_is_fits"] = [r["train_loss"] for r in ours["epochs"]] == history.history["loss"]

out["switches"] = {}
for name, switches in {"posted": {}, "keras_side": {"adam_rule": "torch", "loss": "handwritten", "target_shape": "matched"}}.items():
    resolved = resolve(switches, "keras_jax", hp)
    stacked = keras_stacked.train(ds, [4, 1, 2], hp, resolved)
    out["switches"][name] = {
        "supported": keras_stacked.supports(resolved),
        "each_is_its_fit": [same(r, train_keras.train(ds, s, hp, resolved)) for s, r in zip([4, 1, 2], stacked)],
        "alone_is_in_stack": same(keras_stacked.train(ds, [1], hp, resolved)[0], stacked[1]),
        "stacked": stacked[0]["settings"]["stacked_seeds"], "backend": stacked[0]["settings"]["keras_backend"]}
print("RESULT" + json.dumps(out))
"""


def test_keras_on_jax_stacked_is_each_seeds_fit_bit_for_bit(hp):
    """fit's orders on JAX (NumPy's, after the iterator that builds the loss), fit's own val_loss, and every seed
    of a stack, posted and with the Keras-side switches, bit for bit its own fit, and alone the same as in a stack."""
    hp["epochs"] = 2
    result = on_backend("jax", KERAS_JAX, hp)
    assert result["orders_equal"] and result["val_loss_is_fits"] and result["loss_is_fits"], result
    for name, found in result["switches"].items():
        assert found["supported"] and found["backend"] == "jax" and found["stacked"] == 3, (name, found)
        assert found["each_is_its_fit"] == [True, True, True] and found["alone_is_in_stack"], (name, found)
