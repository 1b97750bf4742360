"""The PyTorch ports of the catalogue's cases, one implementation of every switch (``cases.SWITCHES``).

A port is what a user writes when porting the Keras reference
(``keras_ref``): an ``nn.Sequential`` whose named blocks are the Keras
layers, a loss, an optimizer and the usual loop. Every switch a case does
not list takes its Keras-matching value (``KERAS_MATCHING``), so that the
fixed port differs from the reference only where no switch reaches.

``Port.train_step`` is the one training step: ``train`` runs it over the
epochs, and ``ports`` hands it to the trace engine as the loop of a port
(``Port.train_epoch`` over a loader), which the engine observes from outside
as it observes a user's.
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
                # The parameters of one (step, dtype, device) share Keras' step size and go through each
                # elementwise op together (``torch._foreach_*``: on the CPU the same kernel per tensor, fewer
                # dispatches; tests/test_catalogue.py holds it against the per-parameter rule).
                together = {}
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
                    key = (float(state["step"]), p.dtype, p.device)
                    together.setdefault(key, []).append((p, grad, state["exp_avg"], state["exp_avg_sq"]))
                for (step, dtype, _), tensors in together.items():
                    alpha = keras_step_size(group["lr"], beta1, beta2, step, dtype)
                    params, grads, ms, vs = (list(column) for column in zip(*tensors))
                    keras_adam_update(params, grads, ms, vs, alpha.to(params[0].device), beta1, beta2,
                                      group["eps"])

    return KerasAdam


# Keras' step sizes already computed in this process, by (lr, β₁, β₂, step, dtype): every seed of a job
# takes the same ones, step for step. Bounded, so that a long process does not grow without end.
_STEP_SIZES: dict = {}
_STEP_SIZES_MAX = 1_000_000


def keras_step_size(lr, beta1: float, beta2: float, step: float, dtype):
    """Keras 3's Adam step size lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), a 0-d tensor computed in ``dtype`` as Keras does.

    A pure function of its arguments, so it is computed once per process for each of them (a tensor
    ``lr``, which a user's optimizer may hold, is computed afresh every time).
    """
    import torch

    key = (lr, beta1, beta2, step, dtype) if isinstance(lr, (int, float)) else None
    if key is not None and key in _STEP_SIZES:
        return _STEP_SIZES[key]
    t = torch.tensor(step, dtype=dtype)
    alpha = (torch.tensor(lr, dtype=dtype) * torch.sqrt(1 - torch.pow(torch.tensor(beta2, dtype=dtype), t))
             / (1 - torch.pow(torch.tensor(beta1, dtype=dtype), t)))
    if key is not None:
        if len(_STEP_SIZES) >= _STEP_SIZES_MAX:
            _STEP_SIZES.clear()
        _STEP_SIZES[key] = alpha
    return alpha


def keras_adam_update(params, grads, ms, vs, alpha, beta1: float, beta2: float, eps: float) -> None:
    """Keras 3's Adam update on lists of tensors, in place: m += (g − m)(1 − β₁); v += (g² − v)(1 − β₂);
    p −= m·α / (√v + ε), where ``alpha`` (a 0-d tensor) is the step size with both bias corrections."""
    import torch

    dm = torch._foreach_sub(grads, ms)
    torch._foreach_mul_(dm, 1 - beta1)
    torch._foreach_add_(ms, dm)
    dv = torch._foreach_sub(torch._foreach_mul(grads, grads), vs)
    torch._foreach_mul_(dv, 1 - beta2)
    torch._foreach_add_(vs, dv)
    denominator = torch._foreach_sqrt(vs)
    torch._foreach_add_(denominator, eps)
    torch._foreach_sub_(params, torch._foreach_div(torch._foreach_mul(ms, alpha), denominator))


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

    def linear(inputs: int, outputs: int):
        layer = nn.Linear(inputs, outputs)
        if sw["init"] == "xavier_normal":  # the posted code's: each layer as soon as it is made
            nn.init.xavier_normal_(layer.weight)
            nn.init.constant_(layer.bias, 0)
        return layer

    blocks = []
    if c.family == "mlp_regression":
        blocks += [("hidden", linear(input_shape[0], s["hidden"]))]
        width = s["hidden"]
    elif c.family == "mlp_classifier":
        blocks += [("hidden", nn.Sequential(linear(input_shape[0], s["hidden"]), nn.ReLU()))]
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
    if sw["init"] == "xavier_normal" and c.family not in ("mlp_regression", "mlp_classifier"):
        raise ValueError(f"init: xavier_normal is the posted MLP's; not implemented for family {c.family!r}")
    head = linear(width, outputs)
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


def optimizer(settings: dict, sw: dict, params):
    """The port's Adam over ``params``: Keras' rule or torch's (``adam``), with PyTorch's coupled weight decay
    where the port puts the L2 penalty there (``l2: weight_decay``). ``sw``: resolved switches."""
    import torch

    decay = settings["l2"] if settings.get("l2") and sw["l2"] == "weight_decay" else 0.0
    betas = (0.9, settings["beta_2"])
    if sw["adam"] == "keras":
        return make_keras_adam()(params, settings["learning_rate"], betas, settings["epsilon"], decay)
    return torch.optim.Adam(params, lr=settings["learning_rate"], betas=betas, eps=settings["epsilon"],
                            weight_decay=decay)


# The values of ``lr_schedule`` whose scheduler steps once per epoch (the others, once per batch).
PER_EPOCH_SCHEDULES = ("per_epoch", "rate_per_epoch")


def scheduler(settings: dict, sw: dict, optimizer):
    """Keras' ExponentialDecay as ``ExponentialLR``, where the case decays (else None): γ per step,
    decay_rate^(1/decay_steps), or the decay rate itself where the port takes it for γ (``rate_per_epoch``).
    ``sw``: resolved switches."""
    import torch

    if not settings.get("decay_steps"):
        return None
    gamma = settings["decay_rate"] ** (1.0 / settings["decay_steps"])
    if sw["lr_schedule"] == "rate_per_epoch":
        gamma = settings["decay_rate"]
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


def steps_per_epoch(sw: dict) -> bool:
    """Whether the port's scheduler steps once per epoch (``end_epoch``), not after every batch."""
    return sw["lr_schedule"] in PER_EPOCH_SCHEDULES


def kernel_names(model) -> list[str]:
    """The names of the kernels Keras' L2 regulariser reaches (Linear and Conv weights), in module order."""
    from torch import nn

    return [f"{name}.weight" for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def l2_penalty(l2: float, kernels):
    """λ·Σw² over ``kernels``, summed kernel by kernel in their order (as the port's loss adds it)."""
    import torch

    return l2 * sum(torch.sum(w ** 2) for w in kernels)


class Port:
    """A case's port: its model, loss, optimizer, schedule and clipping, one ``train_step`` at a time."""

    def __init__(self, case: str, switches: dict, data: dict, seed: int):
        import torch

        self.case, self.c = case, CASES[case]
        self.s, self.sw = self.c.settings, resolve(switches)
        self.outputs = n_outputs(self.c.task, data["y_train"])
        self.model = build(case, switches, data["X_train"].shape[1:], self.outputs, seed)
        self.optimizer = optimizer(self.s, self.sw, [p for p in self.model.parameters() if p.requires_grad])
        self.scheduler = scheduler(self.s, self.sw, self.optimizer)
        self.n_val = len(data["y_val"])
        if self.s.get("loop") == "posted":
            # The posted loop's DataLoaders draw from PyTorch's global generator, which ``build`` seeded and
            # drew the initial weights from: this port's copy of it goes on from there.
            self.generator = torch.Generator()
            self.generator.set_state(torch.get_rng_state())
        else:
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

        if self.sw["l2"] != "loss":
            return torch.zeros(())
        parameters = dict(self.model.named_parameters())
        return l2_penalty(self.s["l2"], [parameters[name] for name in kernel_names(self.model)])

    # -- the loop
    def order(self, n: int):
        """The epoch's order of the ``n`` training rows. The posted loop (``loop: posted``): the draws of its
        shuffled training DataLoader, then of its shuffled validation DataLoader, which the loop opens after
        every epoch (``loader_draws.epoch_order``, on this port's generator)."""
        import torch

        if self.s.get("loop") == "posted":
            from gapstudy.frameworks.loader_draws import epoch_order

            order = epoch_order(n, self.sw["shuffle"] == "every_epoch", self.generator)
            epoch_order(self.n_val, True, self.generator)
            return order
        if self.sw["shuffle"] == "every_epoch":
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def train_step(self, x, y) -> float:
        """One step as the port writes it: forward, the loss (and the L2 penalty where the port adds it),
        backward, clipping, the optimizer's step, the scheduler where it steps per batch."""
        import torch

        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.data_loss(out, y)
        if self.s.get("l2"):
            loss = loss + self.penalty()
        loss.backward()
        if self.s.get("clipnorm"):
            params = [p for p in self.model.parameters() if p.requires_grad]
            if self.sw["clipnorm"] == "global":
                torch.nn.utils.clip_grad_norm_(params, self.s["clipnorm"])
            else:
                for p in params:
                    torch.nn.utils.clip_grad_norm_([p], self.s["clipnorm"])
        self.optimizer.step()
        if self.scheduler is not None and not steps_per_epoch(self.sw):
            self.scheduler.step()
        return float(loss.detach())

    def train_epoch(self, loader) -> list[float]:
        """One epoch over ``loader``'s ``(x, y)`` batches (the trace's loop, ``ports``): each batch's loss."""
        losses = [self.train_step(x, y) for x, y in loader]
        self.end_epoch()
        return losses

    def end_epoch(self) -> None:
        if self.scheduler is not None and steps_per_epoch(self.sw):
            self.scheduler.step()

    def evaluate(self, X):
        """Validation as the port writes it: after ``model.eval()`` unless the pitfall forgets it; batches of
        the training batch size (BatchNorm in training mode sees each batch alone), or, in the posted loop,
        one call on every row."""
        import torch

        if self.sw["eval_mode"] == "eval":
            self.model.eval()
        outputs = []
        batch = len(X) if self.s.get("loop") == "posted" else self.s["batch_size"]
        with torch.no_grad():
            for start in range(0, len(X), batch):
                outputs.append(self.probabilities(self.model(X[start:start + batch])))
        self.model.train()
        return torch.cat(outputs).numpy()


def validation(port: Port, data: dict) -> dict:
    """The trained port's validation scores (``Port.evaluate``), with ``diverged`` where one is not finite."""
    import torch

    output = port.evaluate(torch.from_numpy(to_torch_layout(port.c.family, data["X_val"])))
    result = scores(port.c.task, data["y_val"], output)
    if not all(math.isfinite(v) for v in result.values()):
        result["diverged"] = True
    return result


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
    result = validation(port, data)
    return result | {"train_loss": losses, "wall_seconds": time.perf_counter() - start,
                     "cpu_seconds": time.process_time() - cpu}
