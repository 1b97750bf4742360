"""One training run, end to end: load data, train, score, write the record (``gapstudy.studies.seed.records``)."""

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

from gapstudy.frameworks import metrics, runtime
from gapstudy import sources
from gapstudy.studies.seed.data import load_dataset
from gapstudy.studies.seed.records import RECORD_FORMAT, load_record, save_record
from gapstudy.registry import FRAMEWORKS


# The Keras this process trains with, once a Keras framework's trainer was asked for:
# (package, backend). Keras 3 and Keras 2 share TensorFlow's random state and
# thread pools, and Keras 3 reads its backend once, so a process holds one.
_KERAS_HELD: tuple[str, str] | None = None


def _claim_keras(framework: str) -> None:
    """Refuse, with the reason, a Keras framework in a process that holds another Keras or backend."""
    global _KERAS_HELD
    spec = FRAMEWORKS[framework]
    wanted = (spec.keras, spec.backend)
    if _KERAS_HELD is not None and _KERAS_HELD != wanted:
        raise RuntimeError(f"{framework} needs {spec.keras} on {spec.backend}, but this process already "
                           f"trained with {_KERAS_HELD[0]} on {_KERAS_HELD[1]}; run it in its own process")
    keras3 = sys.modules.get("keras")
    # TensorFlow imports Keras 3 itself (for tf.keras), so Keras 3 on TensorFlow may sit
    # beside Keras 2 unused; Keras 3 on another backend may not, nor Keras 2 beside Keras 3.
    if keras3 is not None and keras3.backend.backend() != spec.backend:
        raise RuntimeError(f"{framework} needs {spec.keras} on {spec.backend}, but this process imported "
                           f"Keras 3 on {keras3.backend.backend()}; run it in its own process")
    if spec.keras == "keras" and "tf_keras" in sys.modules:
        raise RuntimeError(f"{framework} needs Keras 3, but this process imported Keras 2 (tf_keras); "
                           "run it in its own process")
    os.environ["KERAS_BACKEND"] = spec.backend  # read once, when Keras is first imported
    _KERAS_HELD = wanted


