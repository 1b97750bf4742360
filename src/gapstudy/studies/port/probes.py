"""Evidence of each known difference between a user's port and the user's Keras model.

``keras_facts`` and ``torch_facts`` read settings off the user's objects; ``PROBES`` are functions of
``Evidence`` (both sides' facts, what ``observe.Observer`` saw during a traced epoch, the step-0
initialisation rows) that return a sentence of evidence where the difference is there, else None.
A probe's name is its fix's (``fixes.FIXES``, where the workflow can apply one) and, where the
catalogue has the pitfall, the catalogue's pitfall name, whose story (``catalogue.stories``) gives the
title, the one-line fix and the source; ``STORIES`` here tell the others. ``SIGNATURES``: the kind of
tensor where a port with the difference first leaves Keras in lock-step (the catalogue's traces show
them; a port's first divergence of that kind ranks the probe first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gapstudy.studies.catalogue.stories import STORIES as CATALOGUE_STORIES
from gapstudy.studies.catalogue.stories import Story

STORIES = {
    # The catalogue's story is of nn.Linear's default; a port may draw another way (xavier_normal_, ...).
    "dense_init": Story(
        title="Initialisation of Linear, Conv or Embedding layers other than Keras'",
        description="The port draws its initial weights from other distributions than Keras' glorot_uniform "
                    "kernels and zero biases (nn.Linear's default kaiming_uniform(a=√5), xavier_normal_, ...).",
        fix=CATALOGUE_STORIES["dense_init"].fix, symptom=CATALOGUE_STORIES["dense_init"].symptom,
        source=CATALOGUE_STORIES["dense_init"].source),
    "batch_size": Story(
        title="Another batch size than fit's", description="The port's loader draws batches of another size.",
        fix="DataLoader(..., batch_size=<fit's batch_size>)", symptom="other noise and step count per epoch",
        source=""),
    "layernorm_epsilon": Story(
        title="LayerNorm's epsilon: PyTorch's 1e-5 against Keras' 1e-3",
        description="nn.LayerNorm adds 1e-5 to the variance; Keras' LayerNormalization 1e-3.",
        fix="nn.LayerNorm(..., eps=1e-3)", symptom="small differences in every normalised output", source=""),
    "optimizer_settings": Story(
        title="Another learning rate, betas or epsilon than Keras' optimizer",
        description="The port's optimizer hyperparameters are not the Keras optimizer's (PyTorch's Adam "
                    "defaults to eps=1e-8, Keras' to 1e-7).",
        fix="pass Keras' learning_rate, beta_1, beta_2 and epsilon to the PyTorch optimizer",
        symptom="other convergence speed", source=""),
    "optimizer_class": Story(
        title="Another optimizer than Keras'", description="The two sides train with different rules.",
        fix="use the same optimizer on both sides", symptom="other convergence", source=""),
    "loss_mismatch": Story(
        title="Another loss than Keras'", description="The port minimises another function than the Keras "
                                                      "model's compiled loss.",
        fix="use the loss that matches Keras' (mse_loss for mean_squared_error, l1_loss for "
            "mean_absolute_error, cross_entropy for sparse_categorical_crossentropy on logits)",
        symptom="another optimum", source="https://github.com/pytorch/pytorch/issues/18722"),
}

SIGNATURES = {
    "target_broadcast": "loss", "double_softmax": "loss input", "sigmoid_bce_logits": "loss input",
    "sum_reduction": "loss", "l2_weight_decay": "loss", "clipnorm_global": "Adam moment", "unshuffled": "input",
    "batch_size": "input", "forgotten_eval": "validation output", "bn_momentum": "BatchNorm statistic",
    "bn_epsilon": "layer output", "layernorm_epsilon": "layer output", "lr_schedule_per_epoch": "updated weight",
    "adam_epsilon": "updated weight", "dense_init": "initial weights", "lstm_init": "initial weights",
    "lstm_two_biases": "updated weight", "optimizer_settings": "updated weight", "optimizer_class": "Adam moment",
    "loss_mismatch": "loss",
}
KERAS_LOSSES = {"mse": "mean_squared_error", "mean_squared_error": "mean_squared_error",
                "mae": "mean_absolute_error", "mean_absolute_error": "mean_absolute_error",
                "sparse_categorical_crossentropy": "categorical_crossentropy",
                "categorical_crossentropy": "categorical_crossentropy", "binary_crossentropy": "binary_crossentropy",
                "huber": "huber", "huber_loss": "huber"}


def story(name: str) -> Story:
    """What a reader reads of a probe: the port's own story where it has one, else the catalogue's."""
    return STORIES.get(name) or CATALOGUE_STORIES[name]


def _number(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def keras_facts(model, fit: dict) -> dict:
    """What a probe reads of the Keras side: optimizer, loss, fit's batch size and shuffle, layer settings."""
    import keras

    opt = model.optimizer
    lr = opt._learning_rate if hasattr(opt, "_learning_rate") else opt.learning_rate
    schedule = isinstance(lr, keras.optimizers.schedules.LearningRateSchedule)
    initial = _number(getattr(lr, "initial_learning_rate", None)) if schedule else _number(np.asarray(lr))
    loss = model.loss
    loss_name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    from_logits = bool(getattr(loss, "from_logits", False) or getattr(loss, "_fn_kwargs", {}).get("from_logits"))
    layers = {}
    for layer in model.layers:
        cfg = layer.get_config()
        entry = {"class": type(layer).__name__}
        reg = getattr(layer, "kernel_regularizer", None)
        if reg is not None and hasattr(reg, "l2"):
            entry["l2"] = float(reg.l2)
        if isinstance(layer, keras.layers.BatchNormalization):
            entry |= {"momentum": float(cfg["momentum"]), "epsilon": float(cfg["epsilon"])}
        if isinstance(layer, keras.layers.LayerNormalization):
            entry["epsilon"] = float(cfg["epsilon"])
        if "activation" in cfg:
            entry["activation"] = cfg["activation"] if isinstance(cfg["activation"], str) else str(cfg["activation"])
        layers[layer.name] = entry
    return {"optimizer": {"class": type(opt).__name__.lower(), "lr": initial,
                          "schedule": "per_batch" if schedule else None,
                          "beta_1": _number(getattr(opt, "beta_1", None)), "beta_2": _number(getattr(opt, "beta_2", None)),
                          "epsilon": _number(getattr(opt, "epsilon", None)), "clipnorm": _number(opt.clipnorm),
                          "global_clipnorm": _number(opt.global_clipnorm),
                          "weight_decay": _number(getattr(opt, "weight_decay", None)),
                          "rho": _number(getattr(opt, "rho", None)), "momentum": _number(getattr(opt, "momentum", None)),
                          "nesterov": getattr(opt, "nesterov", None)},
            "loss": KERAS_LOSSES.get(str(loss_name).lower(), str(loss_name).lower()), "from_logits": from_logits,
            "batch_size": fit["batch_size"], "shuffle": fit["shuffle"], "layers": layers}


