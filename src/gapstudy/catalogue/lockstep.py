"""Where a port first leaves its Keras reference: the first step, and the first tensor within it.

Both sides start from the Keras reference's initial weights (the port gets
them in its own layout) and see the same batches and dropout masks, so that
any difference comes from the port's code. Step 0 compares the two
initialisations as distributions (the port draws its own weights there: a
transferred weight has no initialisation left to compare). Each later step
compares every tensor in the order the step computes it (``keras_ref.Traced``
names them): input, each layer's output, loss, gradients, Adam's moments,
updated weights, BatchNorm's running statistics; after every epoch,
validation's output and the running statistics after it (those rows carry
the epoch's last step and its epoch).

A tensor differs where ``max|keras − port| > atol + rtol · max|keras|``
(NumPy's ``allclose`` rule, on the largest element).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.catalogue import keras_ref, torch_port
from gapstudy.catalogue.cases import CASES, FIXED, arm_switches
from gapstudy.catalogue.scores import n_outputs

KINDS = ("initial weights", "input", "layer output", "loss input", "loss", "gradient", "Adam moment",
         "updated weight", "BatchNorm statistic", "validation output")
STEP_COLUMNS = ["step", "epoch", "position", "tensor", "kind", "max_abs_difference", "keras_scale",
                "relative_difference", "fixed_port_difference", "from_fixed_port", "differs"]
INIT_DRAWS = 10
INIT_TOLERANCE = 0.1
INIT_ALPHA = 1e-3


def kind(name: str) -> str:
    """The kind of a traced tensor, from its name (``KINDS``)."""
    if name.startswith("initial "):
        return "initial weights"
    if name == "input":
        return "input"
    if name == "loss input":
        return "loss input"
    if name in ("loss", "L2 penalty"):
        return "loss"
    if name.startswith("gradient "):
        return "gradient"
    if name.startswith("adam "):
        return "Adam moment"
    if name == "validation output":
        return "validation output"
    if name.endswith((".moving_mean", ".moving_variance")):
        return "BatchNorm statistic"
    if "." in name:
        return "updated weight"
    return "layer output"


def _largest(a: np.ndarray, b) -> float:
    if b is None or np.asarray(b).size != a.size:
        return float("inf")
    return float(np.max(np.abs(a - np.asarray(b, dtype=np.float64).reshape(a.shape)))) if a.size else 0.0


def compare(keras: list, port: list, atol: float, rtol: float, fixed: list | None = None) -> list[dict]:
    """Rows of ``STEP_COLUMNS`` (without step and epoch), one per Keras tensor, in Keras' order.

    With ``fixed`` (the fixed port's tensors at the same step, from the same
    weights, batches and masks), a tensor of the port differs only where it
    is beyond tolerance both from Keras and from the fixed port: a
    difference the fixed port shares (float32 round-off through another
    framework's kernels, or a ReLU kink it tips over) is not the pitfall's.
    """
    theirs, control = dict(port), dict(fixed or [])
    rows = []
    for position, (name, a) in enumerate(keras):
        a = np.asarray(a, dtype=np.float64)
        scale = float(np.max(np.abs(a))) if a.size else 0.0
        bound = atol + rtol * scale
        diff = _largest(a, theirs.get(name))
        row = {"position": position, "tensor": name, "kind": kind(name), "max_abs_difference": diff,
               "keras_scale": scale, "relative_difference": diff / scale if scale > 0 else diff,
               "differs": bool(not diff <= bound)}
        if fixed is not None:
            ours = np.asarray(theirs.get(name), dtype=np.float64) if theirs.get(name) is not None else None
            row["fixed_port_difference"] = _largest(a, control.get(name))
            row["from_fixed_port"] = _largest(ours, control.get(name)) if ours is not None else float("inf")
            row["differs"] = bool(row["differs"] and not row["from_fixed_port"] <= bound)
        rows.append(row)
    return rows


def init_rows(case: str, switches: dict, data: dict, seed: int) -> list[dict]:
    """Step 0: each weight's values over ``INIT_DRAWS`` initialisations, Keras' against the port's.

    A weight differs where the spreads differ by more than ``INIT_TOLERANCE``
    (relative) and Brown-Forsythe's test of equal spread rejects at
    ``INIT_ALPHA``, or where the means differ by more than that fraction of
    Keras' spread and Welch's t-test rejects (a zero bias against a drawn
    one); both, so that a small tensor's sampling noise is not a finding.
    """
    from scipy import stats

    c = CASES[case]
    outputs = n_outputs(c.task, data["y_train"])
    shape = data["X_train"].shape[1:]
    k_draws, p_draws = [], []
    for i in range(INIT_DRAWS):
        model = keras_ref.build(case, shape, outputs, seed + i)
        k_draws.append({f"{layer.name}.{w.name}": w.numpy() for layer in model.layers
                        for w in layer.trainable_weights})
        p_draws.append(dict(torch_port.keras_named(
            torch_port.build(case, switches, shape, outputs, seed + i), "param")))
    rows = []
    for position, name in enumerate(k_draws[0]):
        k = np.concatenate([d[name].ravel() for d in k_draws]).astype(np.float64)
        p = np.concatenate([d[name].ravel() for d in p_draws]).astype(np.float64)
        k_sd, p_sd = float(np.std(k)), float(np.std(p))
        if k_sd == 0 and p_sd == 0:
            spread, shift, p_spread, p_shift = 0.0, abs(float(np.mean(p) - np.mean(k))), 0.0, 0.0
        else:
            spread = abs(p_sd - k_sd) / k_sd if k_sd > 0 else float("inf")
            shift = abs(float(np.mean(p) - np.mean(k))) / (k_sd if k_sd > 0 else p_sd)
            p_spread = float(stats.levene(k, p, center="median").pvalue)
            p_shift = float(stats.ttest_ind(k, p, equal_var=False).pvalue)
        differs = (spread > INIT_TOLERANCE and p_spread < INIT_ALPHA) or (shift > INIT_TOLERANCE and p_shift < INIT_ALPHA)
        rows.append({"position": position, "tensor": f"initial {name}", "kind": "initial weights",
                     "max_abs_difference": max(spread, shift), "keras_scale": k_sd,
                     "relative_difference": max(spread, shift), "differs": bool(differs)})
    return rows


def trace(case: str, arm: str, data: dict, seed: int, epochs: int, atol: float, rtol: float,
          log=print) -> tuple[pd.DataFrame, dict]:
    """Trace ``arm`` of ``case`` against the Keras reference for ``epochs`` epochs; (every row, result)."""
    c = CASES[case]
    switches = arm_switches(case, arm)
    rows = [r | {"step": 0, "epoch": 0} for r in init_rows(case, switches, data, seed)]
    keras = keras_ref.Traced(case, data, seed)
    weights = keras.initial_weights()
    port = torch_port.Traced(case, switches, data, seed, weights)
    fixed = torch_port.Traced(case, arm_switches(case, FIXED), data, seed, weights) if arm != FIXED else None
    start = compare(sorted(weights.items()), sorted(port.initial_weights().items()), atol, rtol)
    if any(r["differs"] for r in start):
        raise RuntimeError(f"the port of {case}/{arm} did not take Keras' initial weights: "
                           + ", ".join(r["tensor"] for r in start if r["differs"]))
    rng = np.random.default_rng(seed)
    X, y = data["X_train"], data["y_train"]
    n, batch = len(X), c.settings["batch_size"]
    rate = c.settings.get("dropout", 0.0)
    width = c.settings["filters"][-1] if c.family == "cnn" else 1
    shuffled = port.port.sw["shuffle"] == "every_epoch"
    step = 0
    for epoch in range(1, epochs + 1):
        keras_order = rng.permutation(n)
        port_order = keras_order if shuffled else np.arange(n)
        for first in range(0, n, batch):
            step += 1
            k_idx, p_idx = keras_order[first:first + batch], port_order[first:first + batch]
            mask = (rng.random((len(k_idx), width)) >= rate).astype(np.float32)
            a = keras.step(X[k_idx], y[k_idx], mask)
            b = port.step(X[p_idx], y[p_idx], mask)
            f = fixed.step(X[k_idx], y[k_idx], mask) if fixed is not None else None
            rows += [r | {"step": step, "epoch": epoch} for r in compare(a, b, atol, rtol, f)]
        port.end_epoch()
        if fixed is not None:
            fixed.end_epoch()
        f = fixed.evaluate(data["X_val"]) if fixed is not None else None
        rows += [r | {"step": step, "epoch": epoch}
                 for r in compare(keras.evaluate(data["X_val"]), port.evaluate(data["X_val"]), atol, rtol, f)]
        log(f"{case}/{arm}: epoch {epoch}, {step} steps traced")
    steps = pd.DataFrame(rows, columns=STEP_COLUMNS)
    return steps, summarise(steps, case, arm, atol, rtol, epochs)


def summarise(steps: pd.DataFrame, case: str, arm: str, atol: float, rtol: float, epochs: int) -> dict:
    """The first differing (step, tensor), and what the step computed equally before it."""
    differing = steps[steps["differs"]]
    result = {"case": case, "arm": arm, "atol": atol, "rtol": rtol, "epochs": epochs,
              "steps": int(steps["step"].max()), "tensors_per_step": int((steps["step"] == 1).sum()),
              "diverges": bool(len(differing))}
    if len(differing):
        first = differing.iloc[0]
        at_step = steps[steps["step"] == first["step"]]
        before = at_step[at_step.index < first.name]
        result |= {"first_step": int(first["step"]), "first_epoch": int(first["epoch"]),
                   "first_tensor": first["tensor"],
                   "first_kind": first["kind"], "first_difference": float(first["max_abs_difference"]),
                   "first_relative_difference": float(first["relative_difference"]),
                   "equal_before_it": int(len(before)),
                   "forward_equal": bool(not at_step[at_step["kind"].isin(["input", "layer output"])]["differs"].any())}
    else:
        result |= {"first_step": None, "first_epoch": None, "first_tensor": None, "first_kind": None}
    result["largest_relative_difference"] = float(steps[steps["step"] > 0]["relative_difference"].replace(
        np.inf, np.nan).max())
    return result
