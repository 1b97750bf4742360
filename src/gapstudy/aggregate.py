"""Run records → tidy tables: one row a run, one row an epoch, one row a prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.run import load_record

ID = ["framework", "variant", "device", "seed"]
RUN_COLUMNS = ID + [
    "val_mse",
    "val_mae",
    "val_r2",
    "val_pearson_r",
    "diverged",
    "weights_sha256",
    "device_name",
    "threads",
    "train_seconds",
    "wall_seconds",
    "cpu_seconds",
    "started",
    "finished",
]


def deterministic_settings(settings: dict) -> str:
    """The determinism switches a run took, in words."""
    taken = []
    if settings.get("torch_deterministic_algorithms"):
        taken.append("torch.use_deterministic_algorithms(True)")
    if settings.get("tf_op_determinism"):
        taken.append("tf.config.experimental.enable_op_determinism()")
    return ", ".join(taken + ["every generator seeded per run"])


def tables(record_paths, y_val) -> dict[str, pd.DataFrame]:
    """Read every record once and build the runs, epochs and predictions tables."""
    runs, epochs, predictions = [], [], []
    for path in record_paths:
        record = load_record(path)
        ident = {key: record[key] for key in ID}
        repeat = record["repeat"]
        runs.append({key: record[key] for key in RUN_COLUMNS} | {
            "repeat_checked": repeat["checked"],
            "repeat_identical": repeat.get("identical"),
            "repeat_predictions_max_abs_diff": repeat.get("predictions_max_abs_diff"),
            "deterministic_settings": deterministic_settings(record["settings"]),
            "switches": ";".join(f"{k}={v}" for k, v in sorted(record["switches"].items())),
            **{f"version_{k}": v for k, v in record["versions"].items()},
        })
        epochs.extend(ident | row for row in record["epochs"])
        predictions.append(
            pd.DataFrame(ident | {"index": np.arange(len(y_val)), "y_true": y_val,
                                  "y_pred": record["predictions"]})
        )
    sort = lambda df, extra=(): df.sort_values(ID + list(extra), kind="stable").reset_index(drop=True)  # noqa: E731
    return {
        "runs": sort(pd.DataFrame(runs)),
        "epochs": sort(pd.DataFrame(epochs), ["epoch"]),
        "predictions": sort(pd.concat(predictions, ignore_index=True), ["index"]),
    }
