"""The PyTorch ports of the catalogue's cases, one implementation of every switch (``cases.SWITCHES``).

A port is what a user writes when porting the Keras reference
(``keras_ref``): an ``nn.Sequential`` whose named blocks are the Keras
layers, a loss, an optimizer and the usual loop. Every switch a case does
not list takes its Keras-matching value (``KERAS_MATCHING``), so that the
fixed port differs from the reference only where no switch reaches.

``Port.train_step`` is the one training step: ``train`` runs it over the
epochs, and ``Traced`` runs it with a recorder that names every tensor as
``keras_ref.Traced`` does (Keras' layouts: kernels (in, out), images
channels last, one LSTM bias), so that ``lockstep`` can compare them.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

import numpy as np

from gapstudy.studies.catalogue.cases import CASES, SWITCHES
from gapstudy.studies.catalogue.scores import n_outputs, scores

# The value of every switch that makes a port do what Keras does.
KERAS_MATCHING = {"target_shape": "matched", "init": "keras", "adam": "keras", "output": "logits",
                  "reduction": "mean", "l2": "loss", "clipnorm": "per_variable", "shuffle": "every_epoch",
                  "bn_momentum": "converted", "bn_epsilon": "keras", "eval_mode": "eval",
                  "lstm_init": "keras", "lstm_bias": "one", "lr_schedule": "per_batch"}
assert set(KERAS_MATCHING) == set(SWITCHES)

KERAS_BN_MOMENTUM, KERAS_BN_EPSILON, TORCH_BN_EPSILON = 0.99, 1e-3, 1e-5


def resolve(switches: dict) -> dict:
    """``switches`` over the Keras-matching defaults; an unknown switch or value is refused, named."""
    out = dict(KERAS_MATCHING)
    for name, value in switches.items():
        if name not in SWITCHES:
            raise KeyError(f"unknown switch {name!r}; allowed: {', '.join(SWITCHES)}")
        if value not in SWITCHES[name].values:
            raise ValueError(f"switch {name}: {value!r} is not one of {', '.join(SWITCHES[name].values)}")
        out[name] = value
    return out


def make_keras_adam():
    import torch

    class KerasAdam(torch.optim.Optimizer):
        """Keras 3's ``Adam.update_step`` as a torch optimizer (so that torch's schedulers drive it).

        The step size folds in both bias corrections, computed in float32
        as Keras does, and epsilon is added to sqrt(v) ("epsilon hat").
        ``weight_decay`` is PyTorch's coupled one (λ·w added to the
        gradient), for the ``l2: weight_decay`` pitfall.
        """

        def __init__(self, params, lr, betas, eps, weight_decay=0.0):
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad
                    if group["weight_decay"]:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    state = self.state[p]
                    if not state:
                        state["step"] = 0
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    state["step"] += 1
                    t = torch.tensor(float(state["step"]), dtype=p.dtype)
                    alpha = (torch.tensor(group["lr"], dtype=p.dtype) * torch.sqrt(1 - torch.pow(torch.tensor(
                        beta2, dtype=p.dtype), t)) / (1 - torch.pow(torch.tensor(beta1, dtype=p.dtype), t)))
                    m, v = state["exp_avg"], state["exp_avg_sq"]
                    m.add_((grad - m) * (1 - beta1))
                    v.add_((torch.square(grad) - v) * (1 - beta2))
                    p.sub_((m * alpha) / (torch.sqrt(v) + group["eps"]))

    return KerasAdam


def _last_step_lstm(nn, inputs: int, units: int):
    class LastStep(nn.Module):
        """nn.LSTM returning the last step's output, as Keras' LSTM(return_sequences=False)."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(inputs, units, batch_first=True)

        def forward(self, x):
            out, _ = self.lstm(x)
            return out[:, -1]

    return LastStep()


