"""The scores the user reported, computed one way for every framework."""

from __future__ import annotations

import hashlib

import numpy as np


def mse(y_true, y_pred) -> float:
    """Full-set mean squared error in float64 (``sklearn.metrics.mean_squared_error``)."""
    y_true, y_pred = _flat(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def mae(y_true, y_pred) -> float:
    y_true, y_pred = _flat(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2(y_true, y_pred) -> float:
    y_true, y_pred = _flat(y_true, y_pred)
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / np.sum((y_true - y_true.mean()) ** 2))


def pearson_r(y_true, y_pred) -> float:
    y_true, y_pred = _flat(y_true, y_pred)
    if np.std(y_pred) == 0 or not np.all(np.isfinite(y_pred)):
        return float("nan")
    # numpy's, not scipy.stats.pearsonr: training jobs need not import scipy.
    return float(np.corrcoef(y_true, y_pred)[0, 1])


def all_scores(y_true, y_pred) -> dict:
    return {
        "val_mse": mse(y_true, y_pred),
        "val_mae": mae(y_true, y_pred),
        "val_r2": r2(y_true, y_pred),
        "val_pearson_r": pearson_r(y_true, y_pred),
    }


def weights_sha256(arrays) -> str:
    """Hash of the final parameters as float32, in Keras' layout and order.

    Both frameworks hash [hidden kernel (in, out), hidden bias, output kernel,
    output bias], so identical weights give identical hashes across frameworks.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _flat(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.shape[0]} targets but {y_pred.shape[0]} predictions")
    return y_true, y_pred
