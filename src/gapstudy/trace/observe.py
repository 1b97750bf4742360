"""What the user's PyTorch loop does, seen from outside: the loop itself is never changed.

``Observer`` attaches, to the user's objects:

- a forward pre-hook and hook on the top module (the rows of each batch, found by content in the
  training data; whether a forward without gradients runs in training mode; the output);
- forward hooks on every leaf module (each mapped layer's block output, in Keras' layout);
- every dropout call (``nn.Dropout``'s and ``F.dropout`` in ``forward``), through the function mode below,
  with its mask drawn here (``masks``), so that Keras can apply the same one;
- ``register_post_accumulate_grad_hook`` on every parameter (the gradients before any clipping);
- ``register_step_pre_hook`` / ``register_step_post_hook`` on the optimizer (the gradients the step
  used, its state after it, the weights after it: one snapshot per step);
- a wrapper of ``scheduler.step`` (when the loop steps its scheduler);
- a ``TorchFunctionMode`` while the loop runs: every function applied to the model's output on the way
  to the tensor that ``backward`` is called on (what reaches the loss, and its shapes).
"""

from __future__ import annotations

import numpy as np


class StopTraining(BaseException):
    """Raised from a hook to end the user's loop early (a check on a few batches); a ``BaseException``, so
    that a loop's own ``except Exception`` does not swallow it."""


# The loss functions a hook at the loss recognises: torch's function, the Keras loss it corresponds to, and
# what it reads the model's output as: logits (it applies softmax or sigmoid itself), probabilities
# (BCELoss, after a sigmoid), log-probabilities (NLLLoss, after log_softmax), or the output as it is (a
# regression loss).
LOSSES = {
    "mse_loss": ("mean_squared_error", "output"),
    "l1_loss": ("mean_absolute_error", "output"),
    "smooth_l1_loss": ("huber", "output"),
    "huber_loss": ("huber", "output"),
    "cross_entropy": ("categorical_crossentropy", "logits"),
    "nll_loss": ("categorical_crossentropy", "log-probabilities"),
    "binary_cross_entropy": ("binary_crossentropy", "probabilities"),
    "binary_cross_entropy_with_logits": ("binary_crossentropy", "logits"),
}
LOSS_FUNCTIONS = {function: keras for function, (keras, _) in LOSSES.items()}
LOSS_READS = {function: reads for function, (_, reads) in LOSSES.items()}
ACTIVATIONS = ("softmax", "sigmoid", "log_softmax")


def loss_reads(loss_calls: list) -> str | None:
    """What the port's loss reads the model's output as (``LOSS_READS``), from the first loss function the
    step applied to it; None where the loss is hand-written."""
    return next((LOSS_READS[c["function"]] for c in loss_calls if c["function"] in LOSS_READS), None)


def _name(func) -> str:
    name = getattr(func, "__name__", str(func))
    return name.strip("_") if name.startswith("__") else name


def _tensors(value):
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _first(value):
    return next(_tensors(value), None)


def to_keras_layout(t: np.ndarray, channels_first: bool) -> np.ndarray:
    """A PyTorch tensor of (N, C, ...) in Keras' (N, ..., C), where the port's layout is channels first."""
    return np.moveaxis(t, 1, -1) if channels_first and t.ndim >= 3 else t


class RowIndex:
    """The row numbers of a batch, found by content among the training rows (the loader stays the user's)."""

    def __init__(self, X_torch: np.ndarray):
        self.index = {}
        for i, row in enumerate(np.ascontiguousarray(X_torch, dtype=np.float32)):
            self.index.setdefault(row.tobytes(), []).append(i)

    def rows(self, x) -> np.ndarray | None:
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        out = []
        for row in x:
            found = self.index.get(row.tobytes())
            if not found:
                return None
            out.append(found[0] if len(found) == 1 else found[len(out) % len(found)])
        return np.asarray(out)