def torch_facts(tp) -> dict:
    """What a probe reads of the PyTorch side: the optimizer's class and groups, the loader, the modules."""
    import torch

    opt, loader = tp.optimizer, tp.loader
    group = opt.param_groups[0]
    sampler = getattr(loader, "sampler", None)
    return {"optimizer": {"class": type(opt).__name__.lower(), "lr": _number(group.get("initial_lr", group["lr"])),
                          "betas": tuple(group["betas"]) if "betas" in group else None, "eps": group.get("eps"),
                          "weight_decay": float(group.get("weight_decay") or 0.0), "alpha": group.get("alpha"),
                          "momentum": group.get("momentum"), "nesterov": group.get("nesterov")},
            "scheduler": type(tp.scheduler).__name__ if tp.scheduler is not None else None,
            "batch_size": getattr(loader, "batch_size", None),
            "shuffles": isinstance(sampler, torch.utils.data.RandomSampler) if sampler is not None else None,
            "loss_reduction": getattr(tp.loss_fn, "reduction", None)}


@dataclass
class Evidence:
    keras: dict
    torch: dict
    pairs: list  # (keras layer, torch name, torch module)
    steps: list  # the Observer's step records of the traced epoch(s)
    eval_calls: list
    scheduler_calls: list
    has_train_behaviour: bool
    init_rows: list = field(default_factory=list)
    per_epoch: dict = field(default_factory=dict)


