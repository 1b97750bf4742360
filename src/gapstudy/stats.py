"""Interval estimates over seeds and comparisons against the reference run.

Seeds of different frameworks are independent draws (seed 3 in PyTorch has
nothing to do with seed 3 in Keras), so every two-group statistic here is
unpaired. Bootstrap intervals come from ``scipy.stats.bootstrap`` (BCa, or
percentile where BCa is undefined), tests from scipy.stats, the family-wise
correction from statsmodels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from gapstudy.variants import default

SUMMARY_METRICS = ("val_mse", "val_pearson_r", "val_r2", "val_mae")
GROUP = ["framework", "variant", "device"]


def bootstrap_ci(samples, statistic, level: float, resamples: int, seed: int) -> tuple[float, float]:
    """Bootstrap CI of ``statistic`` over one or more independent samples.

    NaN where an interval does not exist (fewer than two values in a
    sample); a zero-width interval where every resample gives one value.
    """
    samples = [np.asarray(s, dtype=float) for s in samples]
    samples = [s[np.isfinite(s)] for s in samples]
    if any(len(s) < 2 for s in samples):
        return float("nan"), float("nan")
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(
                samples,
                statistic,
                n_resamples=resamples,
                confidence_level=level,
                method=method,
                paired=False,
                vectorized=True,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return float(low), float(high)
    point = float(statistic(*samples, axis=-1))
    return point, point


def mean_ci(values, level: float, resamples: int, seed: int) -> tuple[float, float]:
    """The interval of a mean over seeds that every table and figure of the study uses.

    ``values``: shape (n,), one value per seed. The summary table and the
    figures' bands both call this, so that they agree.
    """
    return bootstrap_ci([values], _mean, level, resamples, seed)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _median(x, axis=-1):
    return np.median(x, axis=axis)


def _ratio_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) / np.mean(b, axis=axis)


def summarise(runs: pd.DataFrame, level: float, resamples: int, seed: int) -> pd.DataFrame:
    """Mean, median and bootstrap CI of the mean over seeds, per framework × variant × device."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        finite = group[~group["diverged"]]
        row = dict(zip(GROUP, key))
        row["n_seeds"] = len(group)
        row["n_diverged"] = int(group["diverged"].sum())
        for metric in SUMMARY_METRICS:
            values = finite[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = float(np.mean(values)) if len(values) else float("nan")
            row[f"{metric}_median"] = float(np.median(values)) if len(values) else float("nan")
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean_ci(values, level, resamples, seed)
        rows.append(row)
    return pd.DataFrame(rows)


def compare(
    runs: pd.DataFrame, reference: dict, level: float, resamples: int, seed: int
) -> pd.DataFrame:
    """Every framework × variant against the reference on the same device.

    ``mse_ratio`` is mean MSE over mean reference MSE (the user's "percent
    error difference" is ``100 * (mse_ratio - 1)``); ``p_improvement`` is
    P(MSE of a random run < MSE of a random reference run), the Mann-Whitney
    U over n·m. Welch's t runs on log MSE, where seeds' MSEs are closer to
    normal. p-values are Holm-corrected across the whole table.
    """
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        framework, variant, device = key
        if (framework, variant) == (reference["framework"], reference["variant"]):
            continue
        ref = runs[
            (runs["framework"] == reference["framework"])
            & (runs["variant"] == reference["variant"])
            & (runs["device"] == device)
        ]
        a = group.loc[~group["diverged"], "val_mse"].to_numpy(dtype=float)
        b = ref.loc[~ref["diverged"], "val_mse"].to_numpy(dtype=float)
        row = dict(zip(GROUP, key))
        row["reference"] = f"{reference['framework']}/{reference['variant']}"
        row["n"], row["n_reference"] = len(a), len(b)
        row["mse_mean"] = float(np.mean(a)) if len(a) else float("nan")
        row["mse_mean_reference"] = float(np.mean(b)) if len(b) else float("nan")
        row["mse_ratio"] = row["mse_mean"] / row["mse_mean_reference"]
        row["mse_ratio_ci_low"], row["mse_ratio_ci_high"] = bootstrap_ci(
            [a, b], _ratio_of_means, level, resamples, seed
        )
        for col in ("", "_ci_low", "_ci_high"):
            row[f"mse_percent_difference{col}"] = 100 * (row[f"mse_ratio{col}"] - 1)
        row["r_mean"] = float(group["val_pearson_r"].mean())
        row["r_mean_reference"] = float(ref["val_pearson_r"].mean())
        if len(a) >= 2 and len(b) >= 2:
            row["welch_t_log_mse"], row["welch_p"] = stats.ttest_ind(
                np.log(a), np.log(b), equal_var=False
            )
            u, row["mannwhitney_p"] = stats.mannwhitneyu(a, b, alternative="two-sided")
            # U counts pairs with a > b (ties half), so P(a < b) (ties half) is 1 - U / (n m).
            row["p_improvement"] = float(1 - u / (len(a) * len(b)))
        else:
            row["welch_t_log_mse"] = row["welch_p"] = row["mannwhitney_p"] = float("nan")
            row["p_improvement"] = float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for col in ("welch_p", "mannwhitney_p"):
        table[f"{col}_holm"] = holm(table[col].to_numpy(dtype=float))
    return table


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries stay NaN and do not count."""
    adjusted = np.full(len(pvalues), np.nan)
    finite = np.isfinite(pvalues)
    if finite.any():
        adjusted[finite] = multipletests(pvalues[finite], method="holm")[1]
    return adjusted


def _log_mse(runs: pd.DataFrame, framework: str, variant: str, device: str) -> np.ndarray:
    rows = runs[(runs["framework"] == framework) & (runs["variant"] == variant)
                & (runs["device"] == device) & ~runs["diverged"]]
    return np.log(rows["val_mse"].to_numpy(dtype=float))


def equivalence(runs: pd.DataFrame, reference: dict, margin: float, alpha: float) -> pd.DataFrame:
    """Two one-sided Welch tests (TOST) of each variant's log MSE against the reference's.

    Equivalent means: the difference of mean log MSE lies within ±log(margin),
    i.e. the geometric-mean MSE ratio within [1/margin, margin], with both
    one-sided tests rejecting at ``alpha``. The (1 - 2·alpha) CI of the
    difference is the interval the report draws against the margin.
    """
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

    bound = float(np.log(margin))
    rows = []
    for (framework, variant, device), _ in runs.groupby(GROUP, sort=True):
        if (framework, variant) == (reference["framework"], reference["variant"]):
            continue
        a = _log_mse(runs, framework, variant, device)
        b = _log_mse(runs, reference["framework"], reference["variant"], device)
        row = {"framework": framework, "variant": variant, "device": device,
               "margin": margin, "alpha": alpha, "n": len(a), "n_reference": len(b)}
        if len(a) >= 2 and len(b) >= 2:
            p, _, _ = ttost_ind(a, b, -bound, bound, usevar="unequal")
            low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(
                alpha=2 * alpha, usevar="unequal")
            row |= {"log_ratio": float(a.mean() - b.mean()), "log_ratio_ci_low": float(low),
                    "log_ratio_ci_high": float(high), "tost_p": float(p),
                    "equivalent": bool(p < alpha)}
        else:
            row |= {"log_ratio": np.nan, "log_ratio_ci_low": np.nan, "log_ratio_ci_high": np.nan,
                    "tost_p": np.nan, "equivalent": False}
        rows.append(row)
    return pd.DataFrame(rows)


def _change(variant, baseline, axis=-1):
    """Difference of mean log MSE, variant minus baseline."""
    return np.mean(variant, axis=axis) - np.mean(baseline, axis=axis)


def _share(posted, reference, variant, baseline, revert: bool, axis=-1):
    """Share of the posted gap (on mean log MSE) that a switch closes or, reverted, reopens."""
    change = _change(variant, baseline, axis)
    return (change if revert else -change) / _change(posted, reference, axis)


# A config without variants that have a baseline still gets a table with a header.
ATTRIBUTION_COLUMNS = ["framework", "variant", "device", "baseline", "direction", "switches", "n_switches",
                       "log_mse_change", "change_ci_low", "change_ci_high",
                       "share_of_gap", "share_ci_low", "share_ci_high"]


def attribution(runs: pd.DataFrame, variants: dict, reference: dict, level: float,
                resamples: int, seed: int, posted: str = "as_posted",
                training: dict | None = None) -> pd.DataFrame:
    """For each variant with a baseline: which switches differ, and what share of the gap they explain.

    The gap is mean log MSE of ``<framework>/as_posted`` minus that of the
    reference. A variant whose baseline is the posted code *applies* its
    switches (share = gap closed); a variant whose baseline is another
    variant (e.g. ``aligned``) *reverts* switches (share = gap reopened).
    Seeds of the four groups are independent; the CI resamples each group.
    Where the framework's posted run is the reference itself (Keras-side
    switches) there is no gap to share: only the change in mean log MSE,
    with its CI, is given.
    """
    def shown(name, switches, framework):
        value = switches.get(name, default(name, framework))
        return (training or {}).get(name, "config") if value is None else value

    rows = []
    for (framework, variant, device), _ in runs.groupby(GROUP, sort=True):
        spec = variants.get(variant, {})
        baseline = spec.get("baseline")
        if baseline is None:
            continue
        groups = [_log_mse(runs, framework, posted, device),
                  _log_mse(runs, reference["framework"], reference["variant"], device),
                  _log_mse(runs, framework, variant, device),
                  _log_mse(runs, framework, baseline, device)]
        mine, theirs = spec.get("switches") or {}, variants[baseline].get("switches") or {}
        changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        revert = baseline != posted
        row = {"framework": framework, "variant": variant, "device": device, "baseline": baseline,
               "direction": "revert" if revert else "apply",
               "switches": "; ".join(f"{k}: {shown(k, theirs, framework)} → {shown(k, mine, framework)}"
                                     for k in changed),
               "n_switches": len(changed)}
        row |= {"log_mse_change": np.nan, "change_ci_low": np.nan, "change_ci_high": np.nan,
                "share_of_gap": np.nan, "share_ci_low": np.nan, "share_ci_high": np.nan}
        if len(groups[2]) >= 2 and len(groups[3]) >= 2:
            row["log_mse_change"] = float(_change(groups[2], groups[3]))
            row["change_ci_low"], row["change_ci_high"] = bootstrap_ci(
                groups[2:], _change, level, resamples, seed)
        has_gap = (framework, posted) != (reference["framework"], reference["variant"])
        if has_gap and all(len(g) >= 2 for g in groups):
            row["share_of_gap"] = float(_share(*groups, revert=revert))
            row["share_ci_low"], row["share_ci_high"] = bootstrap_ci(
                groups, lambda p, r, v, b, axis=-1: _share(p, r, v, b, revert, axis), level, resamples, seed)
        rows.append(row)
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)


def tables(runs: pd.DataFrame, reference: dict, statistics: dict, variants: dict,
           training: dict) -> dict[str, pd.DataFrame]:
    """Every table of the statistics rule, from the runs table and the config's slices it reads.

    ``statistics`` is the config's ``statistics`` section; ``variants`` maps
    each variant to its ``baseline`` and ``switches``.
    """
    settings = dict(level=statistics["confidence_level"], resamples=statistics["bootstrap_resamples"],
                    seed=statistics["bootstrap_seed"])
    return {
        "summary": summarise(runs, **settings),
        "comparison": compare(runs, reference, **settings),
        "equivalence": equivalence(runs, reference, margin=statistics["equivalence_margin"],
                                   alpha=statistics["equivalence_alpha"]),
        "attribution": attribution(runs, variants, reference, **settings, training=training),
    }
