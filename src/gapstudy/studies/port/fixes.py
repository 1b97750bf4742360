"""The fixes the workflow applies to a user's port by itself: settings and hooks on the user's objects,
never an edit of the user's loop.

Each fix makes one difference from Keras match Keras (its probe in ``probes.PROBES`` has the same
name). ``apply(names, tp, context)`` applies several to one ``sides.TorchPort`` after it is built and
before its loader is made; ``context`` is a ``Context``: Keras' facts (``probes.keras_facts``), the
layer pairs (``mapping.pair``), the seed and the Keras builder (for Keras' initialisation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Context:
    keras: dict
    pairs: list
    seed: int
    keras_model: object = None  # a Keras model drawn from ``seed`` (for Keras' initialisation)
    batch_size: int = 32


def _squeeze_output(tp, ctx) -> None:
    """The model's (N, 1) output as (N,), so that a loss of it against an (N,) target does not broadcast."""
    def hook(module, args, output):
        if hasattr(output, "dim") and output.dim() == 2 and output.shape[-1] == 1:
            return output.squeeze(-1)
        return None
    tp.removers.append(tp.model.register_forward_hook(hook).remove)


def _drop_output_activation(tp, ctx) -> None:
    """The last Softmax, LogSoftmax or Sigmoid module passes its input on: the loss gets logits."""
    import torch

    last = [m for m in tp.model.modules() if isinstance(m, (torch.nn.Softmax, torch.nn.Sigmoid, torch.nn.LogSoftmax))]
    if last:
        tp.removers.append(last[-1].register_forward_hook(lambda module, args, output: args[0]).remove)


def _mean_reduction(tp, ctx) -> None:
    if hasattr(tp.loss_fn, "reduction"):
        tp.loss_fn.reduction = "mean"


def _l2_as_gradient(tp, ctx) -> None:
    """Keras' ``kernel_regularizer=L2(λ)`` (λ·Σw² in the loss): 2λ·w added to each kernel's gradient,
    and no weight decay on any parameter."""
    for group in tp.optimizer.param_groups:
        group["weight_decay"] = 0.0
    for layer, _, module in ctx.pairs:
        l2 = ctx.keras["layers"].get(layer.name, {}).get("l2")
        weight = getattr(module, "weight", None)
        if l2 and weight is not None:
            tp.removers.append(weight.register_hook(lambda g, w=weight, l2=l2: g + 2 * l2 * w.detach()).remove)


def _clip_per_variable(tp, ctx) -> None:
    """Keras' ``clipnorm``: each gradient clipped to that norm on its own, whatever the loop clipped."""
    import torch

    raw, clip = {}, ctx.keras["optimizer"].get("clipnorm")
    params = [p for g in tp.optimizer.param_groups for p in g["params"]]
    for p in params:
        tp.removers.append(p.register_post_accumulate_grad_hook(
            lambda p: raw.__setitem__(p, p.grad.detach().clone())).remove)

    def pre(optimizer, args, kwargs):
        for p in params:
            if p in raw and p.grad is not None:
                g = raw[p]
                norm = torch.linalg.vector_norm(g)
                p.grad.copy_(g * torch.clamp(clip / (norm + 1e-12), max=1.0) if clip else g)
        raw.clear()
    tp.removers.append(tp.optimizer.register_step_pre_hook(pre).remove)


def _shuffle_loader(tp, ctx) -> None:
    _rebuild_loader(tp, shuffle=True)


def _batch_size(tp, ctx) -> None:
    _rebuild_loader(tp, batch_size=ctx.batch_size)


def _rebuild_loader(tp, **changes) -> None:
    from torch.utils.data import DataLoader, RandomSampler

    loader = tp.loader
    if not isinstance(loader, DataLoader):
        return
    shuffle = changes.get("shuffle", isinstance(loader.sampler, RandomSampler))
    tp.loader = DataLoader(loader.dataset, batch_size=changes.get("batch_size", loader.batch_size), shuffle=shuffle,
                           drop_last=loader.drop_last, collate_fn=loader.collate_fn)


def _eval_before_validation(tp, ctx) -> None:
    """A forward pass without gradients runs in eval mode (Dropout off, BatchNorm on its running
    statistics), then the model goes back to the mode it was in."""
    import torch

    state = {}

    def pre(module, args):
        if not torch.is_grad_enabled() and module.training:
            state[id(module)] = True
            module.eval()

    def post(module, args, output):
        if state.pop(id(module), False):
            module.train()
    tp.removers.append(tp.model.register_forward_pre_hook(pre).remove)
    tp.removers.append(tp.model.register_forward_hook(post).remove)


def _bn_momentum(tp, ctx) -> None:
    for layer, _, module in ctx.pairs:
        k = ctx.keras["layers"].get(layer.name, {})
        if "momentum" in k and hasattr(module, "momentum") and type(module).__name__.startswith("BatchNorm"):
            module.momentum = 1.0 - k["momentum"]


def _bn_epsilon(tp, ctx) -> None:
    for layer, _, module in ctx.pairs:
        k = ctx.keras["layers"].get(layer.name, {})
        if "epsilon" in k and type(module).__name__.startswith("BatchNorm"):
            module.eps = k["epsilon"]


