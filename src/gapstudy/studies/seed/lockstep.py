"""Lock-step runs: two frameworks from the same weights, on the same batches, step by step.

Research question 4: where exactly do two frameworks part ways? A pair is
two sides, each a framework and variant (PyTorch against Keras 3, Keras 2
against Keras 3, ...). Both start from one set of initial weights (drawn
once, by the PyTorch model's initialiser with side a's init switches, and
saved), see one saved permutation of the training rows per epoch, and take
one optimizer step per batch. After every step the losses and the largest
absolute difference of each parameter tensor are recorded, by the trace
engine's arithmetic (``gapstudy.trace.engine.largest_by_tensor``, the one
the catalogue's and a port's traces use). The PyTorch side
is the workflow's own training step (``train_torch``), a Keras side that
Keras' own ``train_step`` (the step ``fit`` runs), on Keras 3 or Keras 2.

A process holds one Keras (``gapstudy.studies.seed.run``), so the workflow traces each
side in a process of its own (``trace_in_child``, ``python -m
gapstudy.studies.seed.lockstep``) and compares the two traces; the tests may run both
sides in one process where they share a Keras (``run``).
"""

from __future__ import annotations

import numpy as np

from gapstudy.trace import engine

TENSORS = ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias")


def initial_weights(seed: int, n_features: int, hp: dict, switches: dict) -> list[np.ndarray]:
    """The PyTorch model's initial weights for ``seed``, in Keras' layout (kernels (in, out))."""
    from gapstudy.frameworks.torch_model import TorchLinearModel

    model = TorchLinearModel(n_features, hp["hidden_units"], random_seed=seed,
                             weight_init=switches["weight_init"], bias_init=switches["bias_init"])
    return [np.array(w, dtype=np.float32) for w in model.keras_layout()]


def batch_orders(n: int, epochs: int, seed: int) -> np.ndarray:
    """One permutation of the ``n`` training rows per epoch, (epochs, n), from NumPy's PCG64."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)])


class TorchSide:
    """The workflow's PyTorch step (``train_torch.Stepper``), one batch at a time."""

    def __init__(self, weights, hp: dict, switches: dict):
        import torch

        from gapstudy.frameworks.torch_model import DTYPES, TorchLinearModel
        from gapstudy.frameworks.train_torch import FlatNet, Stepper

        self.torch, self.dtype = torch, DTYPES[switches["dtype"]]
        module = TorchLinearModel(weights[0].shape[0], hp["hidden_units"])
        with torch.no_grad():
            for param, value in zip(module.parameters(), from_keras_layout(weights)):
                param.copy_(torch.from_numpy(value))
        self.net = FlatNet(module.to(dtype=self.dtype), switches["activation"])
        self.stepper = Stepper(self.net, hp, switches)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        batch = self.torch.from_numpy(x).to(self.dtype), self.torch.from_numpy(y).to(self.dtype)
        return float(self.stepper.steps([batch])[0])

    def weights(self) -> list[np.ndarray]:
        return self.net.keras_layout()

    def epoch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps on ``x`` (steps, batch, features), ``y`` (steps, batch): losses and flat weights after each."""
        losses, weights = [], []
        for xb, yb in zip(x, y):
            losses.append(self.step(xb, yb))
            weights.append(_flat(self.weights(), np.float32 if self.dtype == self.torch.float32 else np.float64))
        return np.asarray(losses), np.stack(weights)

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(x).to(self.dtype)).numpy().reshape(-1)


class KerasSide:
    """The posted Keras model (with the variant's switches), its own train step per batch.

    ``epoch`` runs Keras' ``train_step`` (the step ``fit`` and
    ``train_on_batch`` run) over an epoch's batches inside one
    ``tf.function`` and returns the weights after every step; ``step`` is
    ``train_on_batch``, the plain reference a test holds ``epoch`` against.
    """

    def __init__(self, weights, hp: dict, switches: dict):
        self.model = self._build_model()(weights[0].shape[0], hp, switches)
        self.model.set_weights(weights)
        self.matched = switches["target_shape"] == "matched"
        self._epoch = None

    @staticmethod
    def _build_model():
        from gapstudy.frameworks.keras_model import build_model

        return build_model

    @staticmethod
    def _read(variable):
        return variable.value  # a Keras 3 variable's tensor

    def _target(self, y):
        return y.reshape(-1, 1) if self.matched else y

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.model.train_on_batch(x, self._target(y)))

    def epoch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps on ``x`` (steps, batch, features), ``y`` (steps, batch): losses and flat weights after each."""
        import tensorflow as tf

        model = self.model
        dtype = model.trainable_weights[0].dtype  # Keras casts the data to it, as train_on_batch does
        if self._epoch is None:
            @tf.function
            def run(xs, ys):
                n = tf.shape(xs)[0]
                losses = tf.TensorArray(dtype, size=n)
                weights = tf.TensorArray(dtype, size=n)
                for i in tf.range(n):
                    for metric in model.metrics:  # as train_on_batch: this batch's loss, not a running mean
                        metric.reset_state()
                    logs = model.train_step((xs[i], ys[i]))
                    losses = losses.write(i, logs["loss"])
                    weights = weights.write(i, tf.concat([tf.reshape(self._read(v), [-1])
                                                          for v in model.trainable_weights], 0))
                return losses.stack(), weights.stack()

            self._epoch = run
        ys = y[..., None] if self.matched else y
        losses, weights = self._epoch(tf.constant(x, dtype=dtype), tf.constant(ys, dtype=dtype))
        return np.asarray(losses), np.asarray(weights)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(w) for w in self.model.get_weights()]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``model.predict``'s predictions (its batches of 32, as a run's), shape (n,)."""
        return np.asarray(self.model.predict(x, batch_size=32, verbose=0)).reshape(-1)


class Keras2Side(KerasSide):
    """The posted Keras model on Keras 2 (``train_keras2.build_model``), its own train step per batch."""

    @staticmethod
    def _build_model():
        from gapstudy.frameworks.train_keras2 import build_model

        return build_model

    @staticmethod
    def _read(variable):
        return variable  # a tf.Variable, read where it is used


def side(framework: str, weights, hp: dict, switches: dict):
    """The lock-step side of ``framework`` (its registry entry says whether it has one)."""
    from gapstudy.registry import FRAMEWORKS

    spec = FRAMEWORKS[framework]
    if not spec.lockstep:
        raise ValueError(f"{framework} has no lock-step side; those that do: "
                         f"{', '.join(n for n, f in FRAMEWORKS.items() if f.lockstep)}")
    if spec.family == "torch":
        return TorchSide(weights, hp, switches)
    return (Keras2Side if spec.keras == "tf_keras" else KerasSide)(weights, hp, switches)


def from_keras_layout(weights):
    """Keras' [kernel (in, out), bias, ...] as PyTorch's [weight (out, in), bias, ...]."""
    return [np.ascontiguousarray(w.T) if w.ndim == 2 else w for w in weights]


def _epoch_batches(dataset, order, batch_size):
    """An epoch's batches as (full batches stacked, the shorter last batch), each (steps, batch, ...)."""
    n_full = len(order) // batch_size
    full = order[:n_full * batch_size].reshape(n_full, batch_size)
    parts = [full] if n_full else []
    if len(order) > n_full * batch_size:
        parts.append(order[n_full * batch_size:][None])
    return [(dataset.X_train[idx], dataset.y_train[idx]) for idx in parts]


