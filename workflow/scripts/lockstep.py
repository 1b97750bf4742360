"""Snakemake → gapstudy.lockstep: one lock-step pair, PyTorch and Keras side by side."""

import json
import os
from pathlib import Path

from gapstudy.runtime import limit_threads

# Before any framework is imported: thread pools are sized on import.
limit_threads(snakemake.threads)
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gapstudy import lockstep, metrics  # noqa: E402
from gapstudy.data import load_dataset  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_json, open_log  # noqa: E402
from gapstudy.run import configure_threads  # noqa: E402

log = open_log(snakemake.log[0])
out, params = snakemake.output, snakemake.params
for framework in ("torch", "keras"):
    configure_threads(framework, snakemake.threads)
dataset = load_dataset(Path(snakemake.input.npz), Path(snakemake.input.manifest))
hp, torch_switches = params.hyperparameters, params.torch_switches

# Drawn once and saved; both sides then start from what was saved.
weights = lockstep.initial_weights(params.seed, dataset.X_train.shape[1], hp, torch_switches)
with atomic_path(Path(out.initial_weights)) as tmp:
    with open(tmp, "wb") as handle:
        np.savez(handle, *weights)
orders = lockstep.batch_orders(len(dataset.X_train), torch_switches["epochs"], params.seed)
with atomic_path(Path(out.batch_orders)) as tmp:
    with open(tmp, "wb") as handle:
        np.save(handle, orders)
with np.load(out.initial_weights) as saved:
    weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
orders = np.load(out.batch_orders)

log(f"lock-step {snakemake.wildcards.pair}: torch/{params.pair['torch']} against keras/{params.pair['keras']}, "
    f"{orders.shape[0]} epochs × {-(-orders.shape[1] // hp['batch_size'])} steps")
result = lockstep.run(
    dataset, weights, orders, hp["batch_size"],
    lockstep.TorchSide(weights, hp, torch_switches),
    lockstep.KerasSide(weights, hp, params.keras_switches),
    progress=lambda s: log(f"epoch {s['epoch']:4d}  step {s['step']:6d}  loss torch={s['loss_torch']:.6g} "
                           f"keras={s['loss_keras']:.6g}  max |Δw|={s['max_abs_diff']:.3g}"),
)
# Every digit, so that the table's summary (rule lockstep_table) reads the very numbers.
with atomic_path(Path(out.steps)) as tmp:
    pd.DataFrame(result["steps"]).to_csv(tmp, index=False, float_format="%.17g")
summary = {
    "pair": snakemake.wildcards.pair,
    "torch": params.pair["torch"],
    "keras": params.pair["keras"],
    "seed": params.seed,
    "val_mse_torch": metrics.mse(dataset.y_val, result["val_predictions_torch"]),
    "val_mse_keras": metrics.mse(dataset.y_val, result["val_predictions_keras"]),
    "val_predictions_max_abs_diff": float(np.max(np.abs(
        result["val_predictions_torch"].astype(np.float64) - result["val_predictions_keras"]))),
}
atomic_write_json(Path(out.result), summary)
log(json.dumps(summary, indent=1))
