"""PyTorch training: the user's loop with the same numbers, at a fraction of its cost.

The posted loop spends most of its time in ``DataLoader``'s per-sample
indexing and collation, and in ``torch.optim.Adam``'s per-parameter Python
bookkeeping. Here each epoch draws the very same random numbers the two
DataLoaders draw (iterator seed, sampler seed, permutation) and indexes whole
batches; the parameters live in one flat tensor (``FlatNet``) that
``FlatAdam`` updates with the same tensor operations as PyTorch's Adam. The
updates, and hence the weights, are bit for bit the posted ones on CPU
(``tests/test_train_torch.py`` proves it against ``gapstudy.studies.seed.posted``).

Every switch of ``gapstudy.variants`` that applies to PyTorch is honoured
here; with the posted defaults the code path is the user's.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from torch.nn import functional as F

from gapstudy.frameworks import metrics, torch_backward
from gapstudy.frameworks.loader_draws import epoch_batches, epoch_order
from gapstudy.frameworks.torch_adam import FlatAdam
from gapstudy.frameworks.torch_model import DTYPES, TorchLinearModel

ACTIVATIONS = torch_backward.ACTIVATIONS


class FlatNet:
    """The model's parameters as views of one flat leaf tensor.

    Same forward arithmetic as the module (``F.linear`` per layer), without
    the module call overhead, and one tensor for the optimizer to update.
    The flat order is the module's: hidden weight, hidden bias, output
    weight, output bias.
    """

    def __init__(self, model: TorchLinearModel, activation: str = "none", requires_grad: bool = True):
        params = [p.detach() for p in model.parameters()]
        self.shapes = [p.shape for p in params]
        self.sizes = [p.numel() for p in params]
        self.flat = torch.cat([p.reshape(-1) for p in params]).requires_grad_(requires_grad)
        self.activation = ACTIVATIONS[activation]

    def parameters(self) -> list[torch.Tensor]:
        return self.views(self.flat)

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``flat`` (the parameters or a gradient) cut into the four parameter shapes."""
        return [v.view(s) for v, s in zip(flat.split(self.sizes), self.shapes)]

    def __call__(self, x):
        w1, b1, w2, b2 = self.parameters()
        hidden = F.linear(x, w1, b1)
        if self.activation is not None:
            hidden = self.activation(hidden)
        return F.linear(hidden, w2, b2)

    def keras_layout(self) -> list[np.ndarray]:
        w1, b1, w2, b2 = (p.detach().cpu().numpy() for p in self.parameters())
        return [w1.T, b1, w2.T, b2]


def loss_fn(target_shape: str, loss: str = "handwritten"):
    """The user's hand-written MSE or ``F.mse_loss``, with the posted or matched target shape."""
    if target_shape not in ("posted", "matched"):
        raise ValueError(f"unknown target_shape {target_shape!r}")
    if loss == "handwritten":
        if target_shape == "posted":
            # (B,) - (B, 1) broadcasts to (B, B): the mean over every (i, j) pair.
            return lambda y, y_pred: torch.mean((y - y_pred) ** 2)
        return lambda y, y_pred: torch.mean((y - y_pred.reshape(y.shape)) ** 2)
    if loss == "framework":
        # nn.MSELoss(input, target); with the posted shapes it warns and broadcasts.
        if target_shape == "posted":
            return lambda y, y_pred: F.mse_loss(y_pred, y)
        return lambda y, y_pred: F.mse_loss(y_pred.reshape(y.shape), y)
    raise ValueError(f"unknown loss {loss!r}")


class Stepper:
    """Optimizer steps as the switches say, on a ``FlatNet``.

    Gradients come from ``torch_backward`` (autograd's own backward ops,
    without its engine) where it supports the switches, from
    ``loss.backward()`` otherwise; updates from ``FlatAdam``.
    """

    def __init__(self, model: FlatNet, hp: dict, switches: dict):
        self.model = model
        self.loss = loss_fn(switches["target_shape"], switches["loss"])
        self.optimizer = FlatAdam(model.flat, lr=switches["learning_rate"], betas=(hp["beta_1"], switches["beta_2"]),
                                  eps=switches["epsilon"], rule=switches["adam_rule"])
        self.backward = {"plain": {}, "retain_graph": {"retain_graph": True},
                         "create_graph": {"create_graph": True}}[switches["graph"]]
        self.manual = torch_backward.supports(switches)
        if self.manual:
            model.flat.requires_grad_(False)
            self.grad = torch.zeros_like(model.flat)
            self.manual_step = torch_backward.ManualStep(model.parameters(), model.views(self.grad),
                                                         switches["target_shape"], switches["loss"],
                                                         switches["activation"])

    def steps(self, batches) -> list[torch.Tensor]:
        """One step per (x, y) batch; the batch losses (0-d tensors)."""
        losses, optimizer = [], self.optimizer
        if self.manual:
            step, grad = self.manual_step, self.grad
            for xb, yb in batches:
                losses.append(step(xb, yb))
                optimizer.step(grad)
            return losses
        model, flat = self.model, self.model.flat
        for xb, yb in batches:
            flat.grad = None
            batch_loss = self.loss(yb, model(xb))
            batch_loss.backward(**self.backward)
            with torch.no_grad():
                optimizer.step(flat.grad)
            losses.append(batch_loss.detach())
        return losses