def _flat(weights, dtype=np.float64) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype=dtype).reshape(-1) for w in weights])


def trace(dataset, orders: np.ndarray, batch_size: int, side_, progress=None) -> dict:
    """Step one side through ``orders``: each step's loss ``(steps,)``, flat weights ``(steps, P)``, epoch.

    Each epoch's steps run in one call of the side's ``epoch``; ``progress``
    gets the epoch's last step. Also the validation predictions after the last step.
    """
    losses, weights, epochs = [], [], []
    for epoch, order in enumerate(orders, start=1):
        for xs, ys in _epoch_batches(dataset, order, batch_size):
            step_losses, step_weights = side_.epoch(xs, ys)
            losses.append(np.asarray(step_losses, dtype=np.float64))
            weights.append(step_weights)
            epochs.append(np.full(len(xs), epoch))
        if progress is not None:
            progress({"epoch": epoch, "steps": int(sum(len(e) for e in epochs)), "loss": float(losses[-1][-1])})
    return {"losses": np.concatenate(losses), "weights": np.concatenate(weights), "epochs": np.concatenate(epochs),
            "val_predictions": side_.predict(dataset.X_val)}


def compare(a: dict, b: dict, sizes) -> list[dict]:
    """Per step: both losses and, per parameter tensor (``sizes``, in ``TENSORS`` order), the largest difference."""
    steps = []
    for start in range(0, len(a["losses"]), 2048):  # a chunk at a time: a 100-epoch diff is 200 MB
        stop = min(start + 2048, len(a["losses"]))
        per_tensor = engine.largest_by_tensor(a["weights"][start:stop], b["weights"][start:stop], sizes)
        for i in range(stop - start):
            steps.append({"step": start + i + 1, "epoch": int(a["epochs"][start + i]),
                          "loss_a": float(a["losses"][start + i]), "loss_b": float(b["losses"][start + i]),
                          **dict(zip(TENSORS, per_tensor[i].tolist())), "max_abs_diff": float(per_tensor[i].max())})
    return steps


