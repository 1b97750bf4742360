"""The catalogue's statistics: each pitfall's effect, its share of the port's gap, the fixed port's TOST.

Design, as in the seed study (``gapstudy.statistics.stats``), and why:

- The Keras arm and the PyTorch arms draw independent random numbers:
  their comparisons (the port's gap, the fixed port's equivalence) are
  unpaired, Welch on log metric.
- Within a case, every PyTorch arm at seed ``s`` draws its initial weights
  and batch orders from ``s``: the effect of a pitfall (the fixed port with
  that one pitfall against the fixed port) is paired by seed, a paired
  t-interval on the log ratio (coverage checked in ``tests/test_stats.py``
  for the seed study's t-intervals at these n).
- The share of the gap is the pitfall's paired change over the port's gap
  (log port − log Keras), with the seed study's bootstrap that resamples the
  PyTorch seeds jointly and Keras' apart (``stats.paired_share_ci``). Shares
  need not add up to 1: pitfalls interact.
- Two families of hypotheses are declared by the registry before any run:
  every pitfall changes its case's metric (paired t-test, two-sided), and
  every case's fixed port is equivalent to its Keras reference (TOST at the
  config's margin, with its power at the observed spread). Each family is
  Holm-corrected on its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from gapstudy.statistics import stats
from gapstudy.studies.catalogue.cases import CASES, FAMILIES, FIXED, KERAS, PORT
from gapstudy.studies.catalogue.stories import STORIES

T_PAIRED = stats.T_PAIRED
ARM_COLUMNS = ["case", "arm", "metric", "n", "geometric_mean", "ci_low", "ci_high", "mean_accuracy", "ci_level"]
PITFALL_COLUMNS = [
    "rank", "pitfall", "case", "family", "title", "symptom", "fix", "source", "metric", "n_pairs",
    "effect_ratio", "effect_ci_low", "effect_ci_high", "effect_p", "effect_p_holm", "effect_measured",
    "accuracy_change", "gap_ratio", "gap_ci_low", "gap_ci_high", "share_of_gap", "share_ci_low", "share_ci_high",
    "fixed_ratio", "fixed_equivalence_ci_low", "fixed_equivalence_ci_high", "fixed_tost_p", "fixed_tost_p_holm",
    "fixed_equivalent", "fixed_power", "fixed_seeds_for_90_percent_power", "margin", "alpha", "ci_level",
    "diverged_seeds", "first_step", "first_epoch", "first_tensor", "first_kind", "first_relative_difference",
    "forward_equal", "control_first_step", "control_first_tensor",
]


def _by_seed(runs: pd.DataFrame, case: str, arm: str, column: str) -> pd.Series:
    rows = runs[(runs["case"] == case) & (runs["arm"] == arm)]
    return pd.Series(rows[column].to_numpy(dtype=float), index=rows["seed"].to_numpy())


def paired_p(diff) -> float:
    """Two-sided paired t-test that the mean per-seed log ratio ``diff`` (shape (n,)) is 0.

    Differences without spread are decided exactly: all zero, p = 1 (the
    pitfall changed no bit); all alike and not zero, p = 0.
    """
    diff = np.asarray(diff, dtype=float)
    if len(diff) < 2:
        return float("nan")
    if np.ptp(diff) == 0:
        return 1.0 if diff[0] == 0 else 0.0
    return float(sps.ttest_1samp(diff, 0.0).pvalue)


def arm_table(runs: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per case and arm: the geometric mean of the case's metric with a t-interval on the log scale."""
    rows = []
    for (case, arm), group in runs.groupby(["case", "arm"], sort=False):
        metric = CASES[case].metric
        logs = np.log(group[metric].to_numpy(dtype=float))
        low, high = stats.mean_ci(logs, level)
        rows.append({"case": case, "arm": arm, "metric": metric, "n": len(logs),
                     "geometric_mean": float(np.exp(logs.mean())), "ci_low": float(np.exp(low)),
                     "ci_high": float(np.exp(high)),
                     "mean_accuracy": float(group["val_accuracy"].mean()) if "val_accuracy" in group
                     and group["val_accuracy"].notna().any() else np.nan, "ci_level": level})
    return pd.DataFrame(rows, columns=ARM_COLUMNS)