def build(case: str, switches: dict, input_shape: tuple, outputs: int, seed: int):
    """The case's port as ``nn.Sequential`` of blocks named like the Keras layers, seeded by ``seed``."""
    import torch
    from torch import nn

    c, s, sw = CASES[case], CASES[case].settings, resolve(switches)
    torch.manual_seed(seed)
    blocks = []
    if c.family == "mlp_regression":
        blocks += [("hidden", nn.Linear(input_shape[0], s["hidden"]))]
        width = s["hidden"]
    elif c.family == "mlp_classifier":
        blocks += [("hidden", nn.Sequential(nn.Linear(input_shape[0], s["hidden"]), nn.ReLU()))]
        width = s["hidden"]
    elif c.family == "cnn":
        first, second = s["filters"]
        momentum = KERAS_BN_MOMENTUM if sw["bn_momentum"] == "literal" else 1 - KERAS_BN_MOMENTUM
        eps = KERAS_BN_EPSILON if sw["bn_epsilon"] == "keras" else TORCH_BN_EPSILON
        blocks += [("conv1", nn.Conv2d(input_shape[-1], first, 3, padding=1, bias=False)),
                   ("bn1", nn.BatchNorm2d(first, momentum=momentum, eps=eps)), ("relu1", nn.ReLU()),
                   ("conv2", nn.Conv2d(first, second, 3, padding=1, bias=False)),
                   ("bn2", nn.BatchNorm2d(second, momentum=momentum, eps=eps)), ("relu2", nn.ReLU()),
                   ("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
                   ("dropout", nn.Dropout(s["dropout"]))]
        width = second
    elif c.family == "rnn":
        blocks += [("lstm", _last_step_lstm(nn, input_shape[-1], s["units"]))]
        width = s["units"]
    else:
        raise ValueError(f"no PyTorch port for family {c.family!r}")
    head = nn.Linear(width, outputs)
    if sw["output"] == "softmax":
        head = nn.Sequential(head, nn.Softmax(dim=1))
    elif sw["output"] == "sigmoid":
        head = nn.Sequential(head, nn.Sigmoid())
    blocks.append(("output", head))
    model = nn.Sequential(OrderedDict(blocks))
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and sw["init"] == "keras":
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        if isinstance(module, nn.LSTM):
            _init_lstm(nn, module, sw)
    return model


def _init_lstm(nn, lstm, sw: dict) -> None:
    import torch

    h = lstm.hidden_size
    if sw["lstm_init"] == "keras":
        nn.init.xavier_uniform_(lstm.weight_ih_l0)
        nn.init.orthogonal_(lstm.weight_hh_l0)
        with torch.no_grad():
            lstm.bias_ih_l0.zero_()
            lstm.bias_ih_l0[h:2 * h] = 1.0  # unit_forget_bias: gates i, f, g, o
            lstm.bias_hh_l0.zero_()
    if sw["lstm_bias"] == "one":
        with torch.no_grad():
            lstm.bias_hh_l0.zero_()
        lstm.bias_hh_l0.requires_grad_(False)


def to_torch_layout(family: str, X):
    """Keras' layout to the port's: images (N, H, W, C) to (N, C, H, W)."""
    return np.ascontiguousarray(np.transpose(X, (0, 3, 1, 2))) if family == "cnn" else X


class Port:
    """A case's port: its model, loss, optimizer, schedule and clipping, one ``train_step`` at a time."""

    def __init__(self, case: str, switches: dict, data: dict, seed: int):
        import torch

        self.case, self.c = case, CASES[case]
        self.s, self.sw = self.c.settings, resolve(switches)
        self.outputs = n_outputs(self.c.task, data["y_train"])
        self.model = build(case, switches, data["X_train"].shape[1:], self.outputs, seed)
        params = [p for p in self.model.parameters() if p.requires_grad]
        decay = self.s["l2"] if self.s.get("l2") and self.sw["l2"] == "weight_decay" else 0.0
        betas = (0.9, self.s["beta_2"])
        if self.sw["adam"] == "keras":
            self.optimizer = make_keras_adam()(params, self.s["learning_rate"], betas, self.s["epsilon"], decay)
        else:
            self.optimizer = torch.optim.Adam(params, lr=self.s["learning_rate"], betas=betas,
                                              eps=self.s["epsilon"], weight_decay=decay)
        self.scheduler = None
        if self.s.get("decay_steps"):
            gamma = self.s["decay_rate"] ** (1.0 / self.s["decay_steps"])
            self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=gamma)
        self.generator = torch.Generator().manual_seed(seed)

    # -- the loss, as the port writes it
    def probabilities(self, out):
        """What the model's output means to a user: predictions, or class probabilities."""
        import torch

        if self.c.task == "multiclass" and self.sw["output"] == "logits":
            return torch.softmax(out, dim=1)
        if self.c.task == "binary" and self.sw["output"] == "logits":
            return torch.sigmoid(out)
        return out

    def data_loss(self, out, y):
        import torch
        import torch.nn.functional as F

        if self.c.task == "regression":
            target = y if self.sw["target_shape"] == "broadcast" else y.view(-1, 1)
            reduce = torch.sum if self.sw["reduction"] == "sum" else torch.mean
            return reduce((target - out) ** 2)
        if self.c.task == "multiclass":
            return F.cross_entropy(out, y, reduction=self.sw["reduction"])
        return F.binary_cross_entropy_with_logits(out.view(-1), y.to(out.dtype), reduction=self.sw["reduction"])

    def penalty(self):
        """Keras' L2 kernel regulariser as the port writes it: λ·Σw² of the kernels, or nothing (weight_decay)."""
        import torch
        from torch import nn

        if self.sw["l2"] != "loss":
            return torch.zeros(())
        kernels = [m.weight for m in self.model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        return self.s["l2"] * sum(torch.sum(w ** 2) for w in kernels)

    # -- the loop
    def order(self, n: int):
        import torch

        if self.sw["shuffle"] == "every_epoch":
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def forward(self, x, record=None, mask=None):
        from torch import nn

        h = x
        for name, block in self.model.named_children():
            if mask is not None and isinstance(block, nn.Dropout) and block.training:
                h = h * mask / (1 - block.p)
            else:
                h = block(h)
            if record is not None:
                record(name, self.probabilities(h) if name == "output" else h)
        return h

    def train_step(self, x, y, record=None, mask=None) -> float:
        import torch

        self.optimizer.zero_grad()
        out = self.forward(x, record, mask)
        loss = self.data_loss(out, y)
        if record is not None:
            record("loss input", out)
            record("loss", loss)
        if self.s.get("l2"):
            penalty = self.penalty()
            if record is not None:
                record("L2 penalty", penalty)
            loss = loss + penalty
        loss.backward()
        if record is not None:
            record("gradients", None)
        if self.s.get("clipnorm"):
            params = [p for p in self.model.parameters() if p.requires_grad]
            if self.sw["clipnorm"] == "global":
                torch.nn.utils.clip_grad_norm_(params, self.s["clipnorm"])
            else:
                for p in params:
                    torch.nn.utils.clip_grad_norm_([p], self.s["clipnorm"])
        self.optimizer.step()
        if self.scheduler is not None and self.sw["lr_schedule"] == "per_batch":
            self.scheduler.step()
        return float(loss.detach())

    def end_epoch(self) -> None:
        if self.scheduler is not None and self.sw["lr_schedule"] == "per_epoch":
            self.scheduler.step()

    def evaluate(self, X):
        """Validation as the port writes it: after ``model.eval()`` unless the pitfall forgets it; batches of
        the training batch size (BatchNorm in training mode sees each batch alone)."""
        import torch

        if self.sw["eval_mode"] == "eval":
            self.model.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, len(X), self.s["batch_size"]):
                outputs.append(self.probabilities(self.model(X[start:start + self.s["batch_size"]])))
        self.model.train()
        return torch.cat(outputs).numpy()