def _calls(ev: Evidence) -> list:
    return ev.steps[0]["loss_calls"] if ev.steps else []


ARITHMETIC = ("sub", "rsub", "add", "radd", "mul", "rmul", "div", "truediv", "rtruediv", "sub_", "add_")


def target_broadcast(ev):
    import torch

    from gapstudy.trace.observe import LOSS_FUNCTIONS

    for call in _calls(ev):
        # A loss function of shapes that broadcast (nn.MSELoss of (N, 1) against (N,)), seen at its call.
        if call["function"] in LOSS_FUNCTIONS and call["from_output"] and len(call["shapes"]) >= 2:
            try:
                wide = tuple(torch.broadcast_shapes(*call["shapes"][:2]))
            except RuntimeError:
                continue
            if any(tuple(sh) != wide for sh in call["shapes"][:2]):
                return (f"{call['function']} of the model's output {tuple(call['shapes'][0])} and "
                        f"{tuple(call['shapes'][1])} broadcasts to {wide}")
        # A hand-written loss: arithmetic of the output and the target that widens the batch.
        if call["function"] in ARITHMETIC and call["from_output"] and call["result_shape"] is not None \
                and len(call["shapes"]) >= 2:
            out = ev.steps[0].get("output_shape")
            if out and int(np.prod(call["result_shape"])) > max(int(np.prod(s)) for s in call["shapes"]):
                other = next((sh for sh in call["shapes"] if tuple(sh) != tuple(out)), call["shapes"][-1])
                return (f"{call['function']} of the model's output {tuple(out)} and {tuple(other)} broadcast to "
                        f"{call['result_shape']} on the way to the loss")
    return None


def _output_activation(ev):
    step = ev.steps[0] if ev.steps else {}
    last = step.get("last_module")
    if last and last[1] in ("Softmax", "Sigmoid", "LogSoftmax"):
        return last[1].lower()
    producer = step.get("output_producer")
    return producer if producer in ("softmax", "sigmoid", "log_softmax") else None


def _double(ev, activation, losses):
    if _output_activation(ev) != activation:
        return None
    for call in _calls(ev):
        if call["from_output"] and call["function"] in losses:
            return f"the model's output comes out of {activation} and goes into {call['function']}, which applies its own"
    return None


def double_softmax(ev):
    return _double(ev, "softmax", ("cross_entropy",))


def sigmoid_bce_logits(ev):
    return _double(ev, "sigmoid", ("binary_cross_entropy_with_logits",))


def sum_reduction(ev):
    for call in _calls(ev):
        if call.get("reduction") == "sum":
            return f"{call['function']}(reduction='sum'), where Keras averages over the batch"
    producer = ev.steps[0].get("loss_producer") if ev.steps else None
    if producer == "sum":
        return "the loss is a sum over the batch, where Keras averages"
    return None


def l2_weight_decay(ev):
    decay = ev.torch["optimizer"]["weight_decay"]
    l2 = {name: k["l2"] for name, k in ev.keras["layers"].items() if k.get("l2")}
    if decay and "adamw" not in ev.torch["optimizer"]["class"]:
        return (f"the optimizer's weight_decay={decay:g} (λ·w added to every gradient, biases too) where Keras "
                + (f"regularises the kernels of {', '.join(l2)} by L2 in the loss" if l2 else "has no weight decay"))
    return None