def train(dataset, seed: int, hp: dict, switches: dict, device: str = "cpu", progress=None) -> dict:
    """Train one run; return its record (see README, "What each run writes").

    ``hp`` gives the architecture, batch size and betas; learning rate,
    epsilon and epochs come from the resolved ``switches``.
    """
    dev, dtype = torch.device(device), DTYPES[switches["dtype"]]
    module = TorchLinearModel(dataset.X_train.shape[1], hp["hidden_units"], random_seed=seed,
                              weight_init=switches["weight_init"], bias_init=switches["bias_init"])
    model = FlatNet(module.to(device=dev, dtype=dtype), switches["activation"])
    stepper = Stepper(model, hp, switches)
    loss = stepper.loss
    as_tensor = lambda a: torch.tensor(a, dtype=dtype).to(dev)  # noqa: E731
    X_train, y_train = as_tensor(dataset.X_train), as_tensor(dataset.y_train)
    X_val, y_val = as_tensor(dataset.X_val), as_tensor(dataset.y_val)
    batch_size, shuffle = hp["batch_size"], switches["shuffle"] == "on"
    validation_grad = torch.no_grad if switches["eval_mode"] == "on" else torch.enable_grad

    epochs, loss_warnings = [], set()
    start = time.time()
    for epoch in range(1, switches["epochs"] + 1):
        order = epoch_order(len(X_train), shuffle).to(dev)
        # Whole-epoch gather, then batches as views: the same values as per-batch indexing.
        X_epoch, y_epoch = X_train[order], y_train[order]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always" if epoch == 1 else "ignore")
            losses = stepper.steps(zip(X_epoch.split(batch_size), y_epoch.split(batch_size)))
        loss_warnings.update(str(w.message).split(".")[0] for w in caught)
        with validation_grad():
            batches = epoch_batches(len(X_val), batch_size)  # drawn whatever the averaging
            if switches["val_loss"] == "batch_means":
                val_losses = [loss(y_val[idx], model(X_val[idx])).detach() for idx in batches]
            else:
                val_losses = [loss(y_val, model(X_val)).detach()]
            full = model(X_val).detach().cpu().numpy().reshape(-1)
        # The user's np.mean over Python floats of each batch's loss.
        row = {
            "epoch": epoch,
            "train_loss": float(np.mean(torch.stack(losses).tolist())),
            "val_loss_user": float(np.mean(torch.stack(val_losses).tolist())),
            "val_mse": metrics.mse(dataset.y_val, full),
        }
        epochs.append(row)
        if progress is not None:
            progress(row)
        if not math.isfinite(row["train_loss"]):
            break  # diverged: later epochs cannot recover
    # As posted: predictions on the whole validation set at once.
    with torch.no_grad():
        predictions = model(X_val).cpu().numpy().reshape(-1)
    return {
        "epochs": epochs,
        "predictions": predictions,
        "weights": model.keras_layout(),
        "train_seconds": time.time() - start,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "settings": {
            "torch_num_threads": torch.get_num_threads(),
            "torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "loss_warnings": sorted(loss_warnings),
        },
    }


def train_seeds(dataset, seeds, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train ``seeds``: stacked (``torch_stacked``) where it supports the switches, else one by one.

    Either way each seed's result is bit for bit its own ``train``'s on CPU
    (``tests/test_torch_stacked.py``). ``progress(seed, row)`` per seed and epoch.
    """
    from gapstudy.frameworks import torch_stacked

    if torch_stacked.supports(switches):
        return torch_stacked.train(dataset, seeds, hp, switches, device, progress)
    return [train(dataset, seed, hp, switches, device,
                  progress=None if progress is None else (lambda row, seed=seed: progress(seed, row)))
            for seed in seeds]