def train(case: str, switches: dict, data: dict, seed: int, epochs: int | None = None) -> dict:
    """Train the port with ``switches`` from seed ``seed``; its validation scores, losses and times."""
    import torch

    c = CASES[case]
    start, cpu = time.perf_counter(), time.process_time()
    port = Port(case, switches, data, seed)
    X = torch.from_numpy(to_torch_layout(c.family, data["X_train"]))
    y = torch.from_numpy(data["y_train"])
    batch = c.settings["batch_size"]
    losses = []
    port.model.train()
    for _ in range(epochs or c.settings["epochs"]):
        order, epoch_losses = port.order(len(X)), []
        for first in range(0, len(X), batch):
            idx = order[first:first + batch]
            epoch_losses.append(port.train_step(X[idx], y[idx]))
        port.end_epoch()
        losses.append(float(np.mean(epoch_losses)))
    output = port.evaluate(torch.from_numpy(to_torch_layout(c.family, data["X_val"])))
    result = scores(c.task, data["y_val"], output)
    if not all(math.isfinite(v) for v in result.values()):
        result["diverged"] = True
    return result | {"train_loss": losses, "wall_seconds": time.perf_counter() - start,
                     "cpu_seconds": time.process_time() - cpu}


# ------------------------------------------------------------------ Keras' names and layouts

def _keras_layout(module, which: str, tensor):
    from torch import nn

    if tensor is None:
        return None
    if isinstance(module, nn.Linear) and which == "weight":
        return tensor.T
    if isinstance(module, nn.Conv2d) and which == "weight":
        return tensor.permute(2, 3, 1, 0)
    if isinstance(module, nn.LSTM) and which in ("weight_ih_l0", "weight_hh_l0"):
        return tensor.T
    return tensor


KERAS_NAMES = {"weight": "kernel", "bias": "bias", "weight_ih_l0": "kernel", "weight_hh_l0": "recurrent_kernel",
               "bias_ih_l0": "bias", "running_mean": "moving_mean", "running_var": "moving_variance"}
BN_NAMES = {"weight": "gamma", "bias": "beta"}


def _core(block):
    """The one module with weights in a block (Linear, Conv2d, BatchNorm2d or LSTM), or None."""
    from torch import nn

    for module in block.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.BatchNorm2d, nn.LSTM)):
            return module
    return None