def clipnorm_global(ev):
    clip = ev.keras["optimizer"].get("clipnorm")
    for step in ev.steps:
        raw, used = step.get("raw_grads", {}), step.get("grads", {})
        factors = []
        for name, g in raw.items():
            u = used.get(name)
            norm = float(g.norm())
            if u is not None and norm > 0:
                factors.append(float(u.norm()) / norm)
        if factors and min(factors) < 1 - 1e-6:
            same = max(factors) - min(factors) < 1e-4
            if same and clip:
                return (f"the loop scales every gradient by one factor ({min(factors):.3g}): one global norm, "
                        f"where Keras' clipnorm={clip:g} clips each gradient on its own")
            if not clip and not ev.keras["optimizer"].get("global_clipnorm"):
                return "the loop clips gradients where Keras' optimizer does not clip"
            return None
    return None


def _epochs_rows(ev):
    by_epoch = ev.per_epoch.get("rows") or []
    return [r for r in by_epoch if r is not None and len(r)]


def unshuffled(ev):
    epochs = _epochs_rows(ev)
    if ev.keras["shuffle"] and epochs and all(np.array_equal(r, np.arange(len(r))) for r in epochs):
        return "the loader yields the training rows in their stored order every epoch, where fit shuffles them"
    return None


def batch_size(ev):
    sizes = [len(s["rows"]) for s in ev.steps if s.get("rows") is not None]
    if sizes and sizes[0] != ev.keras["batch_size"]:
        return f"the loader's batches hold {sizes[0]} rows, fit's {ev.keras['batch_size']}"
    return None


def forgotten_eval(ev):
    if ev.has_train_behaviour and any(c["training"] for c in ev.eval_calls):
        return "a forward pass without gradients (validation) runs with the model in training mode"
    return None


def _pairs_of(ev, prefix):
    return [(layer, name, module) for layer, name, module in ev.pairs if type(module).__name__.startswith(prefix)]


def bn_momentum(ev):
    for layer, name, module in _pairs_of(ev, "BatchNorm"):
        k = ev.keras["layers"][layer.name]["momentum"]
        if module.momentum is None or abs(module.momentum - (1 - k)) > 1e-9:
            return (f"{name}: BatchNorm momentum={module.momentum} where Keras' momentum={k:g} means PyTorch's "
                    f"momentum={1 - k:g} (the weight of the new batch)")
    return None


def _epsilon(ev, prefix):
    for layer, name, module in _pairs_of(ev, prefix):
        k = ev.keras["layers"][layer.name]["epsilon"]
        if abs(module.eps - k) > 1e-12:
            return f"{name}: eps={module.eps:g} where Keras' {layer.name} has epsilon={k:g}"
    return None


def bn_epsilon(ev):
    return _epsilon(ev, "BatchNorm")


def layernorm_epsilon(ev):
    return _epsilon(ev, "LayerNorm")


def lr_schedule_per_epoch(ev):
    steps = len(ev.steps)
    epochs = max(1, len(ev.per_epoch.get("rows") or []))
    if ev.keras["optimizer"]["schedule"] == "per_batch" and ev.torch["scheduler"] and steps > epochs:
        calls = len(ev.scheduler_calls)
        if calls < steps:
            return (f"the loop steps its {ev.torch['scheduler']} {calls} time(s) in {steps} optimizer steps, where "
                    "Keras' schedule moves at every step")
    return None


def adam_epsilon(ev):
    if ev.keras["optimizer"]["class"] in ("adam", "adamw") and ev.torch["optimizer"]["class"] in ("adam", "adamw"):
        return ("torch.optim.Adam adds epsilon to the bias-corrected sqrt(v); Keras' Adam to sqrt(v) with the "
                "corrections folded into the step size")
    return None