def pitfall_table(runs: pd.DataFrame, lockstep: dict, level: float, margin: float, alpha: float,
                  resamples: int, seed: int) -> pd.DataFrame:
    """One row per pitfall of the cases in ``runs`` (``PITFALL_COLUMNS``), ranked by the size of the effect.

    ``lockstep``: ``{(case, arm): result}`` from ``lockstep.trace``.
    """
    rows, tost_rows = [], {}
    for case in dict.fromkeys(runs["case"]):
        c = CASES[case]
        metric = c.metric
        keras = np.log(_by_seed(runs, case, KERAS, metric).to_numpy())
        port, fixed = (np.log(_by_seed(runs, case, arm, metric)) for arm in (PORT, FIXED))
        gap = stats.welch_log_ratio(np.exp(port.to_numpy()), np.exp(keras), level)
        tost = stats.tost_verdict(fixed.to_numpy(), keras, margin, alpha)
        tost_rows[case] = tost
        for name in c.pitfalls:
            p = STORIES[name]
            only = np.log(_by_seed(runs, case, name, metric))
            seeds = sorted(set(only.index) & set(fixed.index) & set(port.index))
            diff = only[seeds].to_numpy() - fixed[seeds].to_numpy()
            # A diverged run (a metric that is not finite) is counted and shown, never averaged or dropped silently.
            finite = np.isfinite(diff)
            diverged = int((~finite).sum())
            seeds, diff = [s for s, f in zip(seeds, finite) if f], diff[finite]
            low, high = stats.mean_ci(diff, level)
            p_value = paired_p(diff)
            share = share_low = share_high = np.nan
            if len(seeds) >= 2 and len(keras) >= 2:
                aligned = [x[seeds].to_numpy() for x in (port, only, fixed)]
                share = float(stats._share(aligned[0], keras, aligned[1], aligned[2], True))
                share_low, share_high = stats.paired_share_ci(aligned[0], keras, aligned[1], aligned[2], True,
                                                              level, resamples, seed)
            accuracy = np.nan
            if "val_accuracy" in runs and runs["val_accuracy"].notna().any() and c.task != "regression":
                acc_only, acc_fixed = (_by_seed(runs, case, arm, "val_accuracy") for arm in (name, FIXED))
                accuracy = float(np.mean(acc_only[seeds].to_numpy() - acc_fixed[seeds].to_numpy()))
            trace = lockstep.get((case, name), {})
            control = lockstep.get((case, FIXED), {})
            rows.append({
                "pitfall": name, "case": case, "family": FAMILIES[c.family].title, "title": p.title,
                "symptom": p.symptom, "fix": p.fix, "source": p.source, "metric": metric, "n_pairs": len(seeds),
                "effect_ratio": float(np.exp(diff.mean())) if len(seeds) else np.nan,
                "effect_ci_low": float(np.exp(low)), "effect_ci_high": float(np.exp(high)), "effect_p": p_value,
                "accuracy_change": accuracy, "gap_ratio": gap["ratio"], "gap_ci_low": gap["ci_low"],
                "gap_ci_high": gap["ci_high"], "share_of_gap": share, "share_ci_low": share_low,
                "share_ci_high": share_high, "fixed_ratio": float(np.exp(tost["log_ratio"])),
                "fixed_equivalence_ci_low": float(np.exp(tost["log_ratio_ci_low"])),
                "fixed_equivalence_ci_high": float(np.exp(tost["log_ratio_ci_high"])),
                "fixed_tost_p": tost["tost_p"], "fixed_power": tost["power"],
                "fixed_seeds_for_90_percent_power": tost["seeds_for_90_percent_power"],
                "margin": margin, "alpha": alpha, "ci_level": level,
                "diverged_seeds": diverged,
                "first_step": trace.get("first_step"), "first_epoch": trace.get("first_epoch"),
                "first_tensor": trace.get("first_tensor"),
                "first_kind": trace.get("first_kind"),
                "first_relative_difference": trace.get("first_relative_difference"),
                "forward_equal": trace.get("forward_equal"),
                "control_first_step": control.get("first_step"), "control_first_tensor": control.get("first_tensor")})
    table = pd.DataFrame(rows, columns=PITFALL_COLUMNS)
    if table.empty:
        return table
    table["effect_p_holm"] = stats.holm(table["effect_p"].to_numpy())
    table["effect_measured"] = table["effect_p_holm"] < alpha
    cases = list(tost_rows)
    holm_cases = dict(zip(cases, stats.holm(np.array([tost_rows[c]["tost_p"] for c in cases]))))
    table["fixed_tost_p_holm"] = table["case"].map(holm_cases)
    table["fixed_equivalent"] = table["fixed_tost_p_holm"] < alpha
    table = table.assign(size=np.abs(np.log(table["effect_ratio"]))).sort_values(
        ["size", "pitfall"], ascending=[False, True], kind="stable").drop(columns="size")
    table["rank"] = np.arange(1, len(table) + 1)
    return table[PITFALL_COLUMNS].reset_index(drop=True)


