"""One training run, end to end: load data, train, score, write the record.

A run record is one JSON file; its fields are documented in the README
("What each run writes"). ``RECORD_FORMAT`` changes whenever a field does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import socket
import time
from pathlib import Path

from gapstudy import metrics, runtime
from gapstudy.data import load_dataset
from gapstudy.io import atomic_write_json

RECORD_FORMAT = 1
FRAMEWORKS = ("torch", "keras")


def _trainer(framework: str):
    if framework == "torch":
        from gapstudy import train_torch

        return train_torch.train
    if framework == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        from gapstudy import train_keras

        return train_keras.train
    raise ValueError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")


def configure_threads(framework: str, threads: int) -> None:
    """Set the framework's own pools too: env variables alone miss some of them."""
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # already set once in this process
            pass
    else:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime is already initialised
            pass


def train_run(
    framework: str,
    variant: str,
    switches: dict,
    seed: int,
    device: str,
    hp: dict,
    dataset_npz: Path,
    dataset_manifest: Path,
    threads: int = 1,
    log=print,
) -> dict:
    """Train one (framework, variant, seed, device) and return its full record."""
    started = dt.datetime.now(dt.timezone.utc)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    trainer = _trainer(framework)
    configure_threads(framework, threads)
    dataset = load_dataset(dataset_npz, dataset_manifest)
    log(
        f"training {framework}/{variant} seed={seed} device={device} threads={threads} "
        f"switches={switches}"
    )

    def progress(row):
        log(
            f"epoch {row['epoch']:4d}/{switches['epochs']}  train_loss={row['train_loss']:.6g}  "
            f"val_loss_user={row['val_loss_user']:.6g}  val_mse={row['val_mse']:.6g}"
        )

    result = trainer(dataset, seed, hp, switches, device=device, progress=progress)
    predictions = [float(p) for p in result["predictions"]]
    scores = metrics.all_scores(dataset.y_val, result["predictions"])
    log(
        f"done: val_mse={scores['val_mse']:.6g} r={scores['val_pearson_r']:.4f} "
        f"in {result['train_seconds']:.1f} s"
    )
    record = {
        "format": RECORD_FORMAT,
        "framework": framework,
        "variant": variant,
        "seed": seed,
        "device": device,
        "device_name": result["device_name"] or runtime.cpu_name(),
        "switches": switches,
        "hyperparameters": hp,
        "threads": threads,
        "dataset_sha256": hashlib.sha256(Path(dataset_manifest).read_bytes()).hexdigest(),
        **scores,
        "diverged": not math.isfinite(scores["val_mse"]),
        "weights_sha256": metrics.weights_sha256(result["weights"]),
        "train_seconds": result["train_seconds"],
        "wall_seconds": time.perf_counter() - wall0,
        "cpu_seconds": time.process_time() - cpu0,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "settings": result["settings"],
        "versions": runtime.versions(),
        "epochs": result["epochs"],
        "predictions": predictions,
    }
    return record


def train_runs(framework: str, variant: str, switches: dict, seeds, outputs, **kwargs) -> None:
    """Train one seed after another in this process, saving each record as it finishes.

    One process pays the framework's import once for all seeds; each run
    still starts from its own seed (every generator is re-seeded per run) and
    gets its own record. ``kwargs`` go to ``train_run``.
    """
    if len(seeds) != len(outputs):
        raise ValueError(f"{len(seeds)} seeds but {len(outputs)} output paths")
    for seed, path in zip(seeds, outputs):
        save_record(train_run(framework, variant, switches, int(seed), **kwargs), Path(path))


def save_record(record: dict, path: Path) -> None:
    atomic_write_json(path, record)


def load_record(path: Path) -> dict:
    """Read a run record, refusing one from another format or a truncated file."""
    try:
        record = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a complete run record ({error}); delete it and rerun") from error
    if record.get("format") != RECORD_FORMAT:
        raise ValueError(
            f"{path}: run record format {record.get('format')!r}, expected {RECORD_FORMAT}; "
            "delete it and rerun"
        )
    return record
