"""The catalogue's datasets: generated, or bundled with scikit-learn; nothing is downloaded.

Every generator returns ``{"X_train", "y_train", "X_val", "y_val"}`` as
float32 inputs (Keras' layout: rows first, channels last) and float32
(regression) or int64 (classification) targets. A split is drawn from
``split_seed`` alone, so every arm of a case sees the same rows.
"""

from __future__ import annotations

import numpy as np

ARRAYS = ("X_train", "y_train", "X_val", "y_val")


def _split(X, y, val_fraction: float, seed: int, stratify: bool):
    from sklearn.model_selection import train_test_split

    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=val_fraction, random_state=seed, stratify=y if stratify else None)
    return X_train, y_train, X_val, y_val


def seed(split_seed: int = 0) -> dict:
    """The seed question's data (``gapstudy.studies.seed.data.make_dataset``, the user's arrays): (7000, 10) → (7000,)."""
    from gapstudy.studies.seed.data import make_dataset

    d = make_dataset(seed=split_seed)
    return {"X_train": d.X_train.astype(np.float32), "y_train": d.y_train.astype(np.float32),
            "X_val": d.X_val.astype(np.float32), "y_val": d.y_val.astype(np.float32)}


def digits_sorted(split_seed: int = 0) -> dict:
    """scikit-learn's 8×8 digits as 64 features in [0, 1], 80/20 stratified; the training rows sorted by
    class, as datasets often come (stable sort: the order within a class is the split's)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X_train, y_train, X_val, y_val = _split(X / 16.0, y, 0.2, split_seed, stratify=True)
    order = np.argsort(y_train, kind="stable")
    return {"X_train": X_train[order].astype(np.float32), "y_train": y_train[order].astype(np.int64),
            "X_val": X_val.astype(np.float32), "y_val": y_val.astype(np.int64)}


def digits_images(split_seed: int = 0) -> dict:
    """The 8×8 digits as (N, 8, 8, 1) images in [0, 1], 80/20 stratified, in the split's order."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X_train, y_train, X_val, y_val = _split((X / 16.0).reshape(-1, 8, 8, 1), y, 0.2, split_seed, stratify=True)
    return {"X_train": X_train.astype(np.float32), "y_train": y_train.astype(np.int64),
            "X_val": X_val.astype(np.float32), "y_val": y_val.astype(np.int64)}


def breast_cancer(split_seed: int = 0) -> dict:
    """scikit-learn's breast cancer set, 30 features standardised on the training rows, 80/20 stratified."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X_train, y_train, X_val, y_val = _split(X, y, 0.2, split_seed, stratify=True)
    mean, sd = X_train.mean(axis=0), X_train.std(axis=0)
    return {"X_train": ((X_train - mean) / sd).astype(np.float32), "y_train": y_train.astype(np.int64),
            "X_val": ((X_val - mean) / sd).astype(np.float32), "y_val": y_val.astype(np.int64)}


def adding(split_seed: int = 0, n_train: int = 2000, n_val: int = 500, length: int = 15) -> dict:
    """The adding problem (Hochreiter and Schmidhuber 1997): (N, length, 2) sequences of a uniform value
    and a marker, two markers per sequence; the target is the sum of the two marked values."""
    rng = np.random.default_rng(split_seed)

    def draw(n):
        values = rng.uniform(0, 1, (n, length))
        markers = np.zeros((n, length))
        first = rng.integers(0, length // 2, n)
        second = rng.integers(length // 2, length, n)
        markers[np.arange(n), first] = 1
        markers[np.arange(n), second] = 1
        X = np.stack([values, markers], axis=-1)
        return X.astype(np.float32), (values * markers).sum(axis=1).astype(np.float32)

    X_train, y_train = draw(n_train)
    X_val, y_val = draw(n_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


DATASETS = {"seed": seed, "digits_sorted": digits_sorted, "digits_images": digits_images,
            "breast_cancer": breast_cancer, "adding": adding}


def make(name: str, split_seed: int = 0) -> dict:
    if name not in DATASETS:
        raise KeyError(f"unknown catalogue dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return DATASETS[name](split_seed)


def save(arrays: dict, path) -> None:
    from gapstudy.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{k: arrays[k] for k in ARRAYS})


def load(path) -> dict:
    with np.load(path) as npz:
        return {k: npz[k] for k in ARRAYS}
