"""Interval estimates over seeds, comparisons, the declared hypotheses, attribution.

Design, and why:

- Seeds of different frameworks are independent draws (seed 3 in PyTorch has
  nothing to do with seed 3 in Keras): those comparisons are unpaired
  (Welch's t on log MSE). Within one framework, a variant and its baseline at
  the same seed share their random draws (the batch order, and the initial
  weights where the init switch is equal): those contrasts are paired, by
  seed (``attribution``).
- Intervals are t-intervals (``scipy.stats.t``): their coverage is exact for
  normal data at any n and within a point of nominal for lognormal data with
  the spread seen here, at n = 5, 10 and 30 (``tests/test_stats.py``
  simulates it). The percentile/BCa bootstrap of a mean undercovers at these
  n (about 91 % at n = 10 and 84 % at n = 5 for a nominal 95 %). Each row
  names its method (``ci_method``).
- Verdicts come only from the hypotheses the config declares before the run
  (``hypotheses``), one test each, Holm-corrected over that family, with
  their power; every other p-value is exploratory and labelled so.
- The share of the gap a switch explains is a ratio of two differences; its
  interval is a bootstrap that resamples the seeds of a framework jointly
  (paired) and the reference's seeds on their own, so that a switch that
  changes nothing has an interval of zero width.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

from gapstudy.registry import family
from gapstudy.variants import default

SUMMARY_METRICS = ("val_mse", "val_pearson_r", "val_r2", "val_mae")
GROUP = ["framework", "variant", "device"]
T_MEAN = "t-interval of the mean"
T_LOG_RATIO = "Welch t-interval on log MSE (ratio of geometric means)"
T_PAIRED = "paired t-interval over seeds"
BOOT_PAIRED = "bootstrap (percentile), seeds of the framework resampled jointly, the reference's apart"


def mean_ci(values, level: float) -> tuple[float, float]:
    """t-interval of the mean of ``values`` (shape (n,)); NaN below two values, a point for constant ones."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    mean, sem = float(np.mean(values)), float(stats.sem(values))
    if sem == 0:
        return mean, mean
    low, high = stats.t.interval(level, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def welch_log_ratio(a, b, level: float) -> dict:
    """Ratio of geometric means of ``a`` over ``b`` (shapes (n,), (m,)) with a Welch t-interval on the log scale."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    la, lb = np.log(np.asarray(a, dtype=float)), np.log(np.asarray(b, dtype=float))
    out = {"ratio": float(np.exp(la.mean() - lb.mean())) if len(la) and len(lb) else float("nan"),
           "ci_low": float("nan"), "ci_high": float("nan")}
    if len(la) >= 2 and len(lb) >= 2:
        if la.std() == 0 and lb.std() == 0:
            out["ci_low"] = out["ci_high"] = out["ratio"]
        else:
            low, high = CompareMeans(DescrStatsW(la), DescrStatsW(lb)).tconfint_diff(
                alpha=1 - level, usevar="unequal")
            out["ci_low"], out["ci_high"] = float(np.exp(low)), float(np.exp(high))
    return out


def summarise(runs: pd.DataFrame, level: float) -> pd.DataFrame:
    """Mean, median and t-interval of the mean over seeds, per framework × variant × device.

    ``val_mse_gmean`` (the geometric mean) and its interval are what the
    comparisons and tests use: log MSE is close to normal over seeds.
    """
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
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean_ci(values, level)
        logs = np.log(finite["val_mse"].to_numpy(dtype=float))
        row["val_mse_gmean"] = float(np.exp(logs.mean())) if len(logs) else float("nan")
        row["val_mse_gmean_ci_low"], row["val_mse_gmean_ci_high"] = np.exp(mean_ci(logs, level))
        row["log_val_mse_sd"] = float(np.std(logs, ddof=1)) if len(logs) >= 2 else float("nan")
        row["ci_level"] = level
        row["ci_method"] = T_MEAN + " (geometric mean: of log MSE)"
        rows.append(row)
    return pd.DataFrame(rows)


def _group(runs: pd.DataFrame, framework: str, variant: str, device: str) -> pd.DataFrame:
    return runs[(runs["framework"] == framework) & (runs["variant"] == variant)
                & (runs["device"] == device) & ~runs["diverged"]]


def _log_mse(runs: pd.DataFrame, framework: str, variant: str, device: str) -> np.ndarray:
    return np.log(_group(runs, framework, variant, device)["val_mse"].to_numpy(dtype=float))


def compare(runs: pd.DataFrame, reference: dict, level: float) -> pd.DataFrame:
    """Every framework × variant against the reference on the same device (exploratory).

    ``mse_ratio`` is the ratio of geometric-mean MSEs with its Welch
    t-interval on log MSE (the user's "percent error difference" is
    ``100 * (mse_ratio - 1)``); ``welch_p`` tests the same log MSEs and
    ``mannwhitney_p`` is a rank check of it; ``p_improvement`` is
    P(MSE of a random run < MSE of a random reference run), the Mann-Whitney
    U over n·m. None of these p-values is corrected: they are exploratory,
    and the verdicts come from ``hypotheses``.
    """
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        framework, variant, device = key
        if (framework, variant) == (reference["framework"], reference["variant"]):
            continue
        ref = _group(runs, reference["framework"], reference["variant"], device)
        a = _group(runs, framework, variant, device)["val_mse"].to_numpy(dtype=float)
        b = ref["val_mse"].to_numpy(dtype=float)
        row = dict(zip(GROUP, key))
        row["reference"] = f"{reference['framework']}/{reference['variant']}"
        row["n"], row["n_reference"] = len(a), len(b)
        ratio = welch_log_ratio(a, b, level)
        row["mse_ratio"], row["mse_ratio_ci_low"], row["mse_ratio_ci_high"] = (
            ratio["ratio"], ratio["ci_low"], ratio["ci_high"])
        for col in ("", "_ci_low", "_ci_high"):
            row[f"mse_percent_difference{col}"] = 100 * (row[f"mse_ratio{col}"] - 1)
        row["ci_level"], row["ci_method"] = level, T_LOG_RATIO
        row["r_mean"] = float(group["val_pearson_r"].mean())
        row["r_mean_reference"] = float(ref["val_pearson_r"].mean())
        if len(a) >= 2 and len(b) >= 2:
            row["welch_t_log_mse"], row["welch_p"] = stats.ttest_ind(np.log(a), np.log(b), equal_var=False)
            u, row["mannwhitney_p"] = stats.mannwhitneyu(a, b, alternative="two-sided")
            # U counts pairs with a > b (ties half), so P(a < b) (ties half) is 1 - U / (n m).
            row["p_improvement"] = float(1 - u / (len(a) * len(b)))
            row["p_improvement_ci_low"], row["p_improvement_ci_high"] = p_improvement_ci(a, b, level)
        else:
            row["welch_t_log_mse"] = row["welch_p"] = row["mannwhitney_p"] = float("nan")
            row["p_improvement"] = row["p_improvement_ci_low"] = row["p_improvement_ci_high"] = float("nan")
        row["p_improvement_ci_method"] = P_IMPROVEMENT_METHOD
        row["p_values"] = "exploratory (uncorrected)"
        rows.append(row)
    return pd.DataFrame(rows)


P_IMPROVEMENT_METHOD = "Brunner-Munzel (statsmodels rank_compare_2indep); none where every run lies on one side"


def p_improvement_ci(a, b, level: float) -> tuple[float, float]:
    """Interval of P(a < b) + ½ P(a = b), the probability that a run of ``a`` beats one of ``b``.

    NaN where the samples do not overlap at all: the Brunner-Munzel variance
    is then zero, and a zero-width interval would claim a certainty that ten
    seeds cannot give.
    """
    import warnings

    from statsmodels.stats.nonparametric import rank_compare_2indep

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = rank_compare_2indep(np.asarray(b, dtype=float), np.asarray(a, dtype=float)).conf_int(
            alpha=1 - level)
    if not (np.isfinite(low) and np.isfinite(high)):
        return float("nan"), float("nan")
    return float(max(low, 0.0)), float(min(high, 1.0))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries stay NaN and do not count."""
    pvalues = np.asarray(pvalues, dtype=float)
    adjusted = np.full(len(pvalues), np.nan)
    finite = np.isfinite(pvalues)
    if finite.any():
        adjusted[finite] = multipletests(pvalues[finite], method="holm")[1]
    return adjusted


def tost(a, b, margin: float, alpha: float) -> dict:
    """Two one-sided Welch tests that log mean ``a`` − log mean ``b`` lies within ±log(margin).

    ``a``, ``b``: log MSEs, shapes (n,), (m,). The (1 − 2α) interval of the
    difference is the one that lies inside the margin exactly when TOST rejects.
    """
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

    bound = float(np.log(margin))
    if len(a) < 2 or len(b) < 2:
        return {"log_ratio": np.nan, "log_ratio_ci_low": np.nan, "log_ratio_ci_high": np.nan, "tost_p": np.nan}
    p, _, _ = ttost_ind(a, b, -bound, bound, usevar="unequal")
    low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(alpha=2 * alpha, usevar="unequal")
    return {"log_ratio": float(np.mean(a) - np.mean(b)), "log_ratio_ci_low": float(low),
            "log_ratio_ci_high": float(high), "tost_p": float(p)}


def tost_power(sd: float, n: int, n_reference: int, margin: float, alpha: float, true_log_ratio: float = 0.0) -> float:
    """Power of TOST at the margin, for a common spread ``sd`` of log MSE and a true log ratio.

    From statsmodels' one-sided t-test power against each bound:
    P(reject both) ≥ P(reject lower) + P(reject upper) − 1 (the usual
    bound, tight where the power matters); ``tests/test_stats.py`` checks it
    against a simulation of ``tost``.
    """
    if not (sd > 0 and n >= 2 and n_reference >= 2):
        return float("nan")
    bound = float(np.log(margin))
    analysis = TTestIndPower()
    ratio = n_reference / n
    lower = analysis.power((bound + true_log_ratio) / sd, n, alpha, ratio=ratio, alternative="larger")
    upper = analysis.power((bound - true_log_ratio) / sd, n, alpha, ratio=ratio, alternative="larger")
    return float(max(0.0, lower + upper - 1))


def fewest_seeds(power_at, target: float = 0.9, largest: int = 1000) -> int | None:
    """The fewest seeds per group n (from 2) with ``power_at(n) >= target``; None past ``largest``."""
    return next((n for n in range(2, largest + 1) if power_at(n) >= target), None)


def seeds_for_power(sd: float, margin: float, alpha: float, target: float = 0.9, true_log_ratio: float = 0.0,
                    largest: int = 1000) -> int | None:
    """The fewest seeds per group (equal groups) at which TOST reaches ``target`` power; None past ``largest``."""
    return fewest_seeds(lambda n: tost_power(sd, n, n, margin, alpha, true_log_ratio), target, largest)


def tost_verdict(a, b, margin: float, alpha: float) -> dict:
    """``tost`` of log MSEs ``a`` against ``b``, its verdict, its power at their pooled spread and a true
    ratio of 1, and the seeds per group that 90 % power needs."""
    sd = pooled_sd(a, b)
    result = tost(a, b, margin, alpha)
    return result | {"equivalent": bool(result["tost_p"] < alpha) if np.isfinite(result["tost_p"]) else False,
                     "power": tost_power(sd, len(a), len(b), margin, alpha),
                     "seeds_for_90_percent_power": seeds_for_power(sd, margin, alpha)}


def superiority_power(sd: float, n: int, n_reference: int, log_ratio: float, alpha: float) -> float:
    """Power of the one-sided Welch test that log MSE exceeds the reference's, at a true ``log_ratio``."""
    if not (sd > 0 and n >= 2 and n_reference >= 2):
        return float("nan")
    return float(TTestIndPower().power(log_ratio / sd, n, alpha, ratio=n_reference / n, alternative="larger"))


def equivalence(runs: pd.DataFrame, reference: dict, margin: float, alpha: float) -> pd.DataFrame:
    """TOST of each variant's log MSE against the reference's (exploratory; the verdicts: ``hypotheses``).

    Equivalent means: the difference of mean log MSE lies within ±log(margin),
    i.e. the geometric-mean MSE ratio within [1/margin, margin], with both
    one-sided tests rejecting at ``alpha``. Power is at the rows' pooled
    spread and a true ratio of 1.
    """
    rows = []
    for (framework, variant, device), _ in runs.groupby(GROUP, sort=True):
        if (framework, variant) == (reference["framework"], reference["variant"]):
            continue
        a = _log_mse(runs, framework, variant, device)
        b = _log_mse(runs, reference["framework"], reference["variant"], device)
        row = {"framework": framework, "variant": variant, "device": device,
               "margin": margin, "alpha": alpha, "n": len(a), "n_reference": len(b)}
        verdict = tost_verdict(a, b, margin, alpha)
        row |= {k: verdict[k] for k in ("log_ratio", "log_ratio_ci_low", "log_ratio_ci_high", "tost_p")}
        row |= {"mse_ratio": float(np.exp(row["log_ratio"])), "mse_ratio_ci_low": float(np.exp(row["log_ratio_ci_low"])),
                "mse_ratio_ci_high": float(np.exp(row["log_ratio_ci_high"]))}
        row |= {k: verdict[k] for k in ("equivalent", "power", "seeds_for_90_percent_power")}
        row["ci_level"], row["ci_method"] = 1 - 2 * alpha, "Welch t-interval on log MSE, at 1 − 2α"
        row["p_values"] = "exploratory (uncorrected)"
        rows.append(row)
    return pd.DataFrame(rows)


def pooled_sd(a, b) -> float:
    """The pooled standard deviation of two samples (NaN below two values each)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return float(np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)))


ACROSS_COLUMNS = ["variant", "device", "framework", "against", "n", "n_against", "mse_ratio", "ci_low", "ci_high",
                  "ci_level", "ci_method", "welch_p", "tost_p", "equivalent", "power", "p_values"]


def across_frameworks(runs: pd.DataFrame, level: float, margin: float, alpha: float,
                      base: str = "torch", against: str = "keras") -> pd.DataFrame:
    """The same variant in two frameworks (e.g. torch/relu against keras/relu), exploratory.

    Ratio of geometric-mean MSEs with its Welch t-interval, Welch's t, TOST
    at the margin and its power. Seeds of two frameworks share nothing: unpaired.
    """
    rows = []
    for (variant, device), group in runs.groupby(["variant", "device"], sort=True):
        if not {base, against} <= set(group["framework"]):
            continue
        a, b = (_group(runs, f, variant, device)["val_mse"].to_numpy(dtype=float) for f in (base, against))
        ratio = welch_log_ratio(a, b, level)
        verdict = tost_verdict(np.log(a), np.log(b), margin, alpha)
        p = stats.ttest_ind(np.log(a), np.log(b), equal_var=False).pvalue if len(a) >= 2 and len(b) >= 2 else np.nan
        rows.append({"variant": variant, "device": device, "framework": base, "against": against, "n": len(a),
                     "n_against": len(b), "mse_ratio": ratio["ratio"], "ci_low": ratio["ci_low"],
                     "ci_high": ratio["ci_high"], "ci_level": level, "ci_method": T_LOG_RATIO, "welch_p": float(p),
                     "tost_p": verdict["tost_p"], "equivalent": verdict["equivalent"], "power": verdict["power"],
                     "p_values": "exploratory (uncorrected)"})
    return pd.DataFrame(rows, columns=ACROSS_COLUMNS)


HYPOTHESIS_COLUMNS = ["hypothesis", "claim", "framework", "variant", "reference", "device", "n", "n_reference",
                      "mse_ratio", "ci_low", "ci_high", "ci_level", "test", "p", "p_holm", "alpha", "supported",
                      "power", "seeds_for_90_percent_power", "log_mse_sd"]


def hypotheses(runs: pd.DataFrame, declared: dict, reference: dict, margin: float, alpha: float) -> pd.DataFrame:
    """The primary hypotheses declared in the config, one test each, Holm-corrected as one family.

    ``declared`` maps a name to ``{claim: worse|equivalent, framework, variant}``,
    each against the reference on every device that ran both. ``worse``: the
    one-sided Welch t on log MSE (the geometric-mean MSE is higher); its power
    is at the observed ratio. ``equivalent``: TOST at the margin; its power is
    at a true ratio of 1. Both at the observed pooled spread of log MSE.
    """
    rows = []
    ref_label = f"{reference['framework']}/{reference['variant']}"
    # The gap first, then the equivalences, each by name (the params are sorted, so config order is lost).
    for name, spec in sorted(declared.items(), key=lambda item: (item[1]["claim"] != "worse", item[0])):
        devices = sorted(set(runs.loc[(runs["framework"] == spec["framework"])
                                      & (runs["variant"] == spec["variant"]), "device"]))
        for device in devices:
            a = _log_mse(runs, spec["framework"], spec["variant"], device)
            b = _log_mse(runs, reference["framework"], reference["variant"], device)
            if len(b) == 0:
                continue
            sd = pooled_sd(a, b)
            row = {"hypothesis": name, "claim": spec["claim"], "framework": spec["framework"],
                   "variant": spec["variant"], "reference": ref_label, "device": device,
                   "n": len(a), "n_reference": len(b), "alpha": alpha, "log_mse_sd": sd,
                   "ci_level": 1 - 2 * alpha}
            if spec["claim"] == "equivalent":
                result = tost_verdict(a, b, margin, alpha)
                row |= {"test": f"TOST (two one-sided Welch t on log MSE), margin ×/÷{margin:g}",
                        "p": result["tost_p"], "power": result["power"],
                        "seeds_for_90_percent_power": result["seeds_for_90_percent_power"]}
                low, high, diff = result["log_ratio_ci_low"], result["log_ratio_ci_high"], result["log_ratio"]
            else:
                ratio = welch_log_ratio(np.exp(a), np.exp(b), 1 - 2 * alpha)
                p = (stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
                     if len(a) >= 2 and len(b) >= 2 else np.nan)
                diff = float(np.mean(a) - np.mean(b)) if len(a) else np.nan
                n_needed = fewest_seeds(lambda n: superiority_power(sd, n, n, diff, alpha)) if diff > 0 else None
                row |= {"test": "one-sided Welch t on log MSE (higher than the reference)", "p": float(p),
                        "power": superiority_power(sd, len(a), len(b), diff, alpha),
                        "seeds_for_90_percent_power": n_needed}
                low, high = np.log(ratio["ci_low"]), np.log(ratio["ci_high"])
            row |= {"mse_ratio": float(np.exp(diff)), "ci_low": float(np.exp(low)), "ci_high": float(np.exp(high))}
            rows.append(row)
    table = pd.DataFrame(rows, columns=HYPOTHESIS_COLUMNS)
    if table.empty:
        return table
    table["p_holm"] = holm(table["p"].to_numpy(dtype=float))
    table["supported"] = table["p_holm"] < alpha
    return table[HYPOTHESIS_COLUMNS]


def draws_table(runs_by_draw: dict, declared: dict, reference: dict, margin: float, alpha: float,
                study_draw: int) -> pd.DataFrame:
    """The declared hypotheses tested again on each dataset draw (each draw its own Holm family).

    ``runs_by_draw`` maps a draw to its runs table. ``holds_on_every_draw``:
    the hypothesis has the same verdict, supported, on every draw.
    """
    parts = []
    for draw in sorted(runs_by_draw, key=lambda d: (d != study_draw, d)):
        table = hypotheses(runs_by_draw[draw], declared, reference, margin, alpha)
        parts.append(table.assign(draw=draw, study_draw=draw == study_draw))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HYPOTHESIS_COLUMNS)
    if not table.empty:
        table["holds_on_every_draw"] = table.groupby(["hypothesis", "device"])["supported"].transform("all")
    return table[["draw", "study_draw"] + HYPOTHESIS_COLUMNS + ["holds_on_every_draw"]] if not table.empty else table


def _share(posted, reference, variant, baseline, revert: bool):
    """Share of the posted gap (on mean log MSE) that a switch closes or, reverted, reopens.

    Arrays with seeds on the last axis; leading axes are resamples.
    """
    change = np.mean(variant, axis=-1) - np.mean(baseline, axis=-1)
    gap = np.mean(posted, axis=-1) - np.mean(reference, axis=-1)
    return (change if revert else -change) / gap


def paired_share_ci(posted, reference, variant, baseline, revert: bool, level: float, resamples: int,
                    seed: int, paired: bool = True) -> tuple[float, float]:
    """Bootstrap interval of the share of the gap; ``posted``, ``variant``, ``baseline`` are aligned by seed.

    Paired: one draw of seeds serves the three runs of the framework that
    share them (so their common random draws cancel); the reference's seeds
    (another framework's) are drawn on their own. ``paired=False`` draws the
    three apart, as if they shared nothing (for comparison only).
    """
    posted, variant, baseline = (np.asarray(x, dtype=float) for x in (posted, variant, baseline))
    reference = np.asarray(reference, dtype=float)
    n, m = len(posted), len(reference)
    if n < 2 or m < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)

    def draw(x):
        return x[rng.integers(0, len(x), (resamples, len(x)))]

    ref = draw(reference)
    if paired:
        idx = rng.integers(0, n, (resamples, n))
        shares = _share(posted[idx], ref, variant[idx], baseline[idx], revert)
    else:
        shares = _share(draw(posted), ref, draw(variant), draw(baseline), revert)
    shares = shares[np.isfinite(shares)]
    if not len(shares):
        return float("nan"), float("nan")
    low, high = np.quantile(shares, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


ATTRIBUTION_COLUMNS = ["framework", "variant", "device", "baseline", "direction", "gap", "switches", "n_switches",
                       "n_pairs", "log_mse_change", "change_ci_low", "change_ci_high", "change_ci_method",
                       "largest_seed_difference", "share_of_gap", "share_ci_low", "share_ci_high",
                       "share_ci_method", "ci_level"]
PAIRED_COLUMNS = ["framework", "variant", "baseline", "device", "seed", "log_mse_variant", "log_mse_baseline",
                  "difference"]


def _by_seed(runs: pd.DataFrame, framework: str, variant: str, device: str) -> pd.Series:
    group = _group(runs, framework, variant, device)
    return pd.Series(np.log(group["val_mse"].to_numpy(dtype=float)), index=group["seed"].to_numpy())


def attribution(runs: pd.DataFrame, variants: dict, reference: dict, level: float,
                resamples: int, seed: int, posted: str = "as_posted",
                training: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For each variant with a baseline: which switches differ, their paired effect, their share of the gap.

    The change is the mean over seeds of (log MSE of the variant − log MSE of
    its baseline) at the same seed, with a paired t-interval; the per-seed
    differences are the second table. The gap is mean log MSE of
    ``<framework>/as_posted`` minus that of the reference; a variant whose
    baseline is the posted code *applies* its switches (share = gap closed),
    one whose baseline is another variant *reverts* them (share = gap
    reopened); the share's interval resamples seeds jointly within the
    framework (``paired_share_ci``). Where the framework runs the
    reference's code (Keras-side switches, on any Keras or backend) there is
    no gap to share, only the change: the gap is between the user's two codes. A variant of ``question: nonlinear`` shares the gap
    of its baseline instead: ``<framework>/<baseline>`` against the
    reference framework's ``<baseline>`` (e.g. torch/relu against keras/relu),
    so that aligning switches in a non-linear model says how much of the
    difference between the frameworks they explain.
    """
    def shown(name, switches, framework):
        value = switches.get(name, default(name, framework))
        return (training or {}).get(name, "config") if value is None else value

    rows, pairs = [], []
    for (framework, variant, device), _ in runs.groupby(GROUP, sort=True):
        spec = variants.get(variant, {})
        baseline = spec.get("baseline")
        if baseline is None:
            continue
        mine, theirs = spec.get("switches") or {}, variants[baseline].get("switches") or {}
        changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        nonlinear = spec.get("question") == "nonlinear"
        revert = baseline != posted and not nonlinear
        root = baseline if nonlinear else posted
        ref_variant = baseline if nonlinear else reference["variant"]
        row = {"framework": framework, "variant": variant, "device": device, "baseline": baseline,
               "direction": "revert" if revert else "apply",
               "switches": "; ".join(f"{k}: {shown(k, theirs, framework)} → {shown(k, mine, framework)}"
                                     for k in changed),
               "n_switches": len(changed), "ci_level": level, "change_ci_method": T_PAIRED,
               "share_ci_method": BOOT_PAIRED}
        v, b, p = (_by_seed(runs, framework, name, device) for name in (variant, baseline, root))
        seeds = sorted(set(v.index) & set(b.index) & set(p.index))
        diff = v[seeds].to_numpy() - b[seeds].to_numpy()
        row["n_pairs"] = len(seeds)
        row["log_mse_change"] = float(diff.mean()) if len(seeds) else np.nan
        row["change_ci_low"], row["change_ci_high"] = mean_ci(diff, level)
        row["largest_seed_difference"] = float(np.abs(diff).max()) if len(seeds) else np.nan
        pairs.extend({"framework": framework, "variant": variant, "baseline": baseline, "device": device,
                      "seed": int(s), "log_mse_variant": float(v[s]), "log_mse_baseline": float(b[s]),
                      "difference": float(d)} for s, d in zip(seeds, diff))
        ref = _log_mse(runs, reference["framework"], ref_variant, device)
        has_gap = (family(framework) != family(reference["framework"])
                   and (framework, root) != (reference["framework"], ref_variant))
        row["gap"] = f"{framework}/{root} against {reference['framework']}/{ref_variant}"
        row |= {"share_of_gap": np.nan, "share_ci_low": np.nan, "share_ci_high": np.nan}
        if has_gap and len(seeds) >= 2 and len(ref) >= 2:
            aligned = [x[seeds].to_numpy() for x in (p, v, b)]
            row["share_of_gap"] = float(_share(aligned[0], ref, aligned[1], aligned[2], revert))
            row["share_ci_low"], row["share_ci_high"] = paired_share_ci(
                aligned[0], ref, aligned[1], aligned[2], revert, level, resamples, seed)
        rows.append(row)
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS), pd.DataFrame(pairs, columns=PAIRED_COLUMNS)


def paired_tost_power(sd: float, n: int, margin: float, alpha: float, true_log_ratio: float = 0.0) -> float:
    """Power of the paired TOST (one-sample t on per-seed differences) at the margin; as ``tost_power``."""
    if not (sd > 0 and n >= 2):
        return float("nan") if not n >= 2 else 1.0
    bound = float(np.log(margin))
    analysis = TTestPower()
    lower = analysis.power((bound + true_log_ratio) / sd, n, alpha, alternative="larger")
    upper = analysis.power((bound - true_log_ratio) / sd, n, alpha, alternative="larger")
    return float(max(0.0, lower + upper - 1))


CRN_COLUMNS = ["pair", "a", "b", "n_pairs", "mse_ratio", "ci_low", "ci_high", "ci_level", "ci_method",
               "equivalence_ci_low", "equivalence_ci_high", "margin", "alpha", "tost_p", "equivalent",
               "sd_of_differences", "largest_seed_difference", "power", "seeds_for_90_percent_power"]


def crn_pair(pair: str, a_label: str, b_label: str, a: pd.DataFrame, b: pd.DataFrame, level: float,
             margin: float, alpha: float) -> dict:
    """Two sides trained from common random numbers (``gapstudy.studies.seed.crn``): paired by seed.

    ``a``, ``b``: one row per seed with ``seed`` and ``val_mse``. The ratio of
    geometric-mean MSEs with a paired t-interval of the per-seed log
    differences, the paired TOST at the margin (statsmodels' ttost_paired),
    its power at the observed spread of the differences and a true ratio of
    1, and the seeds 90 % power needs.
    """
    from statsmodels.stats.weightstats import ttost_paired

    both = a.merge(b, on="seed", suffixes=("_a", "_b"))
    d = np.log(both["val_mse_a"].to_numpy(dtype=float)) - np.log(both["val_mse_b"].to_numpy(dtype=float))
    n, bound = len(d), float(np.log(margin))
    sd = float(np.std(d, ddof=1)) if n >= 2 else float("nan")
    row = {"pair": pair, "a": a_label, "b": b_label, "n_pairs": n, "ci_level": level, "ci_method": T_PAIRED,
           "margin": margin, "alpha": alpha, "sd_of_differences": sd,
           "largest_seed_difference": float(np.abs(d).max()) if n else float("nan")}
    low, high = mean_ci(d, level)
    eq_low, eq_high = mean_ci(d, 1 - 2 * alpha)
    row |= {"mse_ratio": float(np.exp(d.mean())) if n else float("nan"), "ci_low": float(np.exp(low)),
            "ci_high": float(np.exp(high)), "equivalence_ci_low": float(np.exp(eq_low)),
            "equivalence_ci_high": float(np.exp(eq_high))}
    if n >= 2 and sd > 0:
        p = float(ttost_paired(np.log(both["val_mse_a"]), np.log(both["val_mse_b"]), -bound, bound)[0])
    elif n >= 2:  # every seed the same difference: inside the margin or not, for certain
        p = 0.0 if abs(d[0]) < bound else 1.0
    else:
        p = float("nan")
    row["tost_p"], row["equivalent"] = p, bool(p < alpha)
    row["power"] = paired_tost_power(sd, n, margin, alpha)
    row["seeds_for_90_percent_power"] = fewest_seeds(lambda k: paired_tost_power(sd, k, margin, alpha)) if sd > 0 else 2
    return row


# Two variants whose every seed's log MSE agrees within this are one result, shown once.
IDENTICAL_LOG_MSE = 1e-4
IDENTICAL_COLUMNS = ["framework", "device", "variant", "same_as", "n_seeds", "largest_seed_difference"]


def identical_results(runs: pd.DataFrame, tolerance: float = IDENTICAL_LOG_MSE) -> pd.DataFrame:
    """Variants of one framework whose runs give numerically the same result at every seed.

    Each such variant is listed with the first variant (by name) of its group,
    ``same_as``, and the largest per-seed difference of log MSE within the group.
    """
    rows = []
    for (framework, device), group in runs[~runs["diverged"]].groupby(["framework", "device"], sort=True):
        logs = group.assign(log_mse=np.log(group["val_mse"])).pivot(index="seed", columns="variant",
                                                                      values="log_mse")
        names = sorted(logs.columns)
        leader = {}
        for i, a in enumerate(names):
            if a in leader:
                continue
            for b in names[i + 1:]:
                if b in leader:
                    continue
                both = logs[[a, b]].dropna()
                if len(both) >= 2 and (both[a] - both[b]).abs().max() <= tolerance:
                    leader[b] = a
        for b, a in leader.items():
            both = logs[[a, b]].dropna()
            rows.append({"framework": framework, "device": device, "variant": b, "same_as": a,
                         "n_seeds": len(both), "largest_seed_difference": float((both[a] - both[b]).abs().max())})
    return pd.DataFrame(rows, columns=IDENTICAL_COLUMNS)


def tables(runs: pd.DataFrame, reference: dict, statistics: dict, variants: dict,
           training: dict, declared: dict | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the statistics rule, from the runs table and the config's slices it reads.

    ``statistics`` is the config's ``statistics`` section; ``variants`` maps
    each variant to its ``baseline`` and ``switches``; ``declared`` is the
    config's ``hypotheses``.
    """
    level = statistics["confidence_level"]
    margin, alpha = statistics["equivalence_margin"], statistics["equivalence_alpha"]
    attributed, paired = attribution(runs, variants, reference, level, statistics["bootstrap_resamples"],
                                     statistics["bootstrap_seed"], training=training)
    return {
        "hypotheses": hypotheses(runs, declared or {}, reference, margin, alpha),
        "summary": summarise(runs, level),
        "comparison": compare(runs, reference, level),
        "equivalence": equivalence(runs, reference, margin=margin, alpha=alpha),
        "attribution": attributed,
        "paired_differences": paired,
        "identical": identical_results(runs),
        "across_frameworks": across_frameworks(runs, level, margin, alpha),
    }