METRIC_NAMES = {"val_mse": "MSE", "val_log_loss": "log-loss"}


def _ratio(r, low, high) -> str:
    return f"×{r:.3g} ({low:.3g} to {high:.3g})"


def front_table(table: pd.DataFrame) -> pd.DataFrame:
    """The front page's ranked table: the columns the issue names, as text a reader can cite."""
    out = []
    for _, r in table.iterrows():
        metric = METRIC_NAMES[r["metric"]]
        effect = f"{metric} {_ratio(r['effect_ratio'], r['effect_ci_low'], r['effect_ci_high'])}"
        if pd.notna(r["accuracy_change"]):
            effect += f"; accuracy {100 * r['accuracy_change']:+.1f} points"
        effect += "" if r["effect_measured"] else "; no effect measured (Holm)"
        if r["diverged_seeds"]:
            effect += f"; {int(r['diverged_seeds'])} seed(s) diverged (not in the ratio)"
        if not r["gap_ci_low"] > 1 and not r["gap_ci_high"] < 1:
            share = f"no gap to share: the port is ×{r['gap_ratio']:.3g} ({r['gap_ci_low']:.3g} to {r['gap_ci_high']:.3g}) of Keras"
        elif pd.isna(r["share_of_gap"]):
            share = "n/a"
        else:
            share = (f"{100 * r['share_of_gap']:.0f} % ({100 * r['share_ci_low']:.0f} to "
                     f"{100 * r['share_ci_high']:.0f} %) of ×{r['gap_ratio']:.3g}")
        verdict = "yes" if r["fixed_equivalent"] else "not shown"
        fixed = (f"{verdict}: ×{r['fixed_ratio']:.3g} ({r['fixed_equivalence_ci_low']:.3g} to "
                 f"{r['fixed_equivalence_ci_high']:.3g}) within ×/÷{r['margin']:g}, p = {r['fixed_tost_p_holm']:.2g}, "
                 f"power {100 * r['fixed_power']:.0f} %")
        if pd.isna(r["first_step"]):
            where = "none in the traced steps"
        elif r["first_kind"] == "validation output":
            where = f"validation after epoch {int(r['first_epoch'])} (step {int(r['first_step'])}), {r['first_tensor']}"
        else:
            where = f"step {int(r['first_step'])}, {r['first_tensor']}"
            if r["first_step"] > 0 and r["forward_equal"]:
                where += " (forward equal)"
        out.append({"rank": int(r["rank"]), "pitfall": r["title"], "model": f"{r['family']} ({r['case']})",
                    "what the user sees": r["symptom"], "effect (CI)": effect, "share of gap": share,
                    "fixed = Keras? (TOST, power)": fixed, "first divergence (step, tensor)": where,
                    "source": r["source"]})
    return pd.DataFrame(out)
