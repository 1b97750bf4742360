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
- The share of the gap is a pitfall's paired change over the port's gap
  (log port − log Keras), with the seed study's bootstrap that resamples the
  PyTorch seeds jointly and Keras' apart (``stats.paired_share_ci``), two
  ways: the pitfall added to the fixed port (fixed + pitfall against fixed),
  and the pitfall removed from the port (port against the port without it,
  ``cases.removal_arm``). Where pitfalls do not interact both agree, and the
  shares by removal sum to what the added shares sum to (100 % where the
  fixed port also equals Keras); both sums are shown per case, NaN where
  any share is. Per pitfall, the interaction contrast is the
  paired difference of the two effects, log(port / port without it) −
  log(fixed with it / fixed), a paired t-test by seed. A pitfall is masked
  by the others where its effect alone is measured, its removal's is not,
  and the contrast is measured and points towards no effect; where the
  arms hold the pitfall beside each other one alone (cases of three
  pitfalls or fewer), the sentence names which other masks it by the same
  contrast. Where the removal's interval is too wide to tell, it says so.
- What the user sees (``observed``) is written from the measured direction
  and size; the source's prose stands beside it as the source's.
- Four families of hypotheses are declared by the registry before any
  run: every pitfall changes its case's metric on the fixed port (paired
  t-test, two-sided); removing every pitfall of a port changes the port's
  metric (paired t-test, two-sided); every pitfall of a port interacts with
  the others (the contrast above, two-sided); every case's fixed port is
  equivalent to its Keras reference (TOST at the config's margin, with its
  power at the observed spread). Each family is Holm-corrected on its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from gapstudy.statistics import stats
from gapstudy.studies.catalogue.cases import CASES, FAMILIES, FIXED, KERAS, PORT, arms_by_pitfalls, removal_arm
from gapstudy.studies.catalogue.stories import STORIES

