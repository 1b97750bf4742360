"""A case's validation scores from its model's outputs, the same function for Keras and PyTorch.

``output``: regression predictions (N,) or (N, 1); class probabilities
(N, K); or probabilities of the positive class (N,) or (N, 1). Log-loss
clips probabilities to [1e-7, 1 − 1e-7], Keras' epsilon, so that one
confident mistake is finite in every arm alike.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7


def scores(task: str, y_true, output) -> dict:
    y_true = np.asarray(y_true)
    output = np.asarray(output, dtype=np.float64)
    if task == "regression":
        pred = output.reshape(-1)
        return {"val_mse": float(np.mean((pred - y_true.reshape(-1)) ** 2))}
    if task == "multiclass":
        proba = np.clip(output, EPSILON, 1 - EPSILON)
        picked = proba[np.arange(len(y_true)), y_true]
        return {"val_log_loss": float(-np.mean(np.log(picked))),
                "val_accuracy": float(np.mean(np.argmax(output, axis=1) == y_true))}
    if task == "binary":
        p = np.clip(output.reshape(-1), EPSILON, 1 - EPSILON)
        y = y_true.reshape(-1)
        return {"val_log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
                "val_accuracy": float(np.mean((p > 0.5) == (y == 1)))}
    raise ValueError(f"unknown task {task!r}; allowed: regression, multiclass, binary")


def n_outputs(task: str, y_train) -> int:
    """Units of a case's output layer: one per class of a multiclass task, else one."""
    return int(np.max(y_train)) + 1 if task == "multiclass" else 1
