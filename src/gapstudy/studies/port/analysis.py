"""A port's statistics: the gap, each fix's paired effect, the fixed port's TOST, the ranked causes.

Design, as the catalogue's (``gapstudy.studies.catalogue.analysis``), and why:

- Keras and the PyTorch arms draw independent numbers: the port's gap and the fixed port's equivalence
  are unpaired, Welch on the log metric (``stats.welch_log_ratio``, ``stats.tost_verdict`` with its
  power at the observed spread).
- Every PyTorch arm at seed ``s`` starts from the same global seed: a fix's effect (the port with that
  fix against the port) is paired by seed, a paired t-interval on the log ratio.
- Declared before any run, by the diagnosis (its fixes are the hypotheses): each fix changes the port's
  metric (two-sided paired t-tests, Holm over the fixes), and the fixed port is equivalent to Keras
  within the config's margin (TOST, one hypothesis).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.statistics import stats
from gapstudy.studies.catalogue.analysis import paired_p
from gapstudy.studies.port.train import FIXED, KERAS, PORT

ARM_COLUMNS = ["arm", "metric", "n", "diverged", "geometric_mean", "ci_low", "ci_high", "ci_level"]
CAUSE_COLUMNS = [
    "rank", "probe", "title", "evidence", "signature", "matches_first_divergence", "fix", "auto_fix",
    "n_pairs", "effect_ratio", "effect_ci_low", "effect_ci_high", "effect_p", "effect_p_holm", "effect_measured",
    "source"]
VERDICT_COLUMNS = [
    "port", "metric", "gap_ratio", "gap_ci_low", "gap_ci_high", "fixed_ratio", "fixed_ci_low", "fixed_ci_high",
    "fixed_tost_p", "fixed_equivalent", "fixed_power", "fixed_seeds_for_90_percent_power", "margin", "alpha",
    "ci_level", "first_step", "first_epoch", "first_tensor", "first_kind", "forward_equal", "traced_first_step",
    "traced_first_tensor", "traced_first_kind", "control", "unexplained_step", "unexplained_tensor", "fixes"]


def _by_seed(runs: pd.DataFrame, arm: str) -> pd.Series:
    rows = runs[runs["arm"] == arm]
    return pd.Series(np.log(rows["value"].to_numpy(dtype=float)), index=rows["seed"].to_numpy())


def arm_table(runs: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per arm: the geometric mean of the metric with a t-interval on the log scale (finite runs)."""
    rows = []
    for arm, group in runs.groupby("arm", sort=False):
        logs = np.log(group["value"].to_numpy(dtype=float))
        finite = logs[np.isfinite(logs)]
        low, high = stats.mean_ci(finite, level)
        rows.append({"arm": arm, "metric": group["metric"].iloc[0], "n": len(finite),
                     "diverged": int((~np.isfinite(logs)).sum()),
                     "geometric_mean": float(np.exp(finite.mean())) if len(finite) else np.nan,
                     "ci_low": float(np.exp(low)), "ci_high": float(np.exp(high)), "ci_level": level})
    return pd.DataFrame(rows, columns=ARM_COLUMNS)


