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

from gapstudy.studies.catalogue import keras_ref, torch_port
from gapstudy.studies.catalogue.cases import CASES, FIXED, arm_switches
from gapstudy.studies.catalogue.scores import n_outputs
from gapstudy.trace import engine

# The engine every lock-step trace shares (the seed study's catalogue cases and users' ports).
KINDS, STEP_COLUMNS, kind, compare = engine.KINDS, engine.STEP_COLUMNS, engine.kind, engine.compare
INIT_DRAWS = engine.INIT_DRAWS


def init_rows(case: str, switches: dict, data: dict, seed: int) -> list[dict]:
    """Step 0: each weight's values over ``INIT_DRAWS`` initialisations, Keras' against the port's, as
    distributions (``engine.init_statistics``)."""
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
    return engine.init_statistics(k_draws, p_draws)


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
    """The first differing (step, tensor), and what the step computed equally before it (``engine.summarise``)."""
    return engine.summarise(steps, atol, rtol, epochs, case=case, arm=arm)
