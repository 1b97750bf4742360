"""One training run, end to end: load data, train, score, write the record (``gapstudy.records``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import math
import os
import shutil
import socket
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from gapstudy import metrics, runtime, sources
from gapstudy.data import load_dataset
from gapstudy.records import RECORD_FORMAT, load_record, save_record
from gapstudy.registry import FRAMEWORKS


def _trainer(framework: str):
    """The framework's ``train`` function, from its registry entry's trainer module.

    Imported by name, so that a rule's code hash (``gapstudy.sources``) holds
    the trainer of its own framework only.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
    spec = FRAMEWORKS[framework]
    if spec.family == "keras":
        backend = spec.backend
        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
            raise RuntimeError(f"{framework} needs Keras on {backend}, but this process imported Keras on "
                               f"{sys.modules['keras'].backend.backend()}; run it in its own process")
        os.environ["KERAS_BACKEND"] = backend  # read once, when Keras is first imported
    return importlib.import_module(spec.trainer).train


def configure_threads(framework: str, threads: int) -> None:
    """Set the framework's own pools too: env variables alone miss some of them."""
    if FRAMEWORKS[framework].torch_backed:
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


def configure_determinism(framework: str) -> None:
    """Deterministic kernels where the framework offers a switch (research question 5).

    Generators are seeded per run by the trainers (``torch.manual_seed`` in
    the posted model; ``keras.utils.set_random_seed`` for Python, NumPy and
    TensorFlow). On CPU these settings change no number of this model.
    """
    if FRAMEWORKS[framework].torch_backed:
        import torch

        torch.use_deterministic_algorithms(True)
    if FRAMEWORKS[framework].backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def run_identity(framework: str, variant: str, seed: int, device: str, switches: dict, hp: dict,
                 threads: int, dataset_manifest: Path, code_sha256: str = "") -> dict:
    """What makes a run the run it is: a kept record that has all of it may stand in for a new run.

    ``code_sha256`` is the hash of the code the job runs (its rule's ``code``
    param, ``gapstudy.sources.code_sha256``): a record kept by older code is
    not reused.
    """
    return {
        "format": RECORD_FORMAT,
        "framework": framework,
        "variant": variant,
        "seed": int(seed),
        "device": device,
        "switches": switches,
        "hyperparameters": hp,
        "threads": threads,
        "dataset_sha256": hashlib.sha256(Path(dataset_manifest).read_bytes()).hexdigest(),
        "versions": runtime.versions(),
        "code_sha256": code_sha256,
    }


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
    code_sha256: str = "",
    log=print,
) -> dict:
    """Train one (framework, variant, seed, device) and return its full record."""
    started = dt.datetime.now(dt.timezone.utc)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    trainer = _trainer(framework)
    configure_threads(framework, threads)
    configure_determinism(framework)
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
    diverged_epoch = first_divergence(result["epochs"])
    if diverged_epoch is not None:
        log(f"diverged: the loss was not finite at epoch {diverged_epoch}; training stopped there")
    log(
        f"done: val_mse={scores['val_mse']:.6g} r={scores['val_pearson_r']:.4f} "
        f"in {result['train_seconds']:.1f} s"
    )
    record = {
        "status": "finished",
        **run_identity(framework, variant, seed, device, switches, hp, threads, dataset_manifest, code_sha256),
        "code": sources.identity(),
        "device_name": result["device_name"] or runtime.cpu_name(),
        **scores,
        "diverged": diverged_epoch is not None or not math.isfinite(scores["val_mse"]),
        "diverged_epoch": diverged_epoch,
        "weights_sha256": metrics.weights_sha256(result["weights"]),
        "train_seconds": result["train_seconds"],
        "wall_seconds": time.perf_counter() - wall0,
        "cpu_seconds": time.process_time() - cpu0,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "settings": result["settings"],
        "epochs": result["epochs"],
        "predictions": predictions,
    }
    return record


def first_divergence(epochs: list[dict]) -> int | None:
    """The first epoch whose training loss or validation MSE is NaN or infinite, else None."""
    for row in epochs:
        if not (math.isfinite(row["train_loss"]) and math.isfinite(row["val_mse"])):
            return row["epoch"]
    return None


class NotRepeatable(RuntimeError):
    """A CPU run that, trained twice, did not give the same bits."""