class Observer:
    """Hooks on one ``sides.TorchPort``; ``steps`` holds one record per optimizer step.

    ``blocks``: ``{torch module name: keras layer name}`` of the mapped modules whose block output (the
    last leaf output before the next mapped module or dropout) is recorded under the Keras name;
    ``dropouts``: ``{torch Dropout module name: keras Dropout layer name}`` (their outputs are compared);
    ``dropout_calls``: the Keras Dropout layer of each dropout call of a forward pass, in call order (None:
    none), whose masks are drawn from ``mask_seed``; ``snapshot``: a function ``(observer) -> [(name, array)]`` called after every step
    (the engine's: gradients, moments, weights in Keras' names); ``stop_after``: steps before the loop
    is ended (a check). ``replay_masks``: masks to apply instead of drawing (a control that must see the
    port's masks).
    """

    def __init__(self, tp, X_train_torch, channels_first: bool, blocks=None, dropouts=None, mask_seed=None,
                 snapshot=None, stop_after=None, replay_masks=None, dropout_calls=()):
        import torch

        self.tp, self.channels_first = tp, channels_first
        self.rows = RowIndex(X_train_torch)
        self.blocks, self.dropouts = dict(blocks or {}), dict(dropouts or {})
        self.rng = np.random.default_rng(mask_seed) if mask_seed is not None else None
        self.replay_masks = replay_masks
        self.dropout_calls = list(dropout_calls)
        self.snapshot, self.stop_after = snapshot, stop_after
        self.steps, self.eval_calls, self.scheduler_calls = [], [], []
        self.current = self._new()
        model = tp.model
        self.leaves = {name: m for name, m in model.named_modules()
                       if name and not list(m.children())}
        self.has_train_behaviour = bool(self.dropout_calls) or any(
            isinstance(m, (torch.nn.Dropout, torch.nn.modules.batchnorm._BatchNorm)) for m in model.modules())
        self.params = dict(model.named_parameters())
        self._attach()

    def _new(self) -> dict:
        return {"rows": None, "input": None, "output": None, "masks": {}, "raw_grads": {},
                "dropout_calls": 0,
                "order": [], "derived": {}, "loss": None, "loss_calls": [], "lr": None}

    # ---------------------------------------------------------- hooks
    def _attach(self) -> None:
        tp, model, add = self.tp, self.tp.model, self.tp.removers.append
        add(model.register_forward_pre_hook(self._pre).remove)
        add(model.register_forward_hook(self._post).remove)
        for name, module in self.leaves.items():
            add(module.register_forward_hook(self._leaf(name)).remove)
        for name, p in self.params.items():
            if p.requires_grad:
                add(p.register_post_accumulate_grad_hook(self._grad(name)).remove)
        add(tp.optimizer.register_step_pre_hook(self._step_pre).remove)
        add(tp.optimizer.register_step_post_hook(self._step_post).remove)
        if tp.scheduler is not None:
            original = tp.scheduler.step

            def step(*args, **kwargs):
                self.scheduler_calls.append(len(self.steps))
                return original(*args, **kwargs)

            tp.scheduler.step = step
            add(lambda: setattr(tp.scheduler, "step", original))

    def _pre(self, module, args):
        import torch

        x = _first(args)
        if not torch.is_grad_enabled():
            self.eval_calls.append({"step": len(self.steps), "training": bool(module.training)})
            return
        if self.current["input"] is None and x is not None:
            rows = self.rows.rows(x.detach().cpu().numpy())
            # Validation in eval mode by a loop that forgot torch.no_grad(): rows that are not training rows.
            if rows is None and not module.training:
                self.eval_calls.append({"step": len(self.steps), "training": False})
                return
            self.current["input"] = x.detach().clone()
            self.current["rows"] = rows
            self.current["training_mode"] = bool(module.training)
            self.current["in_forward"] = True

    def _post(self, module, args, output):
        import torch

        if torch.is_grad_enabled() and self.current.get("in_forward"):
            self.current["in_forward"] = False
            out = _first(output)
            self.current["output"] = out
            self.current["output_shape"] = tuple(out.shape)
            self.current["loss_input"] = to_keras_layout(out.detach().cpu().numpy().copy(), self.channels_first)
            order = self.current["order"]
            self.current["last_module"] = (order[-1][0], type(self.leaves[order[-1][0]]).__name__) if order else None
            self.current["output_producer"] = self.current.pop("fproducers", {}).get(id(out))
            self.current["derived"] = {id(out): out}

    def _leaf(self, name):
        def hook(module, args, output):
            if self.current.get("in_forward"):
                out = _first(output)
                if out is not None:
                    self.current["order"].append((name, out.detach().clone()))
        return hook

    def _dropout(self, args, kwargs):
        """A dropout call of the training forward with a mask drawn here (or replayed); None: leave it be."""
        import torch

        k = self.current["dropout_calls"]
        self.current["dropout_calls"] = k + 1
        x = args[0] if args else kwargs.get("input")
        p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
        training = args[2] if len(args) > 2 else kwargs.get("training", True)
        if not (training and p > 0 and k < len(self.dropout_calls) and self.dropout_calls[k] is not None
                and (self.rng is not None or self.replay_masks is not None)):
            return None
        if self.replay_masks is not None:
            mask = self.replay_masks[len(self.steps)].get(k)
            mask = torch.from_numpy(mask) if mask is not None else torch.ones_like(x)
        else:
            mask = torch.from_numpy((self.rng.random(tuple(x.shape)) >= p).astype(np.float32))
        self.current["masks"][k] = mask.numpy()
        return x * mask.to(x.device) / (1 - p)

    def _grad(self, name):
        def hook(p):
            if p.grad is not None:
                self.current["raw_grads"][name] = p.grad.detach().clone()
        return hook

    def _step_pre(self, optimizer, args, kwargs):
        self.current["grads"] = {n: (p.grad.detach().clone() if p.grad is not None else None)
                                 for n, p in self.params.items()}
        self.current["lr"] = [float(g["lr"]) for g in optimizer.param_groups]

    def _step_post(self, optimizer, args, kwargs):
        record = self.current
        record["snapshot"] = self.snapshot(self) if self.snapshot is not None else None
        record.pop("derived", None)
        record.pop("producers", None)
        record.pop("fproducers", None)
        record["order"] = self._block_outputs(record["order"])
        record.pop("output", None)
        self.steps.append(record)
        self.current = self._new()
        if self.stop_after is not None and len(self.steps) >= self.stop_after:
            raise StopTraining()

    def _block_outputs(self, order) -> list:
        """``[(keras name, [arrays in Keras' layout])]``: each mapped module's own output and its block's (the
        last leaf output before the next mapped module or dropout), and each dropout's output."""
        out, current = [], None
        for name, tensor in order:
            if name in self.blocks or name in self.dropouts:
                if current is not None:
                    out.append(current)
                current = (self.blocks.get(name) or self.dropouts[name], [tensor])
            elif current is not None and current[0] not in self.dropouts.values():
                current = (current[0], current[1][:1] + [tensor])
        if current is not None:
            out.append(current)
        return [(k, [to_keras_layout(t.cpu().numpy(), self.channels_first) for t in ts]) for k, ts in out]

    # ---------------------------------------------------------- what reaches the loss
    def function_mode(self):
        import torch
        from torch.overrides import TorchFunctionMode

        observer = self

        class Watch(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                result = None
                if _name(func) == "dropout" and observer.current.get("in_forward") and torch.is_grad_enabled():
                    result = observer._dropout(args, kwargs)
                if result is None:
                    result = func(*args, **kwargs)
                observer._seen(func, args, kwargs, result)
                return result

        return Watch()

    def _seen(self, func, args, kwargs, result) -> None:
        derived = self.current.get("derived")
        name = _name(func)
        if name == "backward":
            loss = args[0] if args else None
            if loss is not None and self.current["loss"] is None:
                self.current["loss"] = loss.detach().clone()
                self.current["loss_producer"] = self.current.get("producers", {}).get(id(loss))
            return
        if self.current.get("in_forward"):
            out = _first(result)
            if out is not None:
                self.current.setdefault("fproducers", {})[id(out)] = name
            return
        if not derived:
            return
        inputs = list(_tensors(args)) + list(_tensors(kwargs))
        if not any(id(t) in derived for t in inputs):
            return
        out = _first(result)
        self.current["loss_calls"].append({
            "function": name, "shapes": [tuple(t.shape) for t in inputs],
            "from_output": any(t is self.current.get("output") for t in inputs),
            "result_shape": tuple(out.shape) if out is not None else None,
            "reduction": kwargs.get("reduction"), "dim": kwargs.get("dim", args[1] if name in ("sum", "mean")
                                                                  and len(args) > 1 else None)})
        if out is not None:
            derived[id(out)] = out
            self.current.setdefault("producers", {})[id(out)] = name

    def detach(self) -> None:
        self.tp.detach_hooks()