def run(dataset, weights, orders: np.ndarray, batch_size: int, side_a, side_b, progress=None) -> dict:
    """Both sides in this process (they must share a Keras): per-step losses and parameter differences."""
    a = trace(dataset, orders, batch_size, side_a, progress)
    b = trace(dataset, orders, batch_size, side_b)
    return {"steps": compare(a, b, [np.asarray(w).size for w in weights]),
            "val_predictions_a": a["val_predictions"], "val_predictions_b": b["val_predictions"]}


def trace_in_child(framework: str, switches: dict, hp: dict, weights_npz, orders_npy, dataset_npz, manifest,
                   threads: int, out) -> dict:
    """``trace`` of one side in a fresh Python process (its own Keras and backend); returns the trace.

    The child (``main``) writes the trace to ``out`` (an ``.npz``); its
    output goes to this process's stdout and stderr (the job's log).
    """
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "gapstudy.studies.seed.lockstep", framework, json.dumps(switches, sort_keys=True),
               json.dumps(hp, sort_keys=True), str(weights_npz), str(orders_npy), str(dataset_npz),
               str(manifest), str(threads), str(out)]
    sys.stdout.flush()
    sys.stderr.flush()
    subprocess.run(command, check=True)
    with np.load(out) as saved:
        return {key: saved[key] for key in saved.files}


def load_weights(path) -> list[np.ndarray]:
    """The saved initial weights (``np.savez`` of Keras' layout), in order."""
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def main(argv) -> None:
    """``python -m gapstudy.studies.seed.lockstep FRAMEWORK SWITCHES HP WEIGHTS ORDERS DATASET MANIFEST THREADS OUT``."""
    import json
    from pathlib import Path

    from gapstudy.frameworks.runtime import limit_threads

    framework, switches, hp = argv[0], json.loads(argv[1]), json.loads(argv[2])
    weights_npz, orders_npy, dataset_npz, manifest, threads, out = argv[3:9]
    limit_threads(int(threads))  # before any framework is imported
    from gapstudy.studies.seed import run as runs
    from gapstudy.studies.seed.data import load_dataset

    runs._trainer(framework)  # claims the process's Keras and backend
    runs.configure_threads(framework, int(threads))
    runs.configure_determinism(framework)
    dataset = load_dataset(Path(dataset_npz), Path(manifest))
    weights, orders = load_weights(weights_npz), np.load(orders_npy)
    print(f"lock-step side {framework}: {orders.shape[0]} epochs", flush=True)
    result = trace(dataset, orders, hp["batch_size"], side(framework, weights, hp, switches),
                   progress=lambda s: print(f"{framework} epoch {s['epoch']:4d}  step {s['steps']:6d}  "
                                            f"loss={s['loss']:.6g}", flush=True))
    with open(out, "wb") as handle:
        np.savez(handle, **result)


def summarise(steps, tolerance: float) -> dict:
    """First step over ``tolerance`` (in a parameter or in the loss), and the largest difference."""
    first_param = next((s["step"] for s in steps if s["max_abs_diff"] > tolerance), None)
    first_loss = next((s["step"] for s in steps
                       if abs(s["loss_a"] - s["loss_b"]) > tolerance * max(1.0, abs(s["loss_b"]))), None)
    largest = max(steps, key=lambda s: s["max_abs_diff"])
    candidates = [s for s in (first_param, first_loss) if s is not None]
    return {
        "steps": len(steps),
        "tolerance": tolerance,
        "first_step_apart": min(candidates) if candidates else None,
        "first_step_loss_apart": first_loss,
        "first_step_weights_apart": first_param,
        "loss_differs_at_step_1": first_loss == 1,
        "loss_a_step_1": steps[0]["loss_a"],
        "loss_b_step_1": steps[0]["loss_b"],
        "max_abs_diff": largest["max_abs_diff"],
        "max_abs_diff_step": largest["step"],
        "final_max_abs_diff": steps[-1]["max_abs_diff"],
    }


def summary_row(result: dict, steps, tolerance: float) -> dict:
    """One row of the lock-step table: the pair's ``result`` with ``summarise`` of its steps.

    ``steps`` is the pair's steps table (a DataFrame, as the lock-step job
    wrote it); the tolerance is applied here, not in the job, so that a new
    tolerance re-reads the steps instead of rerunning them.
    """
    head = {key: result[key] for key in ("pair", "a", "b", "seed")}
    rest = {key: value for key, value in result.items() if key not in head}
    return head | summarise(steps.to_dict("records"), tolerance) | rest


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
