"""The two sides of a port, built from the user's entry points: the data, Keras' model and ``fit``, the
PyTorch objects, the user's loader and loop (called unchanged), and both sides' predictions.

Seeds: before a builder runs, ``keras.utils.set_random_seed(seed)`` (Keras) or ``torch.manual_seed``,
``numpy.random.seed`` and ``random.seed`` (PyTorch) set every global generator; a builder that takes
``seed`` gets it too. Arm ``s`` of the port and arm ``s`` of a fixed port so start from the same draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from gapstudy.config import ConfigError
from gapstudy.studies.port import spec
from gapstudy.trace.observe import StopTraining

ARRAYS = ("X_train", "y_train", "X_val", "y_val")


# ------------------------------------------------------------------ data

def _as_arrays(raw, key: str) -> dict:
    if isinstance(raw, dict):
        if set(ARRAYS) <= set(raw):
            return {k: np.asarray(raw[k]) for k in ARRAYS}
        if {"X", "y"} <= set(raw):
            return {"X": np.asarray(raw["X"]), "y": np.asarray(raw["y"])}
    if isinstance(raw, (tuple, list)) and len(raw) == 4:
        X_train, X_val, y_train, y_val = raw
        return {"X_train": np.asarray(X_train), "y_train": np.asarray(y_train), "X_val": np.asarray(X_val),
                "y_val": np.asarray(y_val)}
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return {"X": np.asarray(raw[0]), "y": np.asarray(raw[1])}
    raise ConfigError(f"{key}: gave {type(raw).__name__}; allowed: X_train, y_train, X_val, y_val (or X, y) "
                      "as a mapping, or (X_train, X_val, y_train, y_val)")


def load_data(port: dict, entries: spec.Entries | None = None) -> dict:
    """The port's arrays: ``X_*`` float32 in Keras' layout, ``y_*`` float32 (regression) or int64 (classes)."""
    from pathlib import Path

    d = port["data"]
    if "file" in d:
        path, key = Path(port["path"]) / d["file"], "port.data.file"
        if path.suffix == ".npz":
            with np.load(path) as npz:
                raw = _as_arrays({k: npz[k] for k in npz.files}, key)
        else:
            import pandas as pd

            frame = pd.read_csv(path)
            if "target" not in frame:
                raise ConfigError(f"port.data.file: {d['file']!r} has no column 'target'; its columns: "
                                  f"{', '.join(frame.columns)}")
            raw = {"X": frame.drop(columns="target").to_numpy(), "y": frame["target"].to_numpy()}
    else:
        entries = entries or spec.Entries(port)
        raw = _as_arrays(entries.generator(), "port.data.generator")
    if "X" in raw:
        from sklearn.model_selection import train_test_split

        stratify = raw["y"] if port["task"] != "regression" else None
        X_train, X_val, y_train, y_val = train_test_split(
            raw["X"], raw["y"], test_size=d["validation_fraction"], random_state=d["split_seed"], stratify=stratify)
        raw = {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}
    out = {}
    for k in ARRAYS:
        try:
            out[k] = _inputs(raw[k]) if k.startswith("X") else _targets(raw[k], port["task"])
        except (TypeError, ValueError) as error:
            raise ConfigError(f"port.data: {k} cannot be read as numbers ({error}); allowed: numeric arrays "
                              "(class labels as integers 0 … K − 1)") from None
    for part in ("train", "val"):
        if len(out[f"X_{part}"]) != len(out[f"y_{part}"]) or not len(out[f"X_{part}"]):
            raise ConfigError(f"port.data: X_{part} has {len(out[f'X_{part}'])} rows and y_{part} "
                              f"{len(out[f'y_{part}'])}; allowed: the same number, at least one")
    return out


def _inputs(a) -> np.ndarray:
    """Inputs as float32, or as int64 where they are integers (token ids for an Embedding)."""
    a = np.asarray(a)
    return a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32)


def _targets(a, task: str) -> np.ndarray:
    """Targets as the losses want them: class labels (N,) int64 for a multiclass task, everything else
    float32 (regression values, binary 0/1 for BCELoss, one-hot rows)."""
    a = np.asarray(a)
    return a.astype(np.int64) if task == "multiclass" and a.ndim == 1 else a.astype(np.float32)


def labels(y) -> np.ndarray:
    """Class labels of targets that may come one-hot (N, K)."""
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y), -1)[:, 0] if y.ndim == 2 else y


def load_npz(path) -> dict:
    """The arrays the dataset rule wrote."""
    with np.load(path) as npz:
        return {k: npz[k] for k in ARRAYS}


def torch_layout(port: dict, X):
    """Keras' channels-last arrays in the layout the PyTorch side reads (``port.data.torch_layout``)."""
    if port["data"]["torch_layout"] == "channels_first" and X.ndim >= 3:
        return np.ascontiguousarray(np.moveaxis(X, -1, 1))
    return X


