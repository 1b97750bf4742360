"""PyTorch training: the user's loop with the same numbers, at a fraction of its cost.

The posted loop spends most of its time in ``DataLoader``'s per-sample
indexing and collation, and in ``torch.optim.Adam``'s per-parameter Python
bookkeeping. Here each epoch draws the very same random numbers the two
DataLoaders draw (iterator seed, sampler seed, permutation) and indexes whole
batches; the parameters live in one flat tensor (``FlatNet``) that
``FlatAdam`` updates with the same tensor operations as PyTorch's Adam. The
updates, and hence the weights, are bit for bit the posted ones on CPU
(``tests/test_train_torch.py`` proves it against ``gapstudy.posted``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gapstudy import metrics
from gapstudy.torch_adam import FlatAdam


class TorchLinearModel(nn.Module):
    """The posted model; the seed is set inside, as in the question."""

    def __init__(self, input_dim: int = 10, hidden_units: int = 100, random_seed: int = 0):
        super().__init__()
        torch.manual_seed(random_seed)
        self.hidden_layer = nn.Linear(input_dim, hidden_units)
        self.initialize_layer(self.hidden_layer)
        self.output_layer = nn.Linear(hidden_units, 1)
        self.initialize_layer(self.output_layer)

    @staticmethod
    def initialize_layer(layer: nn.Linear) -> None:
        nn.init.xavier_normal_(layer.weight)
        nn.init.constant_(layer.bias, 0)

    def forward(self, x):
        return self.output_layer(self.hidden_layer(x))

    def keras_layout(self) -> list[np.ndarray]:
        """Weights as Keras stores them: kernels (in, out), then biases."""
        return [
            self.hidden_layer.weight.detach().cpu().numpy().T,
            self.hidden_layer.bias.detach().cpu().numpy(),
            self.output_layer.weight.detach().cpu().numpy().T,
            self.output_layer.bias.detach().cpu().numpy(),
        ]


class FlatNet:
    """The model's parameters as views of one flat leaf tensor.

    Same forward arithmetic as the module (``F.linear`` per layer), without
    the module call overhead, and one tensor for the optimizer to update.
    The flat order is the module's: hidden weight, hidden bias, output
    weight, output bias.
    """

    def __init__(self, model: TorchLinearModel):
        params = [p.detach() for p in model.parameters()]
        self.shapes = [p.shape for p in params]
        self.sizes = [p.numel() for p in params]
        self.flat = torch.cat([p.reshape(-1) for p in params]).requires_grad_()

    def parameters(self) -> list[torch.Tensor]:
        return [v.view(s) for v, s in zip(self.flat.split(self.sizes), self.shapes)]

    def __call__(self, x):
        w1, b1, w2, b2 = self.parameters()
        return F.linear(F.linear(x, w1, b1), w2, b2)

    def keras_layout(self) -> list[np.ndarray]:
        w1, b1, w2, b2 = (p.detach().cpu().numpy() for p in self.parameters())
        return [w1.T, b1, w2.T, b2]


def loss_fn(target_shape: str):
    """The user's hand-written MSE, with the posted or matched target shape."""
    if target_shape == "posted":
        # (B,) - (B, 1) broadcasts to (B, B): the mean over every (i, j) pair.
        return lambda y, y_pred: torch.mean((y - y_pred) ** 2)
    if target_shape == "matched":
        return lambda y, y_pred: torch.mean((y - y_pred.reshape(y.shape)) ** 2)
    raise ValueError(f"unknown target_shape {target_shape!r}")


def epoch_batches(n: int, batch_size: int, shuffle: bool = True) -> list[torch.Tensor]:
    """The index batches one pass of ``DataLoader(shuffle=shuffle)`` yields.

    Consumes the global generator exactly as a DataLoader does: the iterator
    draws its base seed when created, then ``RandomSampler`` draws a seed for
    a fresh generator that makes the permutation.
    """
    torch.empty((), dtype=torch.int64).random_()  # _BaseDataLoaderIter._base_seed
    if shuffle:
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        generator = torch.Generator()
        generator.manual_seed(seed)
        order = torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    return list(torch.split(order, batch_size))


def train(dataset, seed: int, hp: dict, switches: dict, device: str = "cpu", progress=None) -> dict:
    """Train one run; return its record (see README, "What each run writes")."""
    dev = torch.device(device)
    loss = loss_fn(switches["target_shape"])
    model = FlatNet(
        TorchLinearModel(dataset.X_train.shape[1], hp["hidden_units"], random_seed=seed).to(dev)
    )
    optimizer = FlatAdam(
        model.flat, lr=hp["learning_rate"], betas=(hp["beta_1"], hp["beta_2"]), eps=hp["epsilon"]
    )
    X_train = torch.tensor(dataset.X_train, dtype=torch.float32).to(dev)
    y_train = torch.tensor(dataset.y_train, dtype=torch.float32).to(dev)
    X_val = torch.tensor(dataset.X_val, dtype=torch.float32).to(dev)
    y_val = torch.tensor(dataset.y_val, dtype=torch.float32).to(dev)
    batch_size = hp["batch_size"]

    epochs = []
    start = time.time()
    for epoch in range(1, hp["epochs"] + 1):
        losses = []
        for idx in epoch_batches(len(X_train), batch_size):
            idx = idx.to(dev)
            model.flat.grad = None
            batch_loss = loss(y_train[idx], model(X_train[idx]))
            batch_loss.backward()
            optimizer.step()
            losses.append(batch_loss.detach())
        with torch.no_grad():
            val_losses = [
                loss(y_val[idx], model(X_val[idx])) for idx in epoch_batches(len(X_val), batch_size)
            ]
            full = model(X_val).cpu().numpy().reshape(-1)
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
        },
    }
