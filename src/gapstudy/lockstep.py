"""Lock-step runs: PyTorch and Keras from the same weights, on the same batches, step by step.

Research question 4: where exactly do the two frameworks part ways? Both
start from one set of initial weights (drawn once, by the PyTorch model's
initialiser, and saved), see one saved permutation of the training rows per
epoch, and take one optimizer step each, in turn. After every step the
losses and the largest absolute difference of each parameter tensor are
recorded. The PyTorch side is the workflow's own training step
(``train_torch``), the Keras side Keras' own ``train_on_batch`` (the train
step ``fit`` runs).
"""

from __future__ import annotations

import numpy as np

TENSORS = ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias")


def initial_weights(seed: int, n_features: int, hp: dict, switches: dict) -> list[np.ndarray]:
    """The PyTorch model's initial weights for ``seed``, in Keras' layout (kernels (in, out))."""
    from gapstudy.train_torch import TorchLinearModel

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

        from gapstudy.train_torch import DTYPES, FlatNet, Stepper, TorchLinearModel

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
        from gapstudy.train_keras import build_model

        self.model = build_model(weights[0].shape[0], hp, switches)
        self.model.set_weights(weights)
        self.matched = switches["target_shape"] == "matched"
        self._epoch = None

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
                    weights = weights.write(i, tf.concat([tf.reshape(v.value, [-1])
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


def _flat(weights) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype=np.float64).reshape(-1) for w in weights])


def run(dataset, weights, orders: np.ndarray, batch_size: int, torch_side, keras_side, progress=None) -> dict:
    """Step both sides through ``orders``; per-step losses and parameter differences.

    The two sides never read each other's state, so each runs an epoch's
    steps on its own (Keras in one compiled call) and the weights after
    every step are compared afterwards.
    """
    bounds = np.cumsum([0] + [int(np.asarray(w).size) for w in weights])
    steps, step = [], 0
    for epoch, order in enumerate(orders, start=1):
        for xs, ys in _epoch_batches(dataset, order, batch_size):
            torch_losses, torch_weights = [], []
            for x, y in zip(xs, ys):
                torch_losses.append(torch_side.step(x, y))
                torch_weights.append(_flat(torch_side.weights()))
            keras_losses, keras_weights = keras_side.epoch(xs, ys)
            diff = np.abs(np.stack(torch_weights) - keras_weights.astype(np.float64))
            per_tensor = np.stack([diff[:, a:b].max(axis=1) for a, b in zip(bounds[:-1], bounds[1:])], axis=1)
            for i in range(len(xs)):
                step += 1
                steps.append({"step": step, "epoch": epoch, "loss_torch": torch_losses[i],
                              "loss_keras": float(keras_losses[i]),
                              **dict(zip(TENSORS, per_tensor[i].tolist())), "max_abs_diff": float(per_tensor[i].max())})
        if progress is not None:
            progress(steps[-1])
    return {
        "steps": steps,
        "val_predictions_torch": torch_side.predict(dataset.X_val),
        "val_predictions_keras": keras_side.predict(dataset.X_val),
    }


def summarise(steps, tolerance: float) -> dict:
    """First step over ``tolerance`` (in a parameter or in the loss), and the largest difference."""
    first_param = next((s["step"] for s in steps if s["max_abs_diff"] > tolerance), None)
    first_loss = next((s["step"] for s in steps
                       if abs(s["loss_torch"] - s["loss_keras"]) > tolerance * max(1.0, abs(s["loss_keras"]))),
                      None)
    largest = max(steps, key=lambda s: s["max_abs_diff"])
    candidates = [s for s in (first_param, first_loss) if s is not None]
    return {
        "steps": len(steps),
        "tolerance": tolerance,
        "first_step_apart": min(candidates) if candidates else None,
        "first_step_loss_apart": first_loss,
        "first_step_weights_apart": first_param,
        "loss_differs_at_step_1": first_loss == 1,
        "loss_torch_step_1": steps[0]["loss_torch"],
        "loss_keras_step_1": steps[0]["loss_keras"],
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
    head = {key: result[key] for key in ("pair", "torch", "keras", "seed")}
    rest = {key: value for key, value in result.items() if key not in head}
    return head | summarise(steps.to_dict("records"), tolerance) | rest
