"""Many seeds of the posted PyTorch loop at once, bit for bit each seed's own loop.

A PyTorch run of this model is about 22,000 steps of some 20 ATen calls
each, at a few microseconds of dispatch per call; the arithmetic of a step
is smaller still. Here a job's seeds are stacked: the parameters of seed
``s`` are row ``s`` of one ``(S, P)`` tensor, every seed gets its own batch
of its own epoch order, and each ATen call serves all seeds (``baddbmm``
and ``bmm`` where the loop calls ``addmm`` and ``mm``; sums and means over
each seed's own axes; ``FlatAdam`` on the stacked rows).

Why each seed keeps its bits (``tests/test_torch_stacked.py`` checks whole
runs against ``train_torch.train`` and the posted loop): elementwise ops do
not care how elements are grouped; a batched product computes each seed's
product with the kernel and accumulation order of the single one (for the
output layer, whose product has one column, the loop's ``addmm`` runs as a
matrix-vector product: ``baddbmm`` over the transposed operands reproduces
it, where ``baddbmm`` in the loop's own layout does not); and the sums and
means reduce each seed's slice over the same axes in the same order.
Initial weights and batch orders are each seed's own: ``TorchLinearModel``
under its seed, then every epoch's ``DataLoader`` draws
(``loader_draws.epoch_order``) in the loop's order.

Only the switches in ``SUPPORTED`` take this path; any other value trains
seed by seed through ``train_torch.train``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from gapstudy.frameworks import metrics
from gapstudy.frameworks.torch_adam import FlatAdam
from gapstudy.frameworks.loader_draws import epoch_order
from gapstudy.frameworks.torch_backward import neg_two_over
from gapstudy.frameworks.torch_model import DTYPES, TorchLinearModel

SUPPORTED = {
    "graph": ("plain",),
    "eval_mode": ("on",),
    "loss": ("handwritten",),
}


def supports(switches: dict) -> bool:
    """Whether this path trains exactly what ``train_torch.train`` trains for these switches."""
    return all(switches.get(name) in values for name, values in SUPPORTED.items())


class StackedNet:
    """S seeds of the posted model: parameters as views of one ``(S, P)`` tensor.

    Per seed, the flat order is the module's (hidden weight, hidden bias,
    output weight, output bias), as in ``train_torch.FlatNet``.
    """

    def __init__(self, weights: list[list[np.ndarray]], activation: str, dtype=torch.float32, device="cpu"):
        """``weights``: per seed, Keras' layout (kernels (in, out), then biases), as ``keras_layout`` gives."""
        from gapstudy.frameworks.torch_backward import ACTIVATIONS

        # Keras' kernels (in, out) as PyTorch's weights (out, in): a transposed copy, exact.
        params = [[torch.as_tensor(np.ascontiguousarray(p.T) if p.ndim == 2 else p, dtype=dtype) for p in w]
                  for w in weights]
        rows = [torch.cat([p.reshape(-1) for p in ps]) for ps in params]
        self.shapes = [p.shape for p in params[0]]
        self.sizes = [p.numel() for p in params[0]]
        # Rows padded to a multiple of 64 bytes: every seed's parameters then
        # sit at the memory alignment the loop's own flat tensor gives them,
        # and some kernels' results depend on it. The padding stays zero.
        P = sum(self.sizes)
        pad = -P % (64 // rows[0].element_size())
        self.flat = torch.nn.functional.pad(torch.stack(rows), (0, pad)).to(device)
        self.sizes = [*self.sizes, pad]
        self.S = len(weights)
        self.activation, self.act = activation, ACTIVATIONS[activation]

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``flat`` (S, P) cut into (S, 100, in), (S, 100), (S, 1, 100), (S, 1)."""
        return [v.view(self.S, *s) for v, s in zip(flat.split(self.sizes, dim=1), self.shapes)]  # padding dropped

    def forward(self, x: torch.Tensor, keep: bool = False):
        """``x`` (S, B, in) -> output (S, B, 1); with ``keep``, also the hidden activations."""
        if not hasattr(self, "_w1t"):  # views of ``flat``: they follow its in-place updates
            w1, b1, w2, b2 = self.views(self.flat)
            self._w1t, self._b1, self._w2, self._b2 = w1.transpose(1, 2), b1.unsqueeze(1), w2, b2.unsqueeze(2)
            self._b2_rows = {}
        hidden = torch.baddbmm(self._b1, x, self._w1t)
        a = self.act(hidden) if self.act is not None else hidden
        # The loop's addmm with one output column is a matrix-vector product;
        # this layout makes baddbmm compute it the same way.
        B = x.shape[1]
        if B not in self._b2_rows:
            self._b2_rows[B] = self._b2.expand(self.S, 1, B)
        out = torch.baddbmm(self._b2_rows[B], self._w2, a.transpose(1, 2)).transpose(1, 2)
        return (out, a) if keep else out

    def seed_weights(self, s: int) -> list[np.ndarray]:
        """Seed ``s``'s weights in Keras' layout (kernels (in, out), then biases)."""
        w1, b1, w2, b2 = (v[s].detach().cpu().numpy() for v in self.views(self.flat))
        return [w1.T, b1, w2.T, b2]


class StackedStep:
    """``torch_backward.ManualStep`` for S seeds: forward, per-seed loss, gradients into ``grad``."""

    def __init__(self, net: StackedNet, target_shape: str):
        if target_shape not in ("posted", "matched"):
            raise ValueError(f"unknown target_shape {target_shape!r}")
        self.net, self.posted = net, target_shape == "posted"
        self.grad = torch.zeros_like(net.flat)
        self.grads = net.views(self.grad)
        self._scale = {}


    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x`` (S, B, in), ``y`` (S, B) -> each seed's batch loss (S,); gradients land in ``grad``."""
        net = self.net
        w2 = net._w2 if hasattr(net, "_w2") else net.views(net.flat)[2]
        g_w1, g_b1, g_w2, g_b2 = self.grads
        out, a = net.forward(x, keep=True)
        if self.posted:
            diff = y.unsqueeze(1) - out  # (S, B, B): each seed's (B,) - (B, 1) broadcast
            loss = torch.pow(diff, 2).mean((1, 2))
            g_pred = diff * neg_two_over(diff[0].numel(), diff, self._scale)
            g_out = g_pred.sum(2, keepdim=True)  # sum_to (B, B) -> (B, 1), per seed
        else:
            diff = y - out.reshape(y.shape)
            loss = torch.pow(diff, 2).mean(1)
            g_pred = diff * neg_two_over(diff[0].numel(), diff, self._scale)
            g_out = g_pred.reshape(out.shape)
        g_a = torch.bmm(g_out, w2)
        torch.bmm(g_out.transpose(1, 2), a, out=g_w2)
        torch.sum(g_out, 1, out=g_b2)
        if net.activation == "relu":
            g_hidden = torch.ops.aten.threshold_backward(g_a, a, 0)
        elif net.activation == "tanh":
            g_hidden = torch.ops.aten.tanh_backward(g_a, a)
        else:
            g_hidden = g_a
        torch.bmm(g_hidden.transpose(1, 2), x, out=g_w1)
        torch.sum(g_hidden, 1, out=g_b1)
        return loss


def draw(seed: int, hp: dict, switches: dict, n_features: int, n: int, n_val: int):
    """``(seed, initial weights, train orders (epochs, n), validation orders (epochs, n_val))``, as the loop draws them.

    The weights are ``TorchLinearModel``'s under the seed (in Keras' layout,
    in the run's dtype); then, per epoch, the training ``DataLoader``'s draws
    and the validation loader's (drawn whatever the averaging), in the loop's order.
    """
    module = TorchLinearModel(n_features, hp["hidden_units"], random_seed=seed,
                              weight_init=switches["weight_init"], bias_init=switches["bias_init"])
    shuffle = switches["shuffle"] == "on"
    train, val = [], []
    for _ in range(switches["epochs"]):  # int32: half the memory of a job's orders
        train.append(epoch_order(n, shuffle).to(torch.int32))
        val.append(epoch_order(n_val).to(torch.int32))
    weights = module.to(dtype=DTYPES[switches["dtype"]]).keras_layout()
    return seed, weights, torch.stack(train), torch.stack(val)


def train(dataset, seeds, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train ``seeds`` together from their own draws (``draw``); one result per seed, as ``train_torch.train``.

    ``progress(seed, row)`` is called per seed and epoch.
    """
    n_features, n, n_val = dataset.X_train.shape[1], len(dataset.X_train), len(dataset.X_val)
    starts = [draw(seed, hp, switches, n_features, n, n_val) for seed in seeds]
    return train_from(dataset, starts, hp, switches, device, progress)


def train_from(dataset, starts, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train from given ``starts``: ``(seed, weights in Keras' layout, train orders (epochs, n), val orders)``.

    Validation orders ``None`` (the common-random-numbers runs, which use
    only the predictions): the validation loss is taken on the whole set.
    """
    if not supports(switches):
        raise ValueError(f"the stacked PyTorch path does not support these switches: {switches}")
    starts = list(starts)
    seeds = [start[0] for start in starts]
    dev, dtype = torch.device(device), DTYPES[switches["dtype"]]
    start = time.time()
    net = StackedNet([w for _, w, _, _ in starts], switches["activation"], dtype, dev)
    step = StackedStep(net, switches["target_shape"])
    optimizer = FlatAdam(net.flat, lr=switches["learning_rate"], betas=(hp["beta_1"], switches["beta_2"]),
                         eps=switches["epsilon"], rule=switches["adam_rule"])
    S, bs = len(seeds), hp["batch_size"]
    as_tensor = lambda a: torch.tensor(a, dtype=dtype).to(dev)  # noqa: E731
    X_train, y_train = as_tensor(dataset.X_train), as_tensor(dataset.y_train)
    X_val, y_val = as_tensor(dataset.X_val), as_tensor(dataset.y_val)
    X_val_all = X_val.expand(S, *X_val.shape).contiguous()
    batch_means = switches["val_loss"] == "batch_means" and all(v is not None for _, _, _, v in starts)

    results = [{"epochs": []} for _ in seeds]
    done = [False] * S
    for e in range(switches["epochs"]):
        order = torch.stack([torch.as_tensor(o[e]) for _, _, o, _ in starts]).to(dev)  # (S, n)
        X_epoch, y_epoch = X_train[order], y_train[order]  # (S, n, in), (S, n)
        losses = []
        grad = step.grad
        for xb, yb in zip(X_epoch.split(bs, dim=1), y_epoch.split(bs, dim=1)):
            losses.append(step(xb, yb))
            optimizer.step(grad)
        train_losses = torch.stack(losses, 1).tolist()  # (S, steps) as Python floats
        with torch.no_grad():
            if batch_means:
                val_order = torch.stack([torch.as_tensor(v[e]) for _, _, _, v in starts]).to(dev)
                Xv, yv = X_val[val_order], y_val[val_order]
                val_losses = [_loss(net.forward(xb), yb, step.posted)
                              for xb, yb in zip(Xv.split(bs, dim=1), yv.split(bs, dim=1))]
            else:
                val_losses = [_loss(net.forward(X_val_all), y_val.expand(S, -1), step.posted)]
            val_losses = torch.stack(val_losses, 1).tolist()
            full = net.forward(X_val_all).cpu().numpy().reshape(S, -1)
        for s, seed in enumerate(seeds):
            if done[s]:
                continue
            row = {
                "epoch": e + 1,
                "train_loss": float(np.mean(train_losses[s])),
                "val_loss_user": float(np.mean(val_losses[s])),
                "val_mse": metrics.mse(dataset.y_val, full[s]),
            }
            results[s]["epochs"].append(row)
            if progress is not None:
                progress(seed, row)
            if not math.isfinite(row["train_loss"]):
                done[s] = True  # diverged: the loop stops here; keep what it would return
                _finish(results[s], net, s, X_val_all)
        if all(done):
            break
    seconds = (time.time() - start) / S
    for s in range(S):
        if not done[s]:
            _finish(results[s], net, s, X_val_all)
        results[s].update({
            "train_seconds": seconds,
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "settings": {
                "torch_num_threads": torch.get_num_threads(),
                "torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                "loss_warnings": [],
                "stacked_seeds": S,
            },
        })
    return results


def _loss(out: torch.Tensor, y: torch.Tensor, posted: bool) -> torch.Tensor:
    """The user's hand-written MSE per seed: (S, B, 1), (S, B) -> (S,)."""
    if posted:
        return torch.mean(torch.pow(y.unsqueeze(1) - out, 2), (1, 2))
    return torch.mean(torch.pow(y - out.reshape(y.shape), 2), 1)


def _finish(result: dict, net: StackedNet, s: int, X_val_all: torch.Tensor) -> None:
    """Seed ``s``'s predictions on the whole validation set and its weights, as the loop returns them."""
    with torch.no_grad():
        result["predictions"] = net.forward(X_val_all)[s].cpu().numpy().reshape(-1)
    result["weights"] = net.seed_weights(s)