# ------------------------------------------------------------------ Keras

def seed_keras(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def build_keras(entries: spec.Entries, seed: int, example=None):
    """The user's compiled Keras model, from the global seed ``seed``; a model built only when it first
    sees data (a Sequential without ``Input``) is built on ``example`` rows."""
    import keras

    seed_keras(seed)
    kwargs = {"seed": seed} if spec.accepts(entries.keras_model, "seed") else {}
    try:
        model = entries.keras_model(**kwargs)
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"port.keras.model: {entries.port['keras']['model']!r} raised "
                          f"{type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model):
        raise ConfigError(f"port.keras.model: {entries.port['keras']['model']!r} returned "
                          f"{type(model).__name__}; allowed: a keras.Model")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ConfigError(f"port.keras.model: {entries.port['keras']['model']!r} returned a model that is not "
                          "compiled; allowed: a model after model.compile(optimizer, loss)")
    if example is not None and not model.built:
        model.build((None,) + tuple(np.asarray(example).shape[1:]))
    return model


def fit_keras(entries: spec.Entries, data: dict, seed: int, epochs: int) -> dict:
    """``fit`` as the user calls it (``port.keras.fit``), then ``predict``; the output and the losses."""
    fit = entries.port["keras"]["fit"]
    start = time.perf_counter()
    model = build_keras(entries, seed, data["X_train"][:2])
    callbacks = entries.callbacks() if entries.callbacks else None
    validation = (data["X_val"], data["y_val"]) if fit["validation"] else None
    history = model.fit(data["X_train"], data["y_train"], batch_size=fit["batch_size"], epochs=epochs,
                        shuffle=fit["shuffle"], callbacks=callbacks, validation_data=validation, verbose=0)
    output = model.predict(data["X_val"], batch_size=256, verbose=0)
    return {"output": output, "train_loss": [float(x) for x in history.history["loss"]],
            "wall_seconds": time.perf_counter() - start}


# ------------------------------------------------------------------ PyTorch

@dataclass
class TorchPort:
    """The user's PyTorch objects for one seed, and what the workflow attached to them."""

    model: object
    optimizer: object
    loss_fn: object = None
    scheduler: object = None
    loader: object = None
    val_loader: object = None
    removers: list = field(default_factory=list)

    def detach_hooks(self) -> None:
        for remove in self.removers:
            remove()
        self.removers.clear()


def seed_torch(seed: int) -> None:
    import random

    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def build_torch(entries: spec.Entries, seed: int) -> TorchPort:
    """The user's module, optimizer, loss and scheduler from ``port.torch.build``, told apart by type."""
    import torch

    key = f"port.torch.build: {entries.port['torch']['build']!r}"
    seed_torch(seed)
    kwargs = {"seed": seed} if spec.accepts(entries.build, "seed") else {}
    try:
        built = entries.build(**kwargs)
    except Exception as error:
        raise ConfigError(f"{key} raised {type(error).__name__}: {error}") from None
    items = list(built.values()) if isinstance(built, dict) else list(built) if isinstance(built, (tuple, list)) \
        else [built]
    found = {}
    for item in items:
        if isinstance(item, torch.optim.Optimizer):
            found.setdefault("optimizer", item)
        elif isinstance(item, torch.optim.lr_scheduler.LRScheduler):
            found.setdefault("scheduler", item)
        elif isinstance(item, torch.nn.modules.loss._Loss) or (isinstance(item, torch.nn.Module) and "model" in found):
            found.setdefault("loss_fn", item)
        elif isinstance(item, torch.nn.Module):
            found["model"] = item
        elif callable(item):
            found.setdefault("loss_fn", item)
    # The model is the module whose parameters the optimizer trains (a custom loss is a module too).
    modules = [i for i in items if isinstance(i, torch.nn.Module) and not isinstance(i, torch.nn.modules.loss._Loss)]
    if "optimizer" in found and len(modules) > 1:
        trained = {id(p) for g in found["optimizer"].param_groups for p in g["params"]}
        model = next((m for m in modules if any(id(p) in trained for p in m.parameters())), None)
        if model is not None:
            found["model"] = model
            rest = [m for m in modules if m is not model]
            if rest and ("loss_fn" not in found or found["loss_fn"] is model):
                found["loss_fn"] = rest[0]
    for need in ("model", "optimizer"):
        if need not in found:
            raise ConfigError(f"{key} returned no {'torch.nn.Module' if need == 'model' else 'torch.optim.Optimizer'};"
                              " allowed: the module and optimizer, and the loss and scheduler if any")
    return TorchPort(**found)


def make_loader(entries: spec.Entries, X, y, batch_size: int, shuffle: bool | None = None):
    """The user's loader over ``(X, y)`` (``port.torch.loader``), or a DataLoader of a TensorDataset."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    if entries.loader is not None and shuffle is None:
        try:
            return spec.call(entries.loader, "port.torch.loader", {}, None, **extra_names(X, y, batch_size))
        except ConfigError:
            raise
        except Exception as error:
            raise ConfigError(f"port.torch.loader: {entries.port['torch']['loader']!r} raised "
                              f"{type(error).__name__}: {error}") from None
    dataset = TensorDataset(torch.from_numpy(np.asarray(X)), torch.from_numpy(np.asarray(y)))
    if shuffle is None:
        shuffle = bool(entries.port["torch"].get("shuffle"))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def extra_names(X, y, batch_size):
    return {"X": X, "x": X, "X_train": X, "y": y, "y_train": y, "batch_size": batch_size}


def loader_batch_size(loader, default: int) -> int:
    return int(getattr(loader, "batch_size", None) or default)


def run_loop(entries: spec.Entries, tp: TorchPort, epochs: int, on_epoch=None) -> None:
    """The user's loop, called unchanged: ``train_epoch`` once per epoch, or ``train`` once."""
    values = {"model": tp.model, "optimizer": tp.optimizer, "loss_fn": tp.loss_fn, "scheduler": tp.scheduler,
              "loader": tp.loader, "val_loader": tp.val_loader, "epochs": epochs, "device": "cpu"}
    renames = entries.port["torch"]["arguments"]
    try:
        if entries.per_epoch:
            for epoch in range(epochs):
                spec.call(entries.loop, entries.loop_key, values | {"epoch": epoch}, renames)
                if on_epoch is not None:
                    on_epoch(epoch)
        else:
            spec.call(entries.loop, entries.loop_key, values, renames)
    except ConfigError:
        raise
    except StopTraining:
        raise
    except Exception as error:
        raise LoopError(f"{entries.loop_key}: {entries.port['torch'].get('train_epoch') or entries.port['torch']['train']!r}"
                        f" raised {type(error).__name__}: {error}") from error


class LoopError(RuntimeError):
    """The user's loop raised: the message names the key and the entry point."""



def predict_torch(entries: spec.Entries, tp: TorchPort, X) -> np.ndarray:
    """The port's validation output: the user's ``predict``, or ``eval()`` and a forward without gradients."""
    import torch

    X = torch.from_numpy(np.asarray(X))
    if entries.predict is not None:
        out = spec.call(entries.predict, "port.torch.predict", {"model": tp.model}, None, X=X, x=X, X_val=X)
    else:
        tp.model.eval()
        with torch.no_grad():
            out = torch.cat([tp.model(X[i:i + 256]) for i in range(0, len(X), 256)])
        tp.model.train()
    if isinstance(out, torch.Tensor):
        out = out.detach().numpy()
    return np.asarray(out)


def as_probabilities(task: str, output) -> np.ndarray:
    """A classifier's output as probabilities: kept where it already is (rows in [0, 1] summing to 1, or
    values in [0, 1]), else softmax or sigmoid of logits. Regression output is returned as it is."""
    out = np.asarray(output, dtype=np.float64)
    if task == "multiclass":
        if out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=1), 1, atol=1e-4):
            return out
        z = np.exp(out - out.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    if task == "binary":
        out = out.reshape(-1)
        return out if out.min() >= 0 and out.max() <= 1 else 1 / (1 + np.exp(-out))
    return out


def score(port: dict, entries: spec.Entries, y_true, output) -> float:
    """The port's metric (lower is better): MSE, log-loss, the error rate (1 − accuracy, at least half a
    validation row), or the user's."""
    from gapstudy.studies.catalogue.scores import scores

    if entries.metric is not None:
        return float(entries.metric(y_true, output))
    if port["metric"] == "mse":
        return float(np.mean((np.asarray(output, dtype=np.float64).reshape(len(y_true), -1)[:, 0]
                              - y_true.reshape(-1)) ** 2)) if np.asarray(output).size == len(y_true) else \
            float("inf")
    y = labels(y_true)
    s = scores(port["task"], y.astype(np.int64) if port["task"] == "multiclass" else y,
               as_probabilities(port["task"], output))
    if port["metric"] == "log_loss":
        return s["val_log_loss"]
    # The error rate, floored at half a row so that a perfect run has a finite log.
    return max(1.0 - s["val_accuracy"], 0.5 / len(y))
