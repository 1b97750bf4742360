"""Research question 5: does a run repeat bit for bit, and how far apart are devices?"""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUP = ["framework", "variant", "device"]


def repeat_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per framework, variant and device: runs trained twice, how many repeated exactly, the spread."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        done = group[group["repeat_checked"].astype(bool)]
        rows.append({
            **dict(zip(GROUP, key)),
            "runs": len(group),
            "runs_repeated": len(done),
            "repeated_identically": int(done["repeat_identical"].astype(bool).sum()),
            "all_identical": bool(len(done)) and bool(done["repeat_identical"].astype(bool).all()),
            "predictions_max_abs_diff": float(done["repeat_predictions_max_abs_diff"].max()) if len(done) else np.nan,
            "deterministic_settings": "; ".join(sorted(set(group["deterministic_settings"].dropna()))),
        })
    return pd.DataFrame(rows)


def device_table(predictions: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The same framework, variant and seed on CPU and on each other device: how far apart.

    Empty where only one device ran (then the report says this part did not run).
    """
    columns = ["framework", "variant", "seed", "device", "predictions_max_abs_diff",
               "val_mse_cpu", "val_mse_device", "val_mse_ratio"]
    if set(runs["device"]) <= {"cpu"}:
        return pd.DataFrame(columns=columns)
    key = ["framework", "variant", "seed"]
    cpu = predictions[predictions["device"] == "cpu"]
    mse = runs.pivot_table(index=key, columns="device", values="val_mse")
    rows = []
    for device in sorted(set(predictions["device"]) - {"cpu"}):
        other = predictions[predictions["device"] == device]
        both = cpu.merge(other, on=key + ["index"], suffixes=("_cpu", "_dev"))
        for k, group in both.groupby(key, sort=True):
            rows.append({
                **dict(zip(key, k)), "device": device,
                "predictions_max_abs_diff": float(np.max(np.abs(group["y_pred_cpu"] - group["y_pred_dev"]))),
                "val_mse_cpu": float(mse.loc[k, "cpu"]), "val_mse_device": float(mse.loc[k, device]),
                "val_mse_ratio": float(mse.loc[k, device] / mse.loc[k, "cpu"]),
            })
    return pd.DataFrame(rows, columns=columns)