def _layernorm_epsilon(tp, ctx) -> None:
    for layer, _, module in ctx.pairs:
        k = ctx.keras["layers"].get(layer.name, {})
        if "epsilon" in k and type(module).__name__ == "LayerNorm":
            module.eps = k["epsilon"]


def _schedule_per_batch(tp, ctx) -> None:
    """The loop's scheduler stepped after every optimizer step, as Keras steps its schedule; the loop's own
    ``scheduler.step()`` calls do nothing."""
    scheduler = tp.scheduler
    if scheduler is None:
        return
    original = scheduler.step
    scheduler.step = lambda *args, **kwargs: None
    tp.removers.append(tp.optimizer.register_step_post_hook(lambda optimizer, args, kwargs: original()).remove)
    tp.removers.append(lambda: setattr(scheduler, "step", original))


def _keras_adam(tp, ctx) -> None:
    """The optimizer's step is Keras' Adam rule (``catalogue.torch_port.make_keras_adam``) on the same
    parameter groups, so that a scheduler that sets ``lr`` still drives it."""
    import types

    from torch.optim import Optimizer

    from gapstudy.studies.catalogue.torch_port import make_keras_adam

    keras_step = make_keras_adam().step
    optimizer = tp.optimizer
    # Keras' rule on the same groups and state; ``profile_hook_step`` runs the optimizer's step hooks
    # around it, as around the step it replaces.
    hooked = Optimizer.profile_hook_step(lambda self, closure=None: keras_step(self))

    def step(self, closure=None):
        self._opt_called = True  # what a scheduler's own wrapper of step() records
        return hooked(self)

    step._wrapped_by_lr_sched = True  # a scheduler built before the fix still counts this step as its optimizer's
    optimizer.step = types.MethodType(step, optimizer)
    for group in optimizer.param_groups:
        group.setdefault("weight_decay", 0.0)


def _keras_init(kinds: tuple):
    def fix(tp, ctx) -> None:
        """The mapped modules of ``kinds`` start from a Keras model drawn from the same seed."""
        from gapstudy.trace import mapping

        if ctx.keras_model is None:
            return
        chosen = [(layer, name, module) for layer, name, module in ctx.pairs if type(module).__name__ in kinds]
        twins = {layer.name: layer for layer in mapping.keras_layers(ctx.keras_model)}
        mapping.keras_to_torch([(twins[layer.name], name, module) for layer, name, module in chosen])
    return fix


def _one_rnn_bias(tp, ctx) -> None:
    """An LSTM's second bias (bias_hh) held at zero and not trained: one bias, as Keras' LSTM has."""
    import torch

    for _, _, module in ctx.pairs:
        if isinstance(module, torch.nn.LSTM):
            with torch.no_grad():
                for name, p in module.named_parameters():
                    if name.startswith("bias_hh"):
                        module.get_parameter(name).zero_()
                        p.requires_grad_(False)


def _optimizer_settings(tp, ctx) -> None:
    """Learning rate, betas, epsilon, RMSprop's rho and SGD's momentum and nesterov set to Keras' values."""
    k = ctx.keras["optimizer"]
    for group in tp.optimizer.param_groups:
        if k.get("lr") is not None:
            group["lr"] = k["lr"]
            group["initial_lr"] = k["lr"]
        if "betas" in group and k.get("beta_1") is not None:
            group["betas"] = (k["beta_1"], k["beta_2"])
        if "eps" in group and k.get("epsilon") is not None:
            group["eps"] = k["epsilon"]
        if "alpha" in group and k.get("rho") is not None:
            group["alpha"] = k["rho"]
        if "momentum" in group and k.get("momentum") is not None:
            group["momentum"] = k["momentum"]
        if "nesterov" in group and k.get("nesterov") is not None:
            group["nesterov"] = bool(k["nesterov"])


FIXES = {
    "target_broadcast": _squeeze_output,
    "double_softmax": _drop_output_activation,
    "sigmoid_bce_logits": _drop_output_activation,
    "sum_reduction": _mean_reduction,
    "l2_weight_decay": _l2_as_gradient,
    "clipnorm_global": _clip_per_variable,
    "unshuffled": _shuffle_loader,
    "batch_size": _batch_size,
    "forgotten_eval": _eval_before_validation,
    "bn_momentum": _bn_momentum,
    "bn_epsilon": _bn_epsilon,
    "layernorm_epsilon": _layernorm_epsilon,
    "lr_schedule_per_epoch": _schedule_per_batch,
    "adam_epsilon": _keras_adam,
    "dense_init": _keras_init(("Linear", "Conv1d", "Conv2d", "Embedding")),
    "lstm_init": _keras_init(("LSTM", "GRU")),
    "lstm_two_biases": _one_rnn_bias,
    "optimizer_settings": _optimizer_settings,
}
# Fixes that change the loader (applied once the user's loader exists) and the order all are applied in.
LOADER_FIXES = ("unshuffled", "batch_size")
ORDER = tuple(FIXES)


def apply(names, tp, ctx: Context, stage: str = "objects") -> None:
    """Apply the fixes ``names`` to ``tp``: ``stage`` "objects" (after the build) or "loader" (after the
    user's loader is made)."""
    for name in ORDER:
        if name in names and (name in LOADER_FIXES) == (stage == "loader"):
            FIXES[name](tp, ctx)
