"""A variant is a named set of switches over a framework's posted code.

Every switch has the posted behaviour of each framework as its default, so
the empty set of switches *is* the user's code in that framework (variant
``as_posted``). Switches that only exist in one framework say so in
``frameworks``; asking for them in the other is a config error.
"""

from __future__ import annotations

import numbers

BOTH = ("torch", "keras")


def family(framework: str) -> str:
    """Switch defaults follow the code, not the backend: ``keras_torch`` runs the Keras code."""
    return "keras" if framework.startswith("keras") else framework

SWITCHES: dict[str, dict] = {
    "target_shape": {
        "default": "posted",
        "values": {
            "posted": "the (N,) target against the (N, 1) prediction, as posted "
            "(the hand-written PyTorch loss broadcasts it to an N × N matrix; Keras aligns the shapes)",
            "matched": "prediction and target have the same shape in the loss",
        },
    },
    "loss": {
        "default": {"torch": "handwritten", "keras": "framework"},
        "values": {
            "handwritten": "the user's mean((y - y_pred) ** 2)",
            "framework": "the framework's own MSE (nn.MSELoss; Keras' 'mean_squared_error')",
        },
    },
    "weight_init": {
        "default": {"torch": "xavier_normal", "keras": "xavier_uniform"},
        "values": {
            "xavier_normal": "untruncated normal, std sqrt(2 / (fan_in + fan_out)) (torch's xavier_normal_)",
            "xavier_uniform": "uniform on ±sqrt(6 / (fan_in + fan_out)) (torch's xavier_uniform_, "
            "Keras' default glorot_uniform)",
            "glorot_normal_truncated": "Keras' glorot_normal: normal truncated at two standard "
            "deviations, rescaled to variance 2 / (fan_in + fan_out)",
            "torch_default": "nn.Linear's own init: uniform on ±1 / sqrt(fan_in)",
        },
    },
    "bias_init": {
        "default": "zeros",
        "values": {
            "zeros": "biases start at zero (as posted in both)",
            "torch_default": "nn.Linear's own bias init: uniform on ±1 / sqrt(fan_in)",
        },
    },
    "adam_rule": {
        "default": {"torch": "torch", "keras": "keras"},
        "values": {
            "torch": "PyTorch's update: lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps), "
            "bias corrections in float64",
            "keras": "Keras' update: lr · sqrt(1 - b2^t) / (1 - b1^t) · m / (sqrt(v) + eps) "
            "('epsilon hat'), bias corrections in the variables' float32",
        },
    },
    # Bounds as in the schema's training section: past them a value is a typo, not a study.
    "learning_rate": {"default": None, "number": "positive", "max": 1e6, "doc": "Adam's learning rate"},
    "epsilon": {"default": None, "number": "positive", "max": 1.0, "doc": "Adam's epsilon"},
    "epochs": {"default": None, "number": "integer", "max": 100000, "doc": "number of epochs"},
    "val_loss": {
        "frameworks": ("torch",),
        "default": "batch_means",
        "values": {
            "batch_means": "validation loss as posted: the mean of the batch means of a shuffled loader",
            "full_set": "validation loss on the whole validation set at once",
        },
    },
    "eval_mode": {
        "frameworks": ("torch",),
        "default": "on",
        "values": {
            "on": "model.eval() and torch.no_grad() in validation, as posted",
            "off": "validation in training mode with gradient tracking",
        },
    },
    "graph": {
        "frameworks": ("torch",),
        "default": "plain",
        "values": {
            "plain": "loss.backward(), as posted",
            "retain_graph": "loss.backward(retain_graph=True)",
            "create_graph": "loss.backward(create_graph=True)",
        },
    },
    "dtype": {
        "default": "float32",
        "values": {"float32": "float32, as posted", "float64": "float64 data, weights and optimizer"},
    },
    "shuffle": {
        "default": "on",
        "values": {"on": "training batches shuffled every epoch, as posted", "off": "fixed batch order"},
    },
    "activation": {
        "default": "none",
        "values": {
            "none": "no activation between the layers, as posted (a linear model)",
            "relu": "ReLU after the hidden layer",
            "tanh": "tanh after the hidden layer",
        },
    },
}

# Numeric switches fall back to the config's `training` section.
NUMERIC_FROM_TRAINING = ("learning_rate", "epsilon", "epochs")


def default(name: str, framework: str):
    value = SWITCHES[name]["default"]
    return value[family(framework)] if isinstance(value, dict) else value


def check(switches: dict | None, frameworks=BOTH) -> None:
    """Raise ValueError naming an unknown switch, a bad value, or a switch a framework lacks."""
    for name, value in (switches or {}).items():
        if name not in SWITCHES:
            raise ValueError(f"unknown switch {name!r}; known switches: {', '.join(SWITCHES)}")
        spec = SWITCHES[name]
        if "number" in spec:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < value <= spec["max"]
            if spec["number"] == "integer":
                ok = ok and isinstance(value, numbers.Integral)
            if not ok:
                kind = "a positive integer" if spec["number"] == "integer" else "a positive number"
                raise ValueError(f"switch {name!r} has value {value!r}; allowed: {kind} up to {spec['max']:g}")
        elif value not in spec["values"]:
            raise ValueError(f"switch {name!r} has value {value!r}; allowed: {list(spec['values'])}")
        lacking = [f for f in frameworks if family(f) not in spec.get("frameworks", BOTH)]
        if lacking:
            raise ValueError(f"switch {name!r} exists only for {', '.join(spec['frameworks'])}, "
                             f"not for {', '.join(lacking)}")


def resolve(switches: dict | None, framework: str = "torch", training: dict | None = None) -> dict:
    """Every switch of ``framework`` with its value: the posted default unless set."""
    check(switches, (framework,))
    switches = dict(switches or {})
    resolved = {}
    for name, spec in SWITCHES.items():
        if family(framework) not in spec.get("frameworks", BOTH):
            continue
        if name in switches:
            resolved[name] = switches[name]
        elif name in NUMERIC_FROM_TRAINING:
            resolved[name] = (training or {}).get(name)
        else:
            resolved[name] = default(name, framework)
    return resolved


def describe(name: str, value) -> str:
    spec = SWITCHES[name]
    return spec["values"][value] if "values" in spec else f"{spec['doc']} {value}"