def repeat_check(first: dict, second: dict) -> dict:
    """Compare a run with its repetition: identical weights hash and predictions, or how far apart.

    On CPU a difference is an error (``NotRepeatable``): every generator is
    seeded and every kernel deterministic there, so it means a bug. On a GPU
    it is recorded as the spread instead.
    """
    a, b = (np.asarray(r["predictions"], dtype=np.float64) for r in (first, second))
    identical = first["weights_sha256"] == second["weights_sha256"] and a.tobytes() == b.tobytes()
    check = {
        "checked": True,
        "identical": bool(identical),
        "predictions_max_abs_diff": float(np.max(np.abs(a - b))) if a.shape == b.shape else math.inf,
        "val_mse_difference": float(second["val_mse"] - first["val_mse"]),
        "second_weights_sha256": second["weights_sha256"],
    }
    if not identical and first["device"] == "cpu":
        raise NotRepeatable(
            f"{first['framework']}/{first['variant']} seed {first['seed']} on cpu is not repeatable: "
            f"trained twice in one job, the weights hash {first['weights_sha256'][:12]} vs "
            f"{second['weights_sha256'][:12]}, predictions up to {check['predictions_max_abs_diff']:.3g} apart"
        )
    return check


def resumable(path: Path, identity: dict) -> dict | None:
    """A finished record at ``path`` with exactly this ``run_identity``, else None."""
    try:
        record = load_record(path)
    except (OSError, ValueError):
        return None
    same = all(record.get(key) == value for key, value in identity.items())
    return record if same else None


def failure_record(framework: str, variant: str, seed: int, device: str, error: BaseException) -> dict:
    """What stands in for a run that raised, where the config accepts partial results."""
    return {"format": RECORD_FORMAT, "status": "failed", "framework": framework, "variant": variant,
            "seed": int(seed), "device": device, "error": f"{type(error).__name__}: {error}"}


def train_runs(framework: str, variant: str, switches: dict, seeds, outputs, repeat: int = 0,
               resume_dir: Path | None = None, keep_failures: bool = False, **kwargs) -> None:
    """Train one seed after another in this process, saving each record as it finishes.

    One process pays the framework's import once for all seeds; each run
    still starts from its own seed (every generator is re-seeded per run) and
    gets its own record. The first ``repeat`` seeds are trained twice and
    checked with ``repeat_check`` (research question 5). ``kwargs`` go to
    ``train_run``.

    With ``resume_dir``, each finished record is also kept there until the
    whole job has finished, so that a job killed halfway (whose outputs
    Snakemake deletes) retrains only the seeds it had not finished: a kept
    record is reused only if it is complete and was made with the same
    settings and library versions.

    With ``keep_failures`` (config key ``partial_results``) a run that raises
    is saved as a failure record naming the error, and the job goes on with
    the next seed; otherwise the error stops the job.
    """
    if len(seeds) != len(outputs):
        raise ValueError(f"{len(seeds)} seeds but {len(outputs)} output paths")
    log = kwargs.get("log", print)
    for i, (seed, path) in enumerate(zip(seeds, outputs)):
        kept = Path(resume_dir) / Path(path).name if resume_dir else None
        record = None
        if kept:
            record = resumable(kept, run_identity(framework, variant, seed, kwargs["device"], switches,
                                                  kwargs["hp"], kwargs.get("threads", 1), kwargs["dataset_manifest"],
                                                  kwargs.get("code_sha256", "")))
        if record is not None:
            log(f"seed {seed}: reusing the finished run kept in {kept}")
        else:
            try:
                record = train_run(framework, variant, switches, int(seed), **kwargs)
                record["repeat"] = {"checked": False}
                if i < repeat:
                    log(f"seed {seed} again: is the run repeatable?")
                    again = train_run(framework, variant, switches, int(seed), **kwargs)
                    record["repeat"] = repeat_check(record, again)
                    log(f"repeat: identical={record['repeat']['identical']}")
            except Exception as error:
                if not keep_failures:
                    raise
                log(f"seed {seed} FAILED, recorded as failed (partial_results: true):\n"
                    + traceback.format_exc())
                record = failure_record(framework, variant, seed, kwargs["device"], error)
            if kept and record["status"] == "finished":
                save_record(record, kept)
        save_record(record, Path(path))
    if resume_dir:
        shutil.rmtree(resume_dir, ignore_errors=True)

