"""The user's data set, bit for bit, plus a manifest that proves it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARRAYS = ("X_train", "X_val", "y_train", "y_val")

TARGETS = {
    # The posted target: y = sin(x1) + ... + sin(xd).
    "sum_sin": lambda X: np.sum(np.sin(X), axis=1),
}


@dataclass(frozen=True)
class Dataset:
    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}


def make_dataset(
    n_train: int = 7000,
    n_val: int = 700,
    n_features: int = 10,
    seed: int = 0,
    target: str = "sum_sin",
    scaling: str = "minmax",
) -> Dataset:
    """``get_data()`` of the question, with its constants as parameters.

    The order of the random draws (train first, then validation, from the
    legacy global NumPy generator) is the user's, so the defaults give the
    user's arrays exactly.
    """
    np.random.seed(seed)
    X_train = np.random.normal(0, 1, size=(n_train, n_features))
    X_val = np.random.normal(0, 1, size=(n_val, n_features))
    y_train = TARGETS[target](X_train)
    y_val = TARGETS[target](X_val)
    if scaling == "minmax":
        from sklearn.preprocessing import MinMaxScaler  # not imported by training jobs

        scaler = MinMaxScaler()
        y_train = scaler.fit_transform(y_train.reshape(-1, 1)).reshape(-1)
        y_val = scaler.transform(y_val.reshape(-1, 1)).reshape(-1)
    elif scaling != "none":
        raise ValueError(f"dataset.scaling must be 'minmax' or 'none', got {scaling!r}")
    return Dataset(X_train, X_val, y_train, y_val)


def sha256(array: np.ndarray) -> str:
    """Hash of the bytes in C order; dtype and shape are in the manifest."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def manifest(dataset: Dataset, params: dict) -> dict:
    return {
        "params": params,
        "arrays": {
            name: {
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "sha256": sha256(array),
            }
            for name, array in dataset.arrays().items()
        },
    }


def save_dataset(dataset: Dataset, npz_path: Path, manifest_path: Path, params: dict) -> None:
    from gapstudy.io import atomic_write_json, atomic_path

    with atomic_path(npz_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **dataset.arrays())
    atomic_write_json(manifest_path, manifest(dataset, params))


def load_dataset(npz_path: Path, manifest_path: Path | None = None) -> Dataset:
    """Load the arrays; with a manifest, refuse arrays whose hash differs."""
    with np.load(npz_path) as npz:
        dataset = Dataset(**{name: npz[name] for name in ARRAYS})
    if manifest_path is not None:
        expected = json.loads(Path(manifest_path).read_text())["arrays"]
        for name, array in dataset.arrays().items():
            if sha256(array) != expected[name]["sha256"]:
                raise ValueError(
                    f"{npz_path}: array {name} does not match its manifest "
                    f"{manifest_path}; delete both and rerun the dataset rule"
                )
    return dataset
