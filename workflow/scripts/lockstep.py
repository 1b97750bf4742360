"""Snakemake → gapstudy.studies.seed.lockstep: one lock-step pair, each side traced in its own process, then compared."""

import json
import tempfile
from pathlib import Path

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)  # before any framework is imported (the draw imports PyTorch)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gapstudy.studies.seed import lockstep  # noqa: E402
from gapstudy.frameworks import metrics
from gapstudy.studies.seed.data import load_dataset  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_json, open_log  # noqa: E402

log = open_log(snakemake.log[0])
out, params, inp = snakemake.output, snakemake.params, snakemake.input
dataset = load_dataset(Path(inp.npz), Path(inp.manifest))
hp, sides = params.hyperparameters, {"a": params.a_switches, "b": params.b_switches}

# Drawn once (by the PyTorch initialiser, with side a's init switches) and saved; both sides start from what was saved.
weights = lockstep.initial_weights(params.seed, dataset.X_train.shape[1], hp, sides["a"])
with atomic_path(Path(out.initial_weights)) as tmp:
    with open(tmp, "wb") as handle:
        np.savez(handle, *weights)
orders = lockstep.batch_orders(len(dataset.X_train), sides["a"]["epochs"], params.seed)
with atomic_path(Path(out.batch_orders)) as tmp:
    with open(tmp, "wb") as handle:
        np.save(handle, orders)

names = {side: f"{params.pair[side]['framework']}/{params.pair[side]['variant']}" for side in sides}
log(f"lock-step {snakemake.wildcards.pair}: {names['a']} against {names['b']}, "
    f"{orders.shape[0]} epochs × {-(-orders.shape[1] // hp['batch_size'])} steps, each side in its own process")
traces = {}
with tempfile.TemporaryDirectory(dir=Path(out.steps).parent) as scratch:
    for side, switches in sides.items():
        traces[side] = lockstep.trace_in_child(
            params.pair[side]["framework"], switches, hp, out.initial_weights, out.batch_orders, inp.npz,
            inp.manifest, snakemake.threads, Path(scratch) / f"{side}.npz")
steps = lockstep.compare(traces["a"], traces["b"], [w.size for w in lockstep.load_weights(out.initial_weights)])
# Every digit, so that the table's summary (rule lockstep_table) reads the very numbers.
with atomic_path(Path(out.steps)) as tmp:
    pd.DataFrame(steps).to_csv(tmp, index=False, float_format="%.17g")
pred = {side: traces[side]["val_predictions"].astype(np.float64) for side in sides}
summary = {
    "pair": snakemake.wildcards.pair,
    "a": names["a"],
    "b": names["b"],
    "seed": params.seed,
    "val_mse_a": metrics.mse(dataset.y_val, pred["a"]),
    "val_mse_b": metrics.mse(dataset.y_val, pred["b"]),
    "val_predictions_max_abs_diff": float(np.max(np.abs(pred["a"] - pred["b"]))),
}
atomic_write_json(Path(out.result), summary)
log(json.dumps(summary, indent=1))
