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
    """The workflow's PyTorch step (engine-free gradients where possible, FlatAdam)."""

    def __init__(self, weights, hp: dict, switches: dict):
        import torch

        from gapstudy import torch_backward
        from gapstudy.torch_adam import FlatAdam
        from gapstudy.train_torch import FlatNet, TorchLinearModel, loss_fn

        self.torch = torch
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[switches["dtype"]]
        module = TorchLinearModel(weights[0].shape[0], hp["hidden_units"])
        with torch.no_grad():
            for param, value in zip(module.parameters(), from_keras_layout(weights)):
                param.copy_(torch.from_numpy(value))
        self.net = FlatNet(module.to(dtype=self.dtype), switches["activation"])
        self.manual = torch_backward.supports(switches)
        self.optimizer = FlatAdam(self.net.flat, lr=switches["learning_rate"],
                                  betas=(hp["beta_1"], hp["beta_2"]), eps=switches["epsilon"],
                                  rule=switches["adam_rule"])
        if self.manual:
            self.net.flat.requires_grad_(False)
            self.grad = torch.zeros_like(self.net.flat)
            self.step_fn = torch_backward.ManualStep(self.net.parameters(), self.net.views(self.grad),
                                                     switches["target_shape"], switches["loss"],
                                                     switches["activation"])
        else:
            self.loss = loss_fn(switches["target_shape"], switches["loss"])

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        torch = self.torch
        xb, yb = torch.from_numpy(x).to(self.dtype), torch.from_numpy(y).to(self.dtype)
        if self.manual:
            loss = self.step_fn(xb, yb)
            self.optimizer.step(self.grad)
        else:
            self.net.flat.grad = None
            loss = self.loss(yb, self.net(xb))
            loss.backward()
            with torch.no_grad():
                self.optimizer.step(self.net.flat.grad)
        return float(loss)

    def weights(self) -> list[np.ndarray]:
        return self.net.keras_layout()

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(x).to(self.dtype)).numpy().reshape(-1)


class KerasSide:
    """The posted Keras model (with the variant's switches), its own train step per batch."""

    def __init__(self, weights, hp: dict, switches: dict):
        from gapstudy.train_keras import build_model

        self.model = build_model(weights[0].shape[0], hp, switches)
        self.model.set_weights(weights)
        self.matched = switches["target_shape"] == "matched"

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        if self.matched:
            y = y.reshape(-1, 1)
        return float(self.model.train_on_batch(x, y))

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(w) for w in self.model.get_weights()]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x, training=False)).reshape(-1)


def from_keras_layout(weights):
    """Keras' [kernel (in, out), bias, ...] as PyTorch's [weight (out, in), bias, ...]."""
    return [np.ascontiguousarray(w.T) if w.ndim == 2 else w for w in weights]


def max_abs_differences(a, b) -> list[float]:
    return [float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(a, b)]


def run(dataset, weights, orders: np.ndarray, batch_size: int, torch_side, keras_side, progress=None) -> dict:
    """Step both sides through ``orders``; per-step losses and parameter differences."""
    steps = []
    step = 0
    for epoch, order in enumerate(orders, start=1):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, y = dataset.X_train[idx], dataset.y_train[idx]
            loss_t, loss_k = torch_side.step(x, y), keras_side.step(x, y)
            step += 1
            diffs = max_abs_differences(torch_side.weights(), keras_side.weights())
            steps.append({"step": step, "epoch": epoch, "loss_torch": loss_t, "loss_keras": loss_k,
                          **dict(zip(TENSORS, diffs)), "max_abs_diff": max(diffs)})
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