T_PAIRED = stats.T_PAIRED
ARM_COLUMNS = ["case", "arm", "metric", "n", "geometric_mean", "ci_low", "ci_high", "mean_accuracy", "ci_level"]
PITFALL_COLUMNS = [
    "rank", "pitfall", "case", "family", "title", "observed", "symptom", "fix", "source", "metric", "n_pairs",
    "effect_ratio", "effect_ci_low", "effect_ci_high", "effect_p", "effect_p_holm", "effect_measured",
    "accuracy_change", "gap_ratio", "gap_ci_low", "gap_ci_high", "share_of_gap", "share_ci_low", "share_ci_high",
    "in_port", "removal_arm", "removal_ratio", "removal_ci_low", "removal_ci_high", "removal_p", "removal_p_holm",
    "removal_measured", "removal_share", "removal_share_ci_low", "removal_share_ci_high", "interaction_ratio",
    "interaction_ci_low", "interaction_ci_high", "interaction_p", "interaction_p_holm", "interaction_measured",
    "case_share_sum", "case_removal_share_sum", "masked_by", "interaction_note",
    "fixed_ratio", "fixed_equivalence_ci_low", "fixed_equivalence_ci_high", "fixed_tost_p", "fixed_tost_p_holm",
    "fixed_equivalent", "fixed_power", "fixed_seeds_for_90_percent_power", "margin", "alpha", "ci_level",
    "diverged_seeds", "first_step", "first_epoch", "first_tensor", "first_kind", "first_relative_difference",
    "forward_equal", "control_first_step", "control_first_tensor", "control_bessel_relative_difference",
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


def paired_change(a: pd.Series, b: pd.Series, level: float) -> dict:
    """log ``a`` − log ``b`` by seed (both log metrics indexed by seed): the ratio of geometric means, its
    paired t-interval and p-value, over the seeds both hold where both are finite, and how many were not."""
    seeds = sorted(set(a.index) & set(b.index))
    diff = a[seeds].to_numpy() - b[seeds].to_numpy()
    finite = np.isfinite(diff)
    diff = diff[finite]
    low, high = stats.mean_ci(diff, level)
    return {"seeds": [s for s, f in zip(seeds, finite) if f], "diff": diff, "diverged": int((~finite).sum()),
            "ratio": float(np.exp(diff.mean())) if len(diff) else np.nan, "ci_low": float(np.exp(low)),
            "ci_high": float(np.exp(high)), "p": paired_p(diff)}


def interaction_contrast(port: pd.Series, without: pd.Series, only: pd.Series, fixed: pd.Series, level: float) -> dict:
    """log(port / without) − log(only / fixed) by seed (log metrics indexed by seed): how much more (ratio
    above 1) or less the pitfall changes the port than the fixed port; ``paired_change``'s numbers."""
    seeds = sorted(set(port.index) & set(without.index) & set(only.index) & set(fixed.index))
    a = port[seeds] - without[seeds]
    b = only[seeds] - fixed[seeds]
    return paired_change(a, b, level)


def pitfall_table(runs: pd.DataFrame, lockstep: dict, level: float, margin: float, alpha: float,
                  resamples: int, seed: int, cases=CASES, stories=STORIES) -> pd.DataFrame:
    """One row per pitfall and alternative of the cases in ``runs`` (``PITFALL_COLUMNS``), ranked by the size
    of the effect.

    ``lockstep``: ``{(case, arm): result}`` from ``lockstep.trace``. ``cases`` and ``stories``: the
    registry's (a test passes its own).
    """
    rows, tost_rows, log_metric = [], {}, {}
    for case in dict.fromkeys(runs["case"]):
        c = cases[case]
        metric = c.metric
        # Every arm's log metric by seed, read once: the arms of the port's pitfalls, the alternatives, Keras.
        logs = {arm: np.log(_by_seed(runs, case, arm, metric))
                for arm in dict.fromkeys([KERAS, *arms_by_pitfalls(c).values(), *c.alternatives])}
        keras, port, fixed = logs[KERAS].to_numpy(), logs[PORT], logs[FIXED]
        gap = stats.welch_log_ratio(np.exp(port.to_numpy()), np.exp(keras), level)
        tost = stats.tost_verdict(fixed.to_numpy(), keras, margin, alpha)
        tost_rows[case] = tost
        log_metric[case] = {arm: logs[arm] for arm in set(arms_by_pitfalls(c).values()) if (runs["arm"] == arm).any()}
        for name in c.pitfalls + c.alternatives:
            p = stories[name]
            only = logs[name]
            # A diverged run (a metric that is not finite) is counted and shown, never averaged or dropped silently.
            added = paired_change(only[only.index.isin(port.index)], fixed, level)
            seeds, diff, diverged = added["seeds"], added["diff"], added["diverged"]
            share = share_low = share_high = np.nan
            if len(seeds) >= 2 and len(keras) >= 2:
                aligned = [x[seeds].to_numpy() for x in (port, only, fixed)]
                share = float(stats._share(aligned[0], keras, aligned[1], aligned[2], True))
                share_low, share_high = stats.paired_share_ci(aligned[0], keras, aligned[1], aligned[2], True,
                                                              level, resamples, seed)
            removal = {"removal_arm": None, "removal_ratio": np.nan, "removal_ci_low": np.nan,
                       "removal_ci_high": np.nan, "removal_p": np.nan, "removal_share": np.nan,
                       "removal_share_ci_low": np.nan, "removal_share_ci_high": np.nan,
                       "interaction_ratio": np.nan, "interaction_ci_low": np.nan, "interaction_ci_high": np.nan,
                       "interaction_p": np.nan}
            if name not in c.pitfalls:  # an alternative: not in the port, no share of its gap
                share = share_low = share_high = np.nan
            if name in c.pitfalls:
                arm = removal_arm(c, name)
                without = logs[arm]
                removed = paired_change(port, without, level)
                removal |= {"removal_arm": arm, "removal_ratio": removed["ratio"], "removal_ci_low": removed["ci_low"],
                            "removal_ci_high": removed["ci_high"], "removal_p": removed["p"]}
                contrast = interaction_contrast(port, without, only, fixed, level)
                removal |= {"interaction_ratio": contrast["ratio"], "interaction_ci_low": contrast["ci_low"],
                            "interaction_ci_high": contrast["ci_high"], "interaction_p": contrast["p"]}
                both = removed["seeds"]
                if len(both) >= 2 and len(keras) >= 2:
                    aligned = [x[both].to_numpy() for x in (port, without)]
                    removal["removal_share"] = float(stats._share(aligned[0], keras, aligned[1], aligned[0], False))
                    removal["removal_share_ci_low"], removal["removal_share_ci_high"] = stats.paired_share_ci(
                        aligned[0], keras, aligned[1], aligned[0], False, level, resamples, seed)
            accuracy = np.nan
            if "val_accuracy" in runs and runs["val_accuracy"].notna().any() and c.task != "regression":
                acc_only, acc_fixed = (_by_seed(runs, case, arm, "val_accuracy") for arm in (name, FIXED))
                accuracy = float(np.mean(acc_only[seeds].to_numpy() - acc_fixed[seeds].to_numpy()))
            trace = lockstep.get((case, name), {})
            control = lockstep.get((case, FIXED), {})
            rows.append(removal | {
                "pitfall": name, "case": case, "family": FAMILIES[c.family].title, "title": p.title,
                "symptom": p.symptom, "fix": p.fix, "source": p.source, "metric": metric, "n_pairs": len(seeds),
                "in_port": name in c.pitfalls,
                "effect_ratio": added["ratio"] if len(seeds) else np.nan,
                "effect_ci_low": added["ci_low"], "effect_ci_high": added["ci_high"], "effect_p": added["p"],
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
                "control_first_step": control.get("first_step"), "control_first_tensor": control.get("first_tensor"),
                "control_bessel_relative_difference": control.get("bessel_last_relative_difference")})
    table = pd.DataFrame(rows, columns=PITFALL_COLUMNS)
    if table.empty:
        return table
    table["effect_p_holm"] = stats.holm(table["effect_p"].to_numpy())
    table["effect_measured"] = table["effect_p_holm"] < alpha
    # The removal family: the port's pitfalls only (an alternative is not in the port).
    in_port = table["in_port"].to_numpy(dtype=bool)
    table["removal_p_holm"] = np.nan
    table.loc[in_port, "removal_p_holm"] = stats.holm(table.loc[in_port, "removal_p"].to_numpy(dtype=float))
    table["removal_measured"] = np.where(in_port, table["removal_p_holm"] < alpha, False)
    table["interaction_p_holm"] = np.nan
    table.loc[in_port, "interaction_p_holm"] = stats.holm(table.loc[in_port, "interaction_p"].to_numpy(dtype=float))
    table["interaction_measured"] = np.where(in_port, table["interaction_p_holm"] < alpha, False)
    # A case's sum is NaN where any of its shares is (never a sum over fewer pitfalls than the port has).
    table["case_share_sum"] = table["case"].map(
        table[in_port].groupby("case")["share_of_gap"].apply(lambda x: x.sum(skipna=False)))
    table["case_removal_share_sum"] = table["case"].map(
        table[in_port].groupby("case")["removal_share"].apply(lambda x: x.sum(skipna=False)))
    notes = [interaction(r, table, log_metric, cases, level) for _, r in table.iterrows()]
    table["masked_by"] = [masked for masked, _ in notes]
    table["interaction_note"] = [note for _, note in notes]
    table["observed"] = [observed(r) for _, r in table.iterrows()]
    cases = list(tost_rows)
    holm_cases = dict(zip(cases, stats.holm(np.array([tost_rows[c]["tost_p"] for c in cases]))))
    table["fixed_tost_p_holm"] = table["case"].map(holm_cases)
    table["fixed_equivalent"] = table["fixed_tost_p_holm"] < alpha
    table = table.assign(size=np.abs(np.log(table["effect_ratio"]))).sort_values(
        ["size", "pitfall"], ascending=[False, True], kind="stable").drop(columns="size")
    table["rank"] = np.arange(1, len(table) + 1)
    return table[PITFALL_COLUMNS].reset_index(drop=True)


METRIC_NAMES = {"val_mse": "MSE", "val_log_loss": "log-loss"}


def _r(ratio, low, high) -> str:
    return f"×{ratio:.3g} ({low:.3g} to {high:.3g})"


def _removing(row) -> str:
    """What removing the pitfall from the port does to the metric: port without it / port (``removal_ratio``
    is port / port without it, the pitfall's effect in the port), with its interval."""
    return _r(1 / row["removal_ratio"], 1 / row["removal_ci_high"], 1 / row["removal_ci_low"])


def interaction(row, table: pd.DataFrame, log_metric: dict, cases=CASES, level: float = 0.95) -> tuple[str, str]:
    """How a port's pitfall behaves beside the port's others, in words from the numbers: (the pitfalls that
    mask it, comma-separated, or ""; the sentence, or "").

    Masked: its effect on the fixed port is measured, its removal from the port is not, and the interaction
    contrast is measured and points towards no effect (each Holm within its family). The maskers are named
    where the arms hold the pitfall beside each other one alone (``arms_by_pitfalls``): each other pitfall
    beside which the same contrast (its effect beside that one against alone) points towards no effect
    with its interval clear of 1; elsewhere, the port's other pitfalls. Where the contrast is not
    measured, the sentence says the run cannot tell. Only with the others: no effect measured alone, but
    removing it changes the port.
    """
    if not row["in_port"]:
        return "", ""
    c = cases[row["case"]]
    metric = METRIC_NAMES[row["metric"]]
    others = [p for p in c.pitfalls if p != row["pitfall"]]
    alone = _r(row["effect_ratio"], row["effect_ci_low"], row["effect_ci_high"])
    removed = _removing(row)
    towards_none = np.sign(np.log(row["interaction_ratio"])) == -np.sign(np.log(row["effect_ratio"]))
    if row["effect_measured"] and not row["removal_measured"] and not row["interaction_measured"]:
        return "", (f"Removed from the port no change is measured (Holm: {removed}), but alone it changes the "
                    f"{metric} {alone}, and the difference between the two is not measured: this run cannot "
                    "tell whether the port's other pitfalls mask it.")
    if row["effect_measured"] and not row["removal_measured"] and not towards_none:
        return "", (f"Removed from the port no change is measured (Holm: {removed}), though alone it changes the "
                    f"{metric} {alone} and the port's other pitfalls measurably amplify it "
                    f"({_r(row['interaction_ratio'], row['interaction_ci_low'], row['interaction_ci_high'])}).")
    if row["effect_measured"] and not row["removal_measured"]:
        arm_of, logs = arms_by_pitfalls(c), log_metric.get(row["case"], {})
        fixed, only = logs.get(FIXED), logs.get(row["pitfall"])
        maskers, evidence = [], []
        for q in others:
            pair = arm_of.get(frozenset({row["pitfall"], q}))
            if pair is None or pair not in logs or q not in logs or fixed is None or only is None:
                maskers, evidence = [], []
                break
            beside = paired_change(logs[pair], logs[q], level)
            contrast = interaction_contrast(logs[pair], logs[q], only, fixed, level)
            toward = np.sign(np.log(contrast["ratio"])) == -np.sign(np.log(row["effect_ratio"]))
            if toward and not contrast["ci_low"] <= 1 <= contrast["ci_high"]:
                maskers.append(q)
                evidence.append(f"beside {q} alone it changes the {metric} "
                                f"{_r(beside['ratio'], beside['ci_low'], beside['ci_high'])}")
        if not maskers:  # no single other one is shown to hide it: together they do
            maskers, evidence = list(others), []
        names = ", ".join(maskers)
        return names, (f"Masked in this port: alone on the fixed port it changes the {metric} {alone}, but "
                       f"removed from the port no change is measured (Holm: {removed}; the two differ by "
                       f"{_r(row['interaction_ratio'], row['interaction_ci_low'], row['interaction_ci_high'])}); "
                       f"{names} {'hides' if len(maskers) == 1 else 'hide'} it"
                       + (f" ({'; '.join(evidence)})" if evidence else "") + ".")
    if row["removal_measured"] and not row["effect_measured"]:
        return "", (f"Only beside the port's other pitfalls ({', '.join(others)}): alone no change is measured "
                    f"({alone}), but removed from the port the {metric} changes {removed}.")
    return "", ""


def observed(row) -> str:
    """What the user sees, from the measured direction and size of the effect (``effect_*``), never from
    the source's prose: better, worse or no change measured (Holm), with the ratio and its interval, the
    accuracy change and the diverged seeds."""
    metric = METRIC_NAMES[row["metric"]]
    size = _r(row["effect_ratio"], row["effect_ci_low"], row["effect_ci_high"])
    if not row["effect_measured"]:
        text = f"no change measured in the validation {metric} (Holm): {size}"
    elif row["effect_ratio"] > 1:
        text = f"a worse (higher) validation {metric}: {size}"
    else:
        text = f"a better (lower) validation {metric}: {size}"
    if pd.notna(row.get("accuracy_change")):
        text += f"; accuracy {100 * row['accuracy_change']:+.1f} points"
    if row.get("diverged_seeds"):
        text += f"; {int(row['diverged_seeds'])} seed(s) diverged"
    return text


def contradictions(table: pd.DataFrame) -> list[str]:
    """The rows whose "what the user sees" disagrees with their measured sign (none, by construction; the
    workflow checks every table it writes, and a test checks this check)."""
    bad = []
    for _, r in table.iterrows():
        text = r["observed"]
        worse, better = "worse" in text, "better" in text
        expected = ("none" if not r["effect_measured"] else "worse" if r["effect_ratio"] > 1 else "better")
        said = "worse" if worse and not better else "better" if better and not worse else (
            "none" if text.startswith("no change") else "both")
        if said != expected:
            bad.append(f"{r['pitfall']}: says {said!r}, measured {expected!r} (×{r['effect_ratio']:.3g})")
    return bad


_ratio = _r


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
        no_gap = not r["gap_ci_low"] > 1 and not r["gap_ci_high"] < 1
        if no_gap:
            share = f"no gap to share: the port is ×{r['gap_ratio']:.3g} ({r['gap_ci_low']:.3g} to {r['gap_ci_high']:.3g}) of Keras"
        elif pd.isna(r["share_of_gap"]):
            share = "n/a"
        else:
            share = (f"{100 * r['share_of_gap']:.0f} % ({100 * r['share_ci_low']:.0f} to "
                     f"{100 * r['share_ci_high']:.0f} %) of ×{r['gap_ratio']:.3g}")
        if not r["in_port"]:
            removed = "not in the port (another way to get the same switch wrong)"
        else:
            removed = f"removing it: {metric} {_removing(r)}"
            removed += "" if r["removal_measured"] else ", no change measured (Holm)"
            if not no_gap and pd.notna(r["removal_share"]):
                removed += (f"; {100 * r['removal_share']:.0f} % ({100 * r['removal_share_ci_low']:.0f} to "
                            f"{100 * r['removal_share_ci_high']:.0f} %) of the gap; the case's shares by removal "
                            f"sum to {100 * r['case_removal_share_sum']:.0f} %")
            if isinstance(r["interaction_note"], str) and r["interaction_note"]:
                removed += ". " + r["interaction_note"]
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
                    "what the user sees (measured)": r["observed"], "the source says": f"“{r['symptom']}”",
                    "effect (CI)": effect, "share of gap: added to the fixed port": share,
                    "removed from the port (share, interaction)": removed,
                    "fixed = Keras? (TOST, power)": fixed, "first divergence (step, tensor)": where,
                    "source": r["source"]})
    return pd.DataFrame(out)