def _init(ev, kinds):
    differing = {r["tensor"].removeprefix("initial ") for r in ev.init_rows if r["differs"]}
    names = [layer.name for layer, _, module in ev.pairs if type(module).__name__ in kinds
             and any(d.startswith(layer.name + ".") for d in differing)]
    if names:
        return f"the initial weights of {', '.join(names)} are drawn from other distributions than Keras'"
    return None


def dense_init(ev):
    return _init(ev, ("Linear", "Conv1d", "Conv2d", "Embedding"))


def lstm_init(ev):
    return _init(ev, ("LSTM", "GRU"))


def lstm_two_biases(ev):
    for layer, name, module in _pairs_of(ev, "LSTM"):
        hh = [p for n, p in module.named_parameters() if n.startswith("bias_hh")]
        if hh and any(p.requires_grad for p in hh):
            return f"{name}: nn.LSTM trains two bias vectors (bias_ih and bias_hh); Keras' LSTM one"
    return None


def optimizer_settings(ev):
    k, t = ev.keras["optimizer"], ev.torch["optimizer"]
    differ = []
    if k["lr"] is not None and t["lr"] is not None and not np.isclose(k["lr"], t["lr"], rtol=1e-6):
        differ.append(f"learning rate {t['lr']:g} against {k['lr']:g}")
    if t["betas"] and k["beta_1"] is not None and not np.allclose(t["betas"], (k["beta_1"], k["beta_2"])):
        differ.append(f"betas {t['betas']} against ({k['beta_1']:g}, {k['beta_2']:g})")
    if t["eps"] is not None and k["epsilon"] is not None and not np.isclose(t["eps"], k["epsilon"]):
        differ.append(f"epsilon {t['eps']:g} against {k['epsilon']:g}")
    if t.get("alpha") is not None and k.get("rho") is not None and not np.isclose(t["alpha"], k["rho"]):
        differ.append(f"RMSprop's alpha {t['alpha']:g} against Keras' rho {k['rho']:g}")
    if t.get("momentum") is not None and k.get("momentum") is not None and not np.isclose(t["momentum"], k["momentum"]):
        differ.append(f"momentum {t['momentum']:g} against {k['momentum']:g}")
    if t.get("nesterov") is not None and k.get("nesterov") is not None and bool(t["nesterov"]) != bool(k["nesterov"]):
        differ.append(f"nesterov {t['nesterov']} against {k['nesterov']}")
    return "; ".join(differ) if differ else None


def optimizer_class(ev):
    k, t = ev.keras["optimizer"]["class"], ev.torch["optimizer"]["class"]
    if k != t:
        return f"torch.optim.{ev.torch['optimizer']['class']} against Keras' {k}"
    return None


def loss_mismatch(ev):
    keras_loss = ev.keras["loss"]
    from gapstudy.trace.observe import LOSS_FUNCTIONS

    for call in _calls(ev):
        seen = LOSS_FUNCTIONS.get(call["function"])
        if seen and keras_loss in KERAS_LOSSES.values() and seen != keras_loss:
            return f"the port's loss is {call['function']}, Keras compiles {keras_loss}"
    return None


PROBES = {f.__name__: f for f in (
    target_broadcast, double_softmax, sigmoid_bce_logits, sum_reduction, l2_weight_decay, clipnorm_global,
    unshuffled, batch_size, forgotten_eval, bn_momentum, bn_epsilon, layernorm_epsilon, lr_schedule_per_epoch,
    adam_epsilon, dense_init, lstm_init, lstm_two_biases, optimizer_settings, optimizer_class, loss_mismatch)}
assert set(PROBES) == set(SIGNATURES)


def run(ev: Evidence) -> list[dict]:
    """Every probe that finds its difference: ``{"probe", "evidence"}`` in ``PROBES`` order."""
    found = []
    for name, probe in PROBES.items():
        evidence = probe(ev)
        if evidence:
            found.append({"probe": name, "evidence": evidence})
    return found