def cause_table(runs: pd.DataFrame, findings: list[dict], level: float, alpha: float) -> pd.DataFrame:
    """One row per finding (``CAUSE_COLUMNS``), ranked: fixes that measurably improve the port first (by
    the size of the effect), then findings whose signature is the first divergence's, then the rest."""
    port = _by_seed(runs, PORT)
    rows = []
    for f in findings:
        row = {k: f.get(k) for k in ("probe", "title", "evidence", "signature", "matches_first_divergence", "fix",
                                       "auto_fix", "source")}
        row |= {"n_pairs": 0, "effect_ratio": np.nan, "effect_ci_low": np.nan, "effect_ci_high": np.nan,
                "effect_p": np.nan}
        if f["auto_fix"] and (runs["arm"] == f["probe"]).any():
            only = _by_seed(runs, f["probe"])
            seeds = sorted(set(only.index) & set(port.index))
            diff = only[seeds].to_numpy() - port[seeds].to_numpy()
            diff = diff[np.isfinite(diff)]
            low, high = stats.mean_ci(diff, level)
            row |= {"n_pairs": len(diff), "effect_ratio": float(np.exp(diff.mean())) if len(diff) else np.nan,
                    "effect_ci_low": float(np.exp(low)), "effect_ci_high": float(np.exp(high)),
                    "effect_p": paired_p(diff)}
        rows.append(row)
    table = pd.DataFrame(rows, columns=[c for c in CAUSE_COLUMNS if c not in ("rank", "effect_p_holm",
                                                                                "effect_measured")])
    if table.empty:
        return pd.DataFrame(columns=CAUSE_COLUMNS)
    table["effect_p_holm"] = stats.holm(table["effect_p"].to_numpy(dtype=float))
    table["effect_measured"] = table["effect_p_holm"] < alpha
    better = table["effect_measured"] & (table["effect_ratio"] < 1)
    table = table.assign(_group=np.where(better, 0, np.where(table["matches_first_divergence"].astype(bool), 1, 2)),
                         _size=-np.abs(np.log(table["effect_ratio"].astype(float))).fillna(0))
    table = table.sort_values(["_group", "_size"], kind="stable").drop(columns=["_group", "_size"])
    table["rank"] = np.arange(1, len(table) + 1)
    return table[CAUSE_COLUMNS].reset_index(drop=True)


def verdict(runs: pd.DataFrame, trace: dict, findings: list[dict], name: str, margin: float, alpha: float,
            level: float) -> pd.DataFrame:
    """One row: the port's gap to Keras, the fixed port's TOST against Keras with its power, the first
    divergent (step, tensor) of the trace, the fixes applied."""
    keras, port = _by_seed(runs, KERAS), _by_seed(runs, PORT)
    fixed = _by_seed(runs, FIXED)
    keras, port, fixed = (x[np.isfinite(x)] for x in (keras, port, fixed))
    gap = stats.welch_log_ratio(np.exp(port.to_numpy()), np.exp(keras.to_numpy()), level)
    tost = stats.tost_verdict(fixed.to_numpy(), keras.to_numpy(), margin, alpha)
    return pd.DataFrame([{
        "port": name, "metric": runs["metric"].iloc[0], "gap_ratio": gap["ratio"], "gap_ci_low": gap["ci_low"],
        "gap_ci_high": gap["ci_high"], "fixed_ratio": float(np.exp(tost["log_ratio"])),
        "fixed_ci_low": float(np.exp(tost["log_ratio_ci_low"])), "fixed_ci_high": float(np.exp(tost["log_ratio_ci_high"])), "fixed_tost_p": tost["tost_p"], "fixed_equivalent": tost["equivalent"],
        "fixed_power": tost["power"], "fixed_seeds_for_90_percent_power": tost["seeds_for_90_percent_power"],
        "margin": margin, "alpha": alpha, "ci_level": level, "first_step": trace.get("first_step"),
        "first_epoch": trace.get("first_epoch"), "first_tensor": trace.get("first_tensor"),
        "first_kind": trace.get("first_kind"), "forward_equal": trace.get("forward_equal"),
        "traced_first_step": trace.get("traced_first_step"), "traced_first_tensor": trace.get("traced_first_tensor"),
        "traced_first_kind": trace.get("traced_first_kind"), "control": trace.get("control"),
        "unexplained_step": trace.get("unexplained_step"), "unexplained_tensor": trace.get("unexplained_tensor"),
        "fixes": ", ".join(f["probe"] for f in findings if f["auto_fix"])}], columns=VERDICT_COLUMNS)


def trace_table(steps: pd.DataFrame, trace: dict, context: int = 2) -> pd.DataFrame:
    """The traced rows a reader looks at: step 0 and the first ``context`` steps, and the whole step where the
    port first leaves Keras."""
    first = trace.get("first_step")
    keep = steps["step"] <= context
    if first is not None and not pd.isna(first):
        keep |= steps["step"] == int(first)
    return steps[keep].reset_index(drop=True)
