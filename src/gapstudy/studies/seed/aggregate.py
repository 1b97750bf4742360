"""Run records → tidy tables: one row a run, one row an epoch, one row a prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.studies.seed.records import ID, load_record
# Results only: two runs of the same config on the same machine give the same bytes.
RUN_COLUMNS = ID + [
    "val_mse",
    "val_mae",
    "val_r2",
    "val_pearson_r",
    "diverged",
    "diverged_epoch",
    "weights_sha256",
    "device_name",
    "cpu_flags",
    "threads",
]
# When, where and how long: kept apart, in timings.csv.
TIMING_COLUMNS = ID + ["host", "train_seconds", "wall_seconds", "cpu_seconds", "started", "finished"]


class FailedRuns(RuntimeError):
    """Failure records found while the config does not accept partial results."""


def deterministic_settings(settings: dict) -> str:
    """The determinism switches a run took, in words."""
    taken = []
    if settings.get("torch_deterministic_algorithms"):
        taken.append("torch.use_deterministic_algorithms(True)")
    if settings.get("tf_op_determinism"):
        taken.append("tf.config.experimental.enable_op_determinism()")
    return ", ".join(taken + ["every generator seeded per run"])


def run_row(record: dict) -> dict:
    """One finished run as a row of the runs table: identity, scores, repeat check, versions, code."""
    repeat = record["repeat"]
    return {key: record[key] for key in RUN_COLUMNS} | {
        "repeat_checked": repeat["checked"],
        "repeat_identical": repeat.get("identical"),
        "repeat_predictions_max_abs_diff": repeat.get("predictions_max_abs_diff"),
        "deterministic_settings": deterministic_settings(record["settings"]),
        # TensorFlow's oneDNN kernels: on, capped at an instruction set, or off (PyTorch runs: none).
        "onednn": record["settings"].get("onednn", "none"),
        "switches": ";".join(f"{k}={v}" for k, v in sorted(record["switches"].items())),
        **{f"version_{k}": v for k, v in record["versions"].items()},
        "code_sha256": record["code_sha256"],
        **{f"code_{k}": v for k, v in record["code"].items()},
    }


def runs_table(record_paths) -> pd.DataFrame:
    """The runs table of finished records alone (failed ones left out), sorted by run."""
    rows = [run_row(r) for r in map(load_record, record_paths) if r["status"] == "finished"]
    return pd.DataFrame(rows).sort_values(ID, kind="stable").reset_index(drop=True)


def tables(record_paths, y_val, partial: bool = False) -> dict[str, pd.DataFrame]:
    """Read every record once and build the runs, epochs, predictions, timings and missing tables.

    A run that failed (a failure record, written where the config sets
    ``partial_results``) goes to ``missing`` with its error instead; without
    ``partial`` such a record is an error, so that a complete study is never
    built from an incomplete one by accident.
    """
    runs, epochs, predictions, timings, missing = [], [], [], [], []
    for path in record_paths:
        record = load_record(path)
        ident = {key: record[key] for key in ID}
        if record["status"] == "failed":
            missing.append(ident | {"reason": record["error"], "record": str(path)})
            continue
        runs.append(run_row(record))
        timings.append({key: record[key] for key in TIMING_COLUMNS})
        epochs.extend(ident | row for row in record["epochs"])
        predictions.append(
            pd.DataFrame(ident | {"index": np.arange(len(y_val)), "y_true": y_val,
                                  "y_pred": record["predictions"]})
        )
    if missing and not partial:
        raise FailedRuns(
            f"{len(missing)} run(s) failed and were recorded as failed, but config key partial_results is "
            f"false: {'; '.join(m['record'] + ': ' + m['reason'] for m in missing[:5])}. Rerun them "
            "(snakemake --forcerun <their results/runs/... directory>) or set partial_results: true."
        )
    if not runs:
        raise FailedRuns(f"none of the {len(missing)} runs finished: nothing to aggregate")
    sort = lambda df, extra=(): df.sort_values(ID + list(extra), kind="stable").reset_index(drop=True)  # noqa: E731
    runs_table = sort(pd.DataFrame(runs))
    missing_table = sort(pd.DataFrame(missing, columns=ID + ["reason", "record"]))
    return {
        "runs": runs_table,
        "epochs": sort(pd.DataFrame(epochs), ["epoch"]),
        "predictions": sort(pd.concat(predictions, ignore_index=True), ["index"]),
        "timings": sort(pd.DataFrame(timings)),
        "missing": missing_table,
        "incomplete": incomplete_runs(runs_table, missing_table),
    }


def incomplete_runs(runs: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    """One row per run that failed (no result) or diverged (loss NaN or infinite), with why."""
    diverged = runs.loc[runs["diverged"], ID + ["diverged_epoch"]]
    diverged = diverged.assign(what="diverged", reason=[
        f"loss not finite at epoch {int(e)}; training stopped there" if pd.notna(e) else "final MSE not finite"
        for e in diverged["diverged_epoch"]])
    table = pd.concat([diverged, missing.assign(what="failed")], ignore_index=True)[ID + ["what", "reason"]]
    return table.sort_values(ID, kind="stable").reset_index(drop=True)