def _trainer(framework: str):
    """The framework's trainer module (its registry entry's), with ``train`` and ``train_seeds``.

    Imported by name, so that a rule's code hash (``gapstudy.sources``) holds
    the trainer of its own framework only. A Keras framework claims the
    process's Keras (``_claim_keras``).
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
    spec = FRAMEWORKS[framework]
    if spec.keras:
        _claim_keras(framework)
    return importlib.import_module(spec.trainer)


def configure_threads(framework: str, threads: int) -> None:
    """Set the framework's own pools too: env variables alone miss some of them.

    JAX has no such call: ``runtime.limit_threads`` asks XLA for the same
    number through ``XLA_FLAGS`` before JAX is imported (which XLA may not
    fully honour: jax-ml/jax#1539).
    """
    if FRAMEWORKS[framework].torch_backed:
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # already set once in this process
            pass
    elif FRAMEWORKS[framework].backend == "tensorflow":
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


def train_run(framework: str, variant: str, switches: dict, seed: int, **kwargs) -> dict:
    """Train one (framework, variant, seed, device) and return its full record (``train_many``'s)."""
    return train_many(framework, variant, switches, [seed], **kwargs)[0]


def train_many(
    framework: str,
    variant: str,
    switches: dict,
    seeds,
    device: str,
    hp: dict,
    dataset_npz: Path,
    dataset_manifest: Path,
    threads: int = 1,
    code_sha256: str = "",
    log=print,
) -> list[dict]:
    """Train ``seeds`` of one (framework, variant, device) together; one full record per seed.

    The trainer's ``train_seeds`` stacks the seeds where it can (each seed
    keeps its own numbers; see ``gapstudy.frameworks.torch_stacked`` and
    ``gapstudy.frameworks.keras_stacked``). Wall and CPU time are the job's, shared
    out over its runs.
    """
    started = dt.datetime.now(dt.timezone.utc)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    trainer = _trainer(framework)
    configure_threads(framework, threads)
    configure_determinism(framework)
    dataset = load_dataset(dataset_npz, dataset_manifest)
    seeds = [int(seed) for seed in seeds]
    log(
        f"training {framework}/{variant} seeds={seeds} device={device} threads={threads} "
        f"switches={switches}"
    )

    def progress(seed, row):
        log(
            f"seed {seed} epoch {row['epoch']:4d}/{switches['epochs']}  train_loss={row['train_loss']:.6g}  "
            f"val_loss_user={row['val_loss_user']:.6g}  val_mse={row['val_mse']:.6g}"
        )

    results = trainer.train_seeds(dataset, seeds, hp, switches, device=device, progress=progress)
    wall, cpu = (time.perf_counter() - wall0) / len(seeds), (time.process_time() - cpu0) / len(seeds)
    finished = dt.datetime.now(dt.timezone.utc)
    identity = sources.identity()
    records = []
    for seed, result in zip(seeds, results):
        predictions = [float(p) for p in result["predictions"]]
        scores = metrics.all_scores(dataset.y_val, result["predictions"])
        diverged_epoch = first_divergence(result["epochs"])
        if diverged_epoch is not None:
            log(f"seed {seed} diverged: the loss was not finite at epoch {diverged_epoch}; training stopped there")
        log(f"seed {seed} done: val_mse={scores['val_mse']:.6g} r={scores['val_pearson_r']:.4f} "
            f"in {result['train_seconds']:.1f} s")
        records.append({
            "status": "finished",
            **run_identity(framework, variant, seed, device, switches, hp, threads, dataset_manifest, code_sha256),
            "code": identity,
            "device_name": result["device_name"] or runtime.cpu_name(),
            # The instruction sets that decide which kernels oneDNN and MKL ran (README, "What bit for bit means").
            "cpu_flags": " ".join(runtime.cpu_flags()),
            **scores,
            "diverged": diverged_epoch is not None or not math.isfinite(scores["val_mse"]),
            "diverged_epoch": diverged_epoch,
            "weights_sha256": metrics.weights_sha256(result["weights"]),
            "train_seconds": result["train_seconds"],
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "settings": result["settings"],
            "epochs": result["epochs"],
            "predictions": predictions,
        })
    return records


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

    The repetition trains the seed again, alone: so the check also shows
    that a seed's numbers do not depend on the seeds it was stacked with.
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
               resume_dir: Path | None = None, keep_failures: bool = False, stack: int = 0, **kwargs) -> None:
    """Train every seed of a job in this process, ``stack`` seeds at a time (0: all), then save each record.

    One process pays the framework's import once for all seeds, and
    ``train_many`` trains each chunk of ``stack`` seeds together; each run
    still starts from its own seed and gets its own record. The first ``repeat`` seeds are trained
    again, each alone, and checked with ``repeat_check`` (research question 5).
    ``kwargs`` go to ``train_many``.

    With ``resume_dir``, each chunk's records are also kept there as the
    chunk finishes, until the whole job has finished, so that a job killed
    later (whose outputs Snakemake deletes) does not train them again: a kept record is reused
    only if it is complete and was made with the same settings, code and
    library versions.

    With ``keep_failures`` (config key ``partial_results``) a failing job
    trains its seeds one by one, saves each run that raises as a failure
    record naming the error, and goes on; otherwise the error stops the job.
    """
    if len(seeds) != len(outputs):
        raise ValueError(f"{len(seeds)} seeds but {len(outputs)} output paths")
    log = kwargs.get("log", print)
    records, kept_paths = {}, {}
    for seed, path in zip(seeds, outputs):
        kept = Path(resume_dir) / Path(path).name if resume_dir else None
        kept_paths[seed] = kept
        if kept:
            record = resumable(kept, run_identity(framework, variant, seed, kwargs["device"], switches,
                                                  kwargs["hp"], kwargs.get("threads", 1), kwargs["dataset_manifest"],
                                                  kwargs.get("code_sha256", "")))
            if record is not None:
                log(f"seed {seed}: reusing the finished run kept in {kept}")
                records[seed] = record
    pending = [seed for seed in seeds if seed not in records]
    size = stack if stack and stack > 0 else max(len(pending), 1)
    for chunk in [pending[i:i + size] for i in range(0, len(pending), size)]:
        try:
            records.update(zip(chunk, train_many(framework, variant, switches, chunk, **kwargs)))
        except Exception:
            if not keep_failures:
                raise
            log(f"training seeds {chunk} FAILED; training them one by one (partial_results: true):\n"
                + traceback.format_exc())
            for seed in chunk:
                try:
                    records[seed] = train_run(framework, variant, switches, seed, **kwargs)
                except Exception as error:
                    log(f"seed {seed} FAILED, recorded as failed:\n" + traceback.format_exc())
                    records[seed] = failure_record(framework, variant, seed, kwargs["device"], error)
        for seed in chunk:
            records[seed]["repeat"] = {"checked": False}
            if kept_paths[seed] and records[seed]["status"] == "finished":
                save_record(records[seed], kept_paths[seed])
    for seed in [s for s in seeds[:repeat] if s in pending and records[s]["status"] == "finished"]:
        log(f"seed {seed} again, alone: is the run repeatable?")
        again = train_run(framework, variant, switches, seed, **kwargs)
        records[seed]["repeat"] = repeat_check(records[seed], again)
        log(f"repeat: identical={records[seed]['repeat']['identical']}")
    for seed, path in zip(seeds, outputs):
        save_record(records[seed], Path(path))
    if resume_dir:
        shutil.rmtree(resume_dir, ignore_errors=True)