def keras_named(model, kind: str, optimizer=None) -> list:
    """``[(name, array)]`` of the model's weights in Keras' names, order and layout.

    ``kind``: ``param`` (the weights; an LSTM's bias is bias_ih + bias_hh,
    the bias it computes with), ``gradient``, ``adam m``, ``adam v`` (of
    bias_ih for an LSTM's bias), or ``stat`` (BatchNorm's running mean and
    variance).
    """
    from torch import nn

    out, prefix = [], "" if kind == "param" else f"{kind} "
    for name, block in model.named_children():
        module = _core(block)
        if module is None:
            continue
        if kind == "stat":
            if isinstance(module, nn.BatchNorm2d):
                out += [(f"{name}.moving_mean", module.running_mean), (f"{name}.moving_variance", module.running_var)]
            continue
        whiches = (["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"] if isinstance(module, nn.LSTM)
                   else ["weight", "bias"])
        for which in whiches:
            p = getattr(module, which)
            if p is None:
                continue
            keras = (BN_NAMES if isinstance(module, nn.BatchNorm2d) else KERAS_NAMES)[which]
            if kind == "param":
                tensor = p + module.bias_hh_l0 if which == "bias_ih_l0" else p
            elif kind == "gradient":
                tensor = p.grad
            else:
                state = optimizer.state.get(p, {})
                tensor = state.get("exp_avg" if kind == "adam m" else "exp_avg_sq")
            out.append((f"{prefix}{name}.{keras}", _keras_layout(module, which, tensor)))
    return [(n, None if t is None else t.detach().numpy().copy()) for n, t in out]


def load_keras_weights(model, weights: dict) -> None:
    """Set the model's weights to Keras' (``{<layer>.<weight>: array}`` in Keras' layout); an LSTM's bias
    goes to bias_ih, bias_hh to zero."""
    import torch
    from torch import nn

    with torch.no_grad():
        for name, block in model.named_children():
            module = _core(block)
            if module is None:
                continue
            pairs = (("weight_ih_l0", "kernel"), ("weight_hh_l0", "recurrent_kernel"), ("bias_ih_l0", "bias")) \
                if isinstance(module, nn.LSTM) else \
                (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                 ("running_var", "moving_variance")) if isinstance(module, nn.BatchNorm2d) else \
                (("weight", "kernel"), ("bias", "bias"))
            for which, keras in pairs:
                if getattr(module, which) is None:
                    continue
                value = torch.from_numpy(np.asarray(weights[f"{name}.{keras}"]))
                target = getattr(module, which)
                if isinstance(module, nn.Linear) and which == "weight":
                    value = value.T
                elif isinstance(module, nn.Conv2d) and which == "weight":
                    value = value.permute(3, 2, 0, 1)
                elif isinstance(module, nn.LSTM) and which != "bias_ih_l0":
                    value = value.T
                target.copy_(value)
            if isinstance(module, nn.LSTM):
                module.bias_hh_l0.zero_()


class Traced:
    """The port, one ``train_step`` at a time, with every tensor named as ``keras_ref.Traced`` names it."""

    def __init__(self, case: str, switches: dict, data: dict, seed: int, keras_weights: dict | None = None):
        self.c = CASES[case]
        self.port = Port(case, switches, data, seed)
        if keras_weights is not None:
            load_keras_weights(self.port.model, keras_weights)
        self.port.model.train()

    def initial_weights(self) -> dict:
        return dict(keras_named(self.port.model, "param") + keras_named(self.port.model, "stat"))

    def step(self, x, y, mask) -> list[tuple[str, np.ndarray]]:
        import torch

        model, recorded = self.port.model, []

        def record(name, tensor):
            if name == "gradients":
                recorded.extend(keras_named(model, "gradient"))
                return
            t = tensor.detach()
            if self.c.family == "cnn" and t.dim() == 4:
                t = t.permute(0, 2, 3, 1)
            recorded.append((name, t.numpy().copy()))

        x_t = torch.from_numpy(to_torch_layout(self.c.family, x))
        recorded.append(("input", np.asarray(to_keras_input(self.c.family, x_t.numpy()))))
        self.port.train_step(x_t, torch.from_numpy(y), record,
                             torch.from_numpy(mask) if self.c.family == "cnn" else None)
        opt = self.port.optimizer
        recorded += keras_named(model, "adam m", opt) + keras_named(model, "adam v", opt)
        recorded += keras_named(model, "param") + keras_named(model, "stat")
        return recorded

    def end_epoch(self) -> None:
        self.port.end_epoch()

    def evaluate(self, X_val) -> list[tuple[str, np.ndarray]]:
        import torch

        output = self.port.evaluate(torch.from_numpy(to_torch_layout(self.c.family, X_val)))
        return [("validation output", output)] + keras_named(self.port.model, "stat")


def to_keras_input(family: str, x):
    return np.transpose(x, (0, 2, 3, 1)) if family == "cnn" else x
