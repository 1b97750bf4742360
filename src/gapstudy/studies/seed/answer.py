"""The front page: the answer, one section per research question, in words generated from the tables.

No number or verdict is typed by hand: every sentence is filled from the
tables the workflow wrote, so rerunning the study with another config
rewrites the answer. ``front_page`` puts the sections together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.studies.seed import claims
from gapstudy.report.provenance import run_facts
from gapstudy.registry import FRAMEWORKS, SWITCHES, USER_REPORTED
from gapstudy.variants import code_change, describe


def _fmt(x, digits=3) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _ci(row, metric, digits=3) -> str:
    return f"{_fmt(row[f'{metric}_ci_low'], digits)} to {_fmt(row[f'{metric}_ci_high'], digits)}"


def verdict(low: float, high: float) -> str:
    """Read a ratio's CI: above 1 is worse than the reference, below 1 better."""
    if pd.isna(low) or pd.isna(high):
        return "cannot be told apart from the reference with this few seeds"
    if low > 1:
        return "worse than the reference"
    if high < 1:
        return "better than the reference"
    return "not detectably different from the reference"


def describe_switches(switches: dict | None, framework: str) -> str:
    """The variant's changes from the posted code of ``framework``, in words."""
    if not switches:
        return f"{FRAMEWORKS[framework].label}, exactly as posted"
    return "; ".join(f"``{k}: {v}``: {describe(k, v)}" for k, v in switches.items())


def reproduce_variants(config: dict) -> list[str]:
    """The variants research question 1 is about (``question: reproduce``, or none given)."""
    return [n for n, v in config["variants"].items() if v.get("question", "reproduce") == "reproduce"]


def _power_words(power) -> str:
    """What a verdict's power means, in words: nothing at 80 % or more."""
    if pd.isna(power) or power >= 0.8:
        return ""
    return f", reached with only {100 * power:.0f} % power"


def variant_label(name: str, config: dict) -> str:
    """What ``framework/variant`` is, in words from the registry: " (``target_shape: matched``: ...)"."""
    framework, variant = name.split("/", 1)
    switches = (config.get("variants", {}).get(variant) or {}).get("switches")
    if framework not in FRAMEWORKS:
        return ""
    return f" ({describe_switches(switches, framework)})"


def claim_clause(row, margin: float, label=None) -> str:
    """One declared hypothesis and its verdict, in words (``row``: a row of the hypotheses table).

    ``label(name)`` gives what follows a variant id where the page names it
    first (``variant_label``); nothing by default.
    """
    label = label or (lambda name: "")
    name, ref = f"{row['framework']}/{row['variant']}", row["reference"]
    said, against = f"**{name}**{label(name)}", f"{ref}{label(ref)}"
    if row["claim"] == "worse":
        if row["supported"]:
            return f"{said} **is worse** than {against} (geometric-mean validation MSE × {_fmt(row['mse_ratio'])})"
        return f"{said} is **not shown worse** than {against}{_power_words(row['power'])}"
    if row["supported"]:
        return f"{said} **is equivalent** to {against} within ×/÷{margin:g}{_power_words(row['power'])}"
    return f"{said} is **not shown equivalent** to {against} within ×/÷{margin:g}{_power_words(row['power'])}"


def largest_cause(attribution: pd.DataFrame | None, device: str):
    """The single applied change that closes the most of the gap, where its interval excludes 0; else None."""
    if attribution is None or attribution.empty:
        return None
    single = single_changes(attribution[attribution["device"] == device])
    single = single[single["share_ci_low"] > 0]
    return None if single.empty else single.iloc[0]


def headline(hypotheses: pd.DataFrame, attribution: pd.DataFrame | None, config: dict) -> str:
    """The answer in one sentence per device, from the declared claims (and the largest cause found)."""
    margin = config["statistics"]["equivalence_margin"]
    if hypotheses.empty:
        return ("**Answer:** this config declares no primary hypothesis (config key ``hypotheses``), so the "
                "report states no verdict; everything below is exploratory.")
    sentences, seen = [], set()

    def label(name):  # each variant id with its label on first use
        if name in seen:
            return ""
        seen.add(name)
        return variant_label(name, config)

    for device, group in hypotheses.groupby("device", sort=True):
        clauses = []
        for _, row in group.iterrows():
            clause = claim_clause(row, margin, label)
            cause = largest_cause(attribution, device) if row["claim"] == "worse" and row["supported"] else None
            if cause is not None:
                clause += (f"; the gap is ``{cause['switches']}``, which closes {_pct(cause['share_of_gap'])} "
                           f"of it ({_pct(cause['share_ci_low'])} to {_pct(cause['share_ci_high'])})")
            clauses.append(clause)
        sentences.append(f"**Answer** (on {device}): " + "; ".join(clauses) + ".")
    return " ".join(sentences)


def claims_table(hypotheses: pd.DataFrame, config: dict) -> list[str]:
    """The primary claims as an RST table: estimate, interval, test, corrected p, power, seeds needed."""
    if hypotheses.empty:
        return []
    declared = config.get("hypotheses") or {}
    alpha = config["statistics"]["equivalence_alpha"]
    level = int(round(100 * (1 - 2 * alpha)))
    lines = [".. list-table:: The primary hypotheses, declared in the config before the run "
             f"(Holm-corrected over these {len(hypotheses)} tests, α = {alpha:g}); MSE ratio: of geometric means",
             "   :header-rows: 1", ""]
    header = ["hypothesis and its test", f"MSE ratio ({level} % CI)", "p (Holm)", "power", "seeds for 90 %",
              "verdict"]
    lines[1:1] = ["   :widths: 44 16 10 8 8 14"]
    lines += ["   * - " + header[0]] + [f"     - {h}" for h in header[1:]]
    for _, row in hypotheses.iterrows():
        seeds = row["seeds_for_90_percent_power"]
        cells = [
            f"**{row['hypothesis']}**: {declared.get(row['hypothesis'], {}).get('description', row['claim'])} "
            f"{row['framework']}/{row['variant']} (n = {int(row['n'])}) against {row['reference']} "
            f"(n = {int(row['n_reference'])}) on {row['device']}; {row['test']}.",
            f"{_fmt(row['mse_ratio'])} ({_fmt(row['ci_low'])} to {_fmt(row['ci_high'])})",
            _fmt(row["p_holm"], 2),
            f"{100 * row['power']:.0f} %" if pd.notna(row["power"]) else "n/a",
            "n/a" if pd.isna(seeds) else str(int(seeds)),
            ("**supported**" if row["supported"] else "**not supported**") + _power_words(row["power"]),
        ]
        lines += ["   * - " + cells[0]] + [f"     - {c}" for c in cells[1:]]
    return lines + [""]


def which_keras(hypotheses: pd.DataFrame, comparison: pd.DataFrame, config: dict, reported: dict) -> list[str]:
    """Whether Keras 2 (the user's) and Keras 3 give the same answer, and which the user's number compares with.

    ``reported`` is what the question reports (``registry.USER_REPORTED``,
    which the provenance rule also writes into provenance.json). Only where a declared
    hypothesis claims the Keras the user ran (``reported["keras"]``), on the
    reference's variant, equivalent to the reference. The posted PyTorch
    arm (the ``worse`` claim's) is quoted from the comparison table.
    """
    if hypotheses.empty or not reported:
        return []
    margin = config["statistics"]["equivalence_margin"]
    ref = config["reference"]
    asks = ((hypotheses["framework"] == reported["keras"]) & (hypotheses["claim"] == "equivalent")
            & (hypotheses["variant"] == ref["variant"]))
    lines = []
    for _, row in hypotheses[asks].iterrows():
        sentence = (f"**Which Keras** (on {row['device']}): the user's +{reported['percent_error_difference']:.0f} % "
                    f"(one run per framework, {reported['year']}) compares PyTorch with Keras 2, "
                    f"{FRAMEWORKS[reported['keras']].label}; this study's reference is {ref['framework']}/"
                    f"{ref['variant']}, Keras 3. ")
        if row["supported"]:
            sentence += (f"Keras 2 and Keras 3 give the same answer: {row['framework']}/{row['variant']} is equivalent to "
                         f"the reference within ×/÷{margin:g} (MSE ratio {_fmt(row['mse_ratio'])}, "
                         f"{_fmt(row['ci_low'])} to {_fmt(row['ci_high'])}){_power_words(row['power'])}, so the gap "
                         "measured against Keras 3 is the gap the user saw.")
        else:
            sentence += (f"Keras 2 and Keras 3 are **not shown** to give the same answer ({row['framework']}/"
                         f"{row['variant']} against the reference: MSE ratio {_fmt(row['mse_ratio'])}, "
                         f"{_fmt(row['ci_low'])} to {_fmt(row['ci_high'])}{_power_words(row['power'])}); the user's "
                         "number is the comparison with Keras 2.")
        worse = hypotheses[(hypotheses["claim"] == "worse") & (hypotheses["device"] == row["device"])]
        if not worse.empty:
            arm = worse.iloc[0]
            against = comparison[(comparison["framework"] == arm["framework"])
                                 & (comparison["variant"] == arm["variant"]) & (comparison["device"] == row["device"])]
            if not against.empty:
                sentence += (f" Over this study's seeds, {arm['framework']}/{arm['variant']}'s geometric-mean "
                             f"validation MSE is {_fmt(against.iloc[0]['mse_percent_difference'])} % above Keras 3's.")
        lines += [sentence, ""]
    return lines


def _arm(summary: pd.DataFrame, framework: str, variant: str, device: str):
    """One (framework, variant, device) row of the summary table, or None."""
    rows = summary[(summary["framework"] == framework) & (summary["variant"] == variant)
                   & (summary["device"] == device)]
    return None if rows.empty else rows.iloc[0]


def the_fix(hypotheses: pd.DataFrame, config: dict):
    """The declared claims the plain answer speaks from: (gap row, fix row, the fix's switches), or None.

    The gap and the fix of ``claims.gap_and_fix`` (as the user's figures
    show them), where the fix's variant is marked ``fix: true``.
    """
    found = claims.gap_and_fix(hypotheses)
    if found is None or not config["variants"].get(found[1]["variant"], {}).get("fix"):
        return None
    gap, fix = found
    return gap, fix, dict(config["variants"][fix["variant"]].get("switches") or {})


def suspects_sentence(attribution: pd.DataFrame | None, runs: pd.DataFrame | None, gap, config: dict,
                      fixed_by: set) -> str:
    """What the forum's other suspects change, each measured where this config varies it, in words.

    A suspect is a switch with a ``suspect`` name in the registry; its size is
    the share of the gap that applying it alone to the posted code closes
    (the attribution table). Seeds are a suspect too: whether any seed of the
    posted code reaches the reference's runs (the runs table).
    """
    device, ref = gap["device"], config["reference"]
    single = single_changes(attribution[attribution["device"] == device]) if attribution is not None \
        and not attribution.empty else pd.DataFrame()
    measured, untested, largest = [], [], 0.0
    for name, spec in SWITCHES.items():
        if not spec.suspect or name in fixed_by:
            continue
        rows = single[single["variant"].map(lambda v: set(config["variants"][v].get("switches") or {}) == {name})] \
            if not single.empty else single
        if rows.empty:
            untested.append(spec.suspect)
            continue
        row = rows.iloc[0]
        largest = max(largest, abs(row["share_ci_low"]), abs(row["share_ci_high"]))
        change = code_change(name, config["variants"][row["variant"]]["switches"][name])
        measured.append(f"{spec.suspect} (changed to {change}) closes {_pct(row['share_of_gap'])} of the gap "
                        f"({_pct(row['share_ci_low'])} to {_pct(row['share_ci_high'])})")
    parts = []
    if measured:
        lead = "change little or nothing" if largest < 0.1 else "were measured too"
        parts.append(f"The other suspects named in the forum {lead}: " + "; ".join(measured) + ".")
    if runs is not None and not runs.empty:
        posted = runs[(runs["framework"] == gap["framework"]) & (runs["variant"] == gap["variant"])
                      & (runs["device"] == device)]["val_mse"].dropna()
        keras = runs[(runs["framework"] == ref["framework"]) & (runs["variant"] == ref["variant"])
                     & (runs["device"] == device)]["val_mse"].dropna()
        if len(posted) and len(keras) and posted.min() > keras.max():
            parts.append(f"Other seeds do not help: none of the {len(posted)} seeds of your PyTorch code comes near "
                         f"Keras (its lowest validation MSE, {_fmt(posted.min())}, is above Keras' highest, "
                         f"{_fmt(keras.max())}).")
    if untested:
        parts.append("Not varied in this config: " + ", ".join(untested)
                     + " (``config/diagnosis.yaml`` varies every one).")
    return " ".join(parts)


def plain_answer(tables: dict, config: dict, reported: dict) -> list[str]:
    """The answer in the user's words, before any statistics: what is wrong, the one-line fix, what it buys.

    Generated from the declared claims (``the_fix``), the summary, the
    attribution and the registry's own words for the fix's switch (the
    user's posted line, what goes wrong in it, the code change); no
    framework or variant id. Empty where the config declares no gap and fix.
    """
    found = the_fix(tables.get("hypotheses"), config)
    if found is None:
        return []
    gap, fix, switches = found
    summary, device, ref = tables["summary"], gap["device"], config["reference"]
    posted, fixed = _arm(summary, gap["framework"], gap["variant"], device), _arm(summary, fix["framework"],
                                                                               fix["variant"], device)
    keras = _arm(summary, ref["framework"], ref["variant"], device)
    if posted is None or fixed is None or keras is None:
        return []
    batch = config["training"]["batch_size"]
    margin = config["statistics"]["equivalence_margin"]
    lines = []
    if len(switches) == 1 and SWITCHES[next(iter(switches))].posted_line:
        (name, value), = switches.items()
        spec = SWITCHES[name]
        lines.append(f"**What is wrong.** Your PyTorch training loop computes ``{spec.posted_line}``. "
                     + spec.problem.format(batch=batch) + ".")
    else:
        lines.append("**What is wrong.** Your PyTorch code differs from your Keras code in "
                     + "; ".join(describe(k, v) for k, v in switches.items()) + ".")
    lines.append("**The fix** is one line: " + "; ".join(code_change(k, v) for k, v in switches.items()) + ".")
    same = (f"the two are the same within {_pct(margin - 1)}" if fix["supported"] else
            f"the two are **not shown** to be the same within {_pct(margin - 1)}")
    verb = "falls" if fixed["val_mse_gmean"] < posted["val_mse_gmean"] else "rises"
    lines.append(f"**What it buys.** PyTorch's validation MSE {verb} from {_fmt(posted['val_mse_gmean'])} to "
                 f"{_fmt(fixed['val_mse_gmean'])}; Keras gets {_fmt(keras['val_mse_gmean'])}; {same}, tested on "
                 f"{int(fix['n'])} seeds (geometric means over seeds, {device}).")
    if not gap["supported"]:
        lines.append(f"With this config's {int(gap['n'])} seeds and {config['training']['epochs']} epochs the gap "
                     "itself is **not shown** (the declared test below), so these numbers do not yet measure "
                     "what the fix buys.")
    if reported:
        lines.append(f"You reported a correlation of r = {reported['r_keras']:g} for Keras against "
                     f"{reported['r_torch']:g} for PyTorch; over these seeds, Keras reaches "
                     f"r = {_fmt(keras['val_pearson_r_mean'])}, your PyTorch code {_fmt(posted['val_pearson_r_mean'])} "
                     f"and the fixed PyTorch code {_fmt(fixed['val_pearson_r_mean'])}.")
    suspects = suspects_sentence(tables.get("attribution"), tables.get("runs"), gap, config, set(switches))
    return [" ".join(lines + ([suspects] if suspects else [])), ""]


def seed_counts(summary: pd.DataFrame) -> str:
    """"10 seeds", or "10 seeds (keras_torch: 5)" where a framework ran another number."""
    counts = summary.groupby("framework")["n_seeds"].max()
    common = int(counts.mode().iloc[0])
    others = [f"{framework}: {int(n)}" for framework, n in counts.items() if n != common]
    return f"{common} seeds" + (f" ({', '.join(others)})" if others else "")


def draws_sentence(draws: pd.DataFrame | None) -> list[str]:
    """Whether each hypothesis tested on other draws of the data holds on every one (or nothing)."""
    if draws is None or draws.empty:
        return []
    parts = []
    for (name, device), group in draws.groupby(["hypothesis", "device"], sort=False):
        held = group[group["supported"].astype(bool)]
        n = len(group)
        if len(held) == n:
            parts.append(f"**{name}** holds on all {n} draws")
        else:
            failed = [str(int(d)) for d in group.loc[~group["supported"].astype(bool), "draw"]]
            parts.append(f"**{name}** holds on {len(held)} of {n} draws (not on draw{'s' if len(failed) > 1 else ''} "
                         f"{', '.join(failed)})")
    seeds = ", ".join(str(int(d)) for d in sorted(draws["draw"].unique()))
    return [f"On every draw of the data (dataset seeds {seeds}; exploratory, each draw its own Holm family): "
            + "; ".join(parts) + ".", ""]


def answer_rst(summary: pd.DataFrame, comparison: pd.DataFrame, config: dict, provenance: dict,
               attribution: pd.DataFrame | None = None, hypotheses: pd.DataFrame | None = None,
               draws: pd.DataFrame | None = None, plain: list[str] | None = None) -> str:
    """The front page: the answer in the user's words (``plain``), the declared claims, then research question 1."""
    level = int(round(100 * config["statistics"]["confidence_level"]))
    ref = config["reference"]
    ref_label = f"{ref['framework']}/{ref['variant']}"
    hypotheses = hypotheses if hypotheses is not None else pd.DataFrame()
    lines = [
        "Answer",
        "------",
        "",
        *(plain or []),
        headline(hypotheses, attribution, config),
        "",
    ]
    lines += claims_table(hypotheses, config)
    lines += which_keras(hypotheses, comparison, config, dict(USER_REPORTED))
    lines += draws_sentence(draws)
    lines += [
        f"Each framework and variant was trained with {seed_counts(summary)} for "
        f"{config['training']['epochs']} epochs on the user's data "
        f"({config['dataset']['n_train']} training and {config['dataset']['n_val']} validation rows); "
        "validation MSE is on the MinMax-scaled target. Intervals are t-intervals over seeds "
        f"({level} %; of log MSE for the geometric mean and for ratios); the reference is **{ref_label}**.",
        "",
    ]
    lines += ["In detail (exploratory: every variant of research question 1 against the reference, "
              "uncorrected; the verdicts above come from the declared hypotheses alone):", ""]
    for device, dev_summary in summary.groupby("device"):
        ref_row = dev_summary[
            (dev_summary["framework"] == ref["framework"]) & (dev_summary["variant"] == ref["variant"])
        ]
        if ref_row.empty:
            continue
        ref_row = ref_row.iloc[0]
        lines += [
            f"**On {device}** the reference {ref_label} reaches a validation MSE of "
            f"{_fmt(ref_row['val_mse_mean'])} ({_ci(ref_row, 'val_mse')}) and a Pearson r of "
            f"{_fmt(ref_row['val_pearson_r_mean'])} ({_ci(ref_row, 'val_pearson_r')}).",
            "",
        ]
        shown = comparison[(comparison["device"] == device)
                           & comparison["variant"].isin(reproduce_variants(config))]
        for _, row in shown.iterrows():
            s = dev_summary[
                (dev_summary["framework"] == row["framework"]) & (dev_summary["variant"] == row["variant"])
            ].iloc[0]
            switches = config["variants"][row["variant"]].get("switches")
            lines += [
                f"- **{row['framework']}/{row['variant']}** ({describe_switches(switches, row['framework'])}): "
                f"validation MSE {_fmt(s['val_mse_mean'])} ({_ci(s, 'val_mse')}), geometric mean "
                f"{_fmt(s['val_mse_gmean'])} ({_ci(s, 'val_mse_gmean')}), "
                f"{_fmt(row['mse_ratio'])} times the reference's geometric mean ({_ci(row, 'mse_ratio')}), "
                f"that is {_fmt(row['mse_percent_difference'])} % "
                f"({_ci(row, 'mse_percent_difference')} %); Pearson r {_fmt(s['val_pearson_r_mean'])} "
                f"({_ci(s, 'val_pearson_r')}), R² {_fmt(s['val_r2_mean'])} ({_ci(s, 'val_r2')}). "
                f"Its interval reads: {verdict(row['mse_ratio_ci_low'], row['mse_ratio_ci_high'])} "
                f"(exploratory, uncorrected: Welch's t on log MSE p = {_fmt(row['welch_p'], 2)}; "
                f"Mann-Whitney p = {_fmt(row['mannwhitney_p'], 2)}; "
                f"probability that a run beats a reference run: {_fmt(row['p_improvement'], 2)}, "
                f"{level} % CI {_ci(row, 'p_improvement', 2)}).",
            ]
        lines.append("")
    devices = provenance["devices_ran"]
    how = "chosen automatically (``devices: auto``)" if config["devices"] == "auto" else "listed in the config"
    lines += [
        f"Devices that ran: {', '.join(devices)} ({how}; this machine has "
        f"{', '.join(provenance['devices_available'])}). "
        f"Training took {_fmt(provenance['training_span_seconds'], 4)} s from the first run's start "
        f"to the last run's end ({_fmt(provenance['training_run_seconds'], 4)} s of wall time summed "
        f"over {provenance['n_runs']} runs in {provenance['n_jobs']} jobs).",
        "",
    ]
    return "\n".join(lines)


def single_changes(attribution: pd.DataFrame) -> pd.DataFrame:
    """Single switches applied to the posted code that have a share of the gap, largest first."""
    rows = attribution[(attribution["direction"] == "apply") & (attribution["n_switches"] == 1)
                       & attribution["share_of_gap"].notna()]
    if "baseline" in rows:  # the posted gap only: non-linear variants share their own (research question 6)
        rows = rows[rows["baseline"] == "as_posted"]
    return rows.sort_values("share_of_gap", ascending=False)


# Below this share at both ends of its interval, a change "explains less than 1 % of the gap".
NEGLIGIBLE_SHARE = 0.01


def _share_words(row) -> str:
    """What a share's interval says, in words: negligible (both ends tiny) is not "no detectable part"."""
    low, high = row["share_ci_low"], row["share_ci_high"]
    if pd.isna(low) or pd.isna(high):
        return "cannot be told with this few seeds"
    if low > 0.5:
        return "explains most of the gap"
    if max(abs(low), abs(high)) < NEGLIGIBLE_SHARE:
        return f"explains less than {_pct(NEGLIGIBLE_SHARE)} of the gap, if any"
    if low <= 0 <= high:
        return f"explains no detectable part of the gap, though its interval reaches {_pct(max(abs(low), abs(high)))}"
    if high < 0:
        return "makes the gap larger"
    return "explains part of the gap"


def _pct(x) -> str:
    """Three significant digits, but no 1.78e-05 %: below 0.01 % a share is 0.00 %."""
    if pd.isna(x):
        return "n/a"
    return "0.00 %" if abs(100 * x) < 0.005 else f"{100 * x:.2f} %" if abs(100 * x) < 0.01 else f"{100 * x:.3g} %"


def diagnosis_rst(attribution: pd.DataFrame, config: dict) -> str:
    """Research question 2: the share of the gap each switch explains, and what went untested."""
    nonlinear = [n for n, v in config["variants"].items() if v.get("question") == "nonlinear"]
    attribution = attribution[~attribution["variant"].isin(nonlinear)]
    lines = ["Which causes explain the gap (research question 2)",
             "--------------------------------------------------", ""]
    if attribution.empty:
        lines += ["This config has no variant with a ``baseline``, so no switch is attributed.", ""]
    else:
        lines += ["The gap is the difference in mean log validation MSE between PyTorch as posted and the "
                  "reference. *Applied* switches change the posted PyTorch code; *reverted* switches undo "
                  "one alignment with Keras in the otherwise aligned PyTorch code.", ""]
        for (device, direction), group in attribution.groupby(["device", "direction"], sort=True):
            lines.append(f"**{direction.capitalize()}, on {device}:**")
            lines.append("")
            for _, row in group.sort_values("share_of_gap", ascending=False).iterrows():
                verb = "closes" if direction == "apply" else "reopens"
                if pd.isna(row["share_of_gap"]):
                    # No gap to share (the reference framework's own switches): the change itself.
                    lines.append(f"- **{row['framework']}/{row['variant']}** ({row['switches']}) changes mean "
                                 f"log validation MSE by {_fmt(row['log_mse_change'])} "
                                 f"({_fmt(row['change_ci_low'])} to {_fmt(row['change_ci_high'])}).")
                    continue
                lines.append(f"- **{row['variant']}** ({row['switches']}) {verb} {_pct(row['share_of_gap'])} "
                             f"of the gap ({_pct(row['share_ci_low'])} to {_pct(row['share_ci_high'])}): "
                             f"it {_share_words(row)}.")
            lines.append("")
    varied = {k for v in config["variants"].values() for k in (v.get("switches") or {})}
    untested = [k for k in SWITCHES if k not in varied]
    if untested:
        lines += [f"Candidate causes not varied in this config: {', '.join(f'``{k}``' for k in untested)} "
                  "(``config/diagnosis.yaml`` varies every one).", ""]
    return "\n".join(lines)


def same_results(identical: pd.DataFrame | None, framework: str, device: str) -> dict:
    """{variant: (the variant it matches, largest per-seed difference)} for one framework and device."""
    if identical is None or identical.empty:
        return {}
    rows = identical[(identical["framework"] == framework) & (identical["device"] == device)]
    return {r["variant"]: (r["same_as"], r["largest_seed_difference"]) for _, r in rows.iterrows()}


def representative(variant: str, same: dict, preferred: set) -> str:
    """The variant that stands for ``variant``'s group of numerically identical results.

    A declared hypothesis' variant where the group has one, else the group's
    first by name (``same``: {variant: (the variant it matches, difference)}).
    """
    leader = same.get(variant, (variant,))[0]
    members = [leader] + sorted(v for v, (first, _) in same.items() if first == leader)
    return next((m for m in members if m in preferred), leader)


def equivalence_rst(equivalence: pd.DataFrame, config: dict, identical: pd.DataFrame | None = None) -> str:
    """Research question 3: are the fixed variants equivalent to the reference at the declared margin?

    A variant whose every seed gives numerically the result of another
    (``identical``) is not listed again: a sentence says which it matches.
    """
    s = config["statistics"]
    ref = config["reference"]
    fixes = [name for name, v in config["variants"].items() if v.get("fix")]
    lines = ["Is the fixed PyTorch model equivalent to Keras (research question 3)",
             "--------------------------------------------------------------------", "",
             f"Equivalent means: the geometric-mean validation MSE lies within a factor of "
             f"{s['equivalence_margin']:g} of {ref['framework']}/{ref['variant']}'s, shown by two one-sided "
             f"Welch tests on log MSE at α = {s['equivalence_alpha']:g} (margin and α declared in the config "
             "before the run).", ""]
    rows = equivalence[equivalence["variant"].isin(fixes)]
    if rows.empty:
        lines += ["No variant of this config is marked ``fix: true``.", ""]
    level = int(round(100 * (1 - 2 * s["equivalence_alpha"])))
    declared = {(h["framework"], h["variant"]) for h in (config.get("hypotheses") or {}).values()
                if h["claim"] == "equivalent"}
    if not rows.empty:
        lines += ["The declared hypotheses' verdicts are at the top of this page; the rest of this list is "
                  "exploratory (uncorrected TOST p-values).", ""]
    declared_variants = {v for _, v in declared}
    for _, row in rows.iterrows():
        same = same_results(identical, row["framework"], row["device"])
        shown = representative(row["variant"], same, declared_variants)
        if shown != row["variant"] and shown in set(rows["variant"]):
            diff = same.get(row["variant"], same.get(shown, (None, float("nan"))))[1]
            lines.append(f"- {row['framework']}/{row['variant']} on {row['device']} gives numerically the results "
                         f"of {row['framework']}/{shown} (every seed's log MSE within {_fmt(diff, 2)}), "
                         "so it is not listed again.")
            continue
        word = "equivalent" if row["equivalent"] else "not shown equivalent"
        kind = "primary, see the table above" if (row["framework"], row["variant"]) in declared else "exploratory"
        power = row.get("power", float("nan"))
        seeds = row.get("seeds_for_90_percent_power", float("nan"))
        lines.append(
            f"- {row['framework']}/{row['variant']} on {row['device']} ({kind}): {word} "
            f"(geometric-mean MSE ratio {_fmt(row['mse_ratio'])}, {level} % CI "
            f"{_fmt(row['mse_ratio_ci_low'])} to {_fmt(row['mse_ratio_ci_high'])}; TOST p = "
            f"{_fmt(row['tost_p'], 2)}; power {'n/a' if pd.isna(power) else f'{100 * power:.0f} %'} at the "
            f"observed spread, {'n/a' if pd.isna(seeds) else int(seeds)} seeds per group for 90 %).")
    lines.append("")
    return "\n".join(lines)


def crn_rst(crn: pd.DataFrame | None, config: dict) -> str:
    """Research questions 1 and 3, paired: the same draws on both sides, seed by seed."""
    title = "Same random numbers on both sides: a paired comparison"
    lines = [title, "-" * len(title), ""]
    if crn is None or crn.empty:
        return "\n".join(lines + ["This config runs no common-random-numbers pair (config key ``crn``).", ""])
    level = int(round(100 * config["statistics"]["confidence_level"]))
    lines += ["Each pair is trained from common random numbers: per seed, both sides start from the same initial "
              "weights and see the same batch orders. This answers *do the two compute the same thing?*, free "
              "of the spread between seeds; the comparisons above, each framework with its own random "
              "numbers as a user runs it, answer *does a user see the same results?* (exploratory, "
              "uncorrected).", ""]
    for _, row in crn.iterrows():
        word = "equivalent" if row["equivalent"] else "not shown equivalent"
        lines.append(
            f"- {row['a']} against {row['b']} ({int(row['n_pairs'])} seeds): {word} within "
            f"×/÷{row['margin']:g} (paired TOST p = {_fmt(row['tost_p'], 2)}{_power_words(row['power'])}); "
            f"geometric-mean MSE ratio {_fmt(row['mse_ratio'], 4)} ({level} % paired CI "
            f"{_fmt(row['ci_low'], 4)} to {_fmt(row['ci_high'], 4)}); per-seed log MSE differences up to "
            f"{_fmt(row['largest_seed_difference'], 2)} (standard deviation "
            f"{_fmt(row['sd_of_differences'], 2)}).")
    return "\n".join(lines + [""])


def lockstep_rst(lockstep: pd.DataFrame | None, config: dict) -> str:
    """Research question 4: where, step by step, the frameworks part ways."""
    title = "Step by step: same start, same batches (research question 4)"
    lines = [title, "-" * len(title), ""]
    if lockstep is None or lockstep.empty:
        return "\n".join(lines + ["This config runs no lock-step pair (config key ``lockstep``).", ""])
    lines += ["In each pair, two frameworks start from the same saved initial weights and take one step each on "
              "the same saved batches; after every step the largest difference of any parameter is recorded "
              f"(tolerance {_fmt(lockstep['tolerance'].iloc[0])}).", ""]
    for _, row in lockstep.iterrows():
        a, b = row["a"], row["b"]
        name = f"**{a}** against **{b}**"
        if pd.isna(row["first_step_apart"]):
            where = f"never differ by more than the tolerance in {int(row['steps'])} steps"
        else:
            where = f"part ways at step {int(row['first_step_apart'])} of {int(row['steps'])}"
        sentence = f"- {name} {where}; the largest parameter difference is {_fmt(row['max_abs_diff'])} " \
                   f"(step {int(row['max_abs_diff_step'])})."
        if bool(row["loss_differs_at_step_1"]):
            sentence += (f" They already disagree on the loss of the first batch, before any update "
                         f"({a} {_fmt(row['loss_a_step_1'], 6)}, {b} {_fmt(row['loss_b_step_1'], 6)}): "
                         "they do not compute the same loss, so every step differs from the first.")
        else:
            sentence += (f" The first batch's losses agree ({a} {_fmt(row['loss_a_step_1'], 6)}, "
                         f"{b} {_fmt(row['loss_b_step_1'], 6)}); what difference there is grows from "
                         "float round-off.")
        sentence += (f" Validation MSE after the last step: {a} {_fmt(row['val_mse_a'])}, "
                     f"{b} {_fmt(row['val_mse_b'])}.")
        lines.append(sentence)
    return "\n".join(lines + [""])


def bits_sentence(runs: pd.DataFrame | None) -> list[str]:
    """What "bit for bit" promises, and on which CPU the runs were trained (from the runs table)."""
    if runs is None or runs.empty or "cpu_flags" not in runs:
        return []
    cpu = runs[runs["device"] == "cpu"]
    machines = sorted({(str(n), str(f)) for n, f in zip(cpu["device_name"], cpu["cpu_flags"].fillna(""))})
    settings = sorted(set(cpu.get("onednn", pd.Series(dtype=str)).dropna()) - {"none"})
    if not machines:
        return []
    where = "; ".join(f"``{name}`` (instruction sets ``{flags or 'unknown'}``)" for name, flags in machines)
    return [f"What *bit for bit* promises: on the CPU that trains it, each run of the user's code here gives the "
            "bits of that code run plainly (a fresh Python with only the seed set; ``tests/test_posted_as_run.py`` "
            f"checks it). These runs were trained on {where}, with TensorFlow's oneDNN kernels "
            f"``{', '.join(settings) or 'n/a'}``. oneDNN picks its kernels by the CPU's instruction set, so on "
            "another CPU the Keras runs, the user's own and the workflow's alike, end in other last digits "
            "(README, \"What bit for bit means\").", ""]


def determinism_rst(repeats: pd.DataFrame, devices: pd.DataFrame, devices_ran: list[str],
                    runs: pd.DataFrame | None = None) -> str:
    """Research question 5: repeatable runs per device, what "bit for bit" means, and CPU against GPU."""
    title = "Devices and determinism (research question 5)"
    lines = [title, "-" * len(title), ""]
    checked = repeats[repeats["runs_repeated"] > 0]
    if checked.empty:
        lines.append("No run was trained twice in this config (config key ``repeat_runs`` is 0).")
    for device, group in checked.groupby("device"):
        exact = group[group["all_identical"].astype(bool)]
        n_runs, n_same = int(group["runs_repeated"].sum()), int(group["repeated_identically"].sum())
        if len(exact) == len(group):
            lines.append(f"- On {device}, every run trained twice repeated **bit for bit** ({n_same} of {n_runs} "
                         f"runs in {len(group)} framework × variant jobs, each once stacked with its job's other "
                         f"seeds and once alone; settings: "
                         f"{'; '.join(sorted(set(group['deterministic_settings'])))}).")
        else:
            worst = group["predictions_max_abs_diff"].max()
            lines.append(f"- On {device}, {n_same} of {n_runs} runs trained twice repeated bit for bit; the others "
                         f"differ by up to {_fmt(worst)} in a validation prediction (the device's spread).")
    lines.append("")
    lines += bits_sentence(runs)
    if devices.empty:
        lines.append(f"CPU against GPU: **this part did not run**: the study ran on {', '.join(devices_ran)} only "
                     "(``devices: auto`` adds ``cuda`` where PyTorch finds a GPU).")
    else:
        for (framework, device), group in devices.groupby(["framework", "device"]):
            lines.append(f"- {framework} on cpu against {device}: validation predictions differ by up to "
                         f"{_fmt(group['predictions_max_abs_diff'].max())}; validation MSE ratio "
                         f"{device}/cpu between {_fmt(group['val_mse_ratio'].min())} and "
                         f"{_fmt(group['val_mse_ratio'].max())} over {len(group)} runs.")
    return "\n".join(lines + [""])


def nonlinear_rst(summary: pd.DataFrame, config: dict, across: pd.DataFrame | None = None,
                  attribution: pd.DataFrame | None = None) -> str:
    """Research question 6: what a model with an activation reaches in each framework, and why they differ."""
    names = [n for n, v in config["variants"].items() if v.get("question") == "nonlinear"]
    lines = ["Beyond the question: a non-linear model (research question 6)",
             "---------------------------------------------------------------", ""]
    if not names:
        return "\n".join(lines + ["The posted model has no activation, so it is linear and r ≈ 0.91 is its "
                                  "ceiling. This config runs no non-linear variant; ``config/diagnosis.yaml`` "
                                  "runs ReLU and tanh models in both frameworks.", ""])
    for _, row in summary[summary["variant"].isin(names)].iterrows():
        lines.append(f"- {row['framework']}/{row['variant']} on {row['device']}: validation MSE "
                     f"{_fmt(row['val_mse_mean'])} ({_ci(row, 'val_mse')}), Pearson r "
                     f"{_fmt(row['val_pearson_r_mean'])} ({_ci(row, 'val_pearson_r')}).")
    lines.append("")
    level = int(round(100 * config["statistics"]["confidence_level"]))
    margin = config["statistics"]["equivalence_margin"]
    rows = across[across["variant"].isin(names)] if across is not None else pd.DataFrame()
    if not rows.empty:
        lines += ["PyTorch against Keras, the same non-linear model (exploratory, uncorrected):", ""]
        for _, row in rows.iterrows():
            word = "equivalent" if row["equivalent"] else "not shown equivalent"
            lines.append(f"- {row['framework']}/{row['variant']} against {row['against']}/{row['variant']} on "
                         f"{row['device']}: geometric-mean MSE ratio {_fmt(row['mse_ratio'])} ({level} % CI "
                         f"{_fmt(row['ci_low'])} to {_fmt(row['ci_high'])}); {word} within ×/÷{margin:g} "
                         f"(TOST p = {_fmt(row['tost_p'], 2)}{_power_words(row['power'])}).")
        lines.append("")
    why = (attribution[attribution["variant"].isin(names)] if attribution is not None and not attribution.empty
           else pd.DataFrame())
    if not why.empty:
        lines += ["Which of the switches that still differ between the two (init, Adam rule, bias init) explain "
                  "it: each aligned PyTorch variant against its non-linear baseline, paired by seed, and the "
                  "share of the PyTorch-against-Keras difference it closes:", ""]
        for _, row in why.iterrows():
            lines.append(f"- **{row['framework']}/{row['variant']}** ({row['switches']}), {row['gap']}: "
                         f"closes {_pct(row['share_of_gap'])} ({_pct(row['share_ci_low'])} to "
                         f"{_pct(row['share_ci_high'])}); it {_share_words(row)}.")
        lines.append("")
    return "\n".join(lines)


def what_to_do_rst(attribution: pd.DataFrame, config: dict) -> str:
    """The code changes that make the posted PyTorch code match Keras, ranked by measured effect."""
    lines = ["What to do", "----------", ""]
    single = single_changes(attribution)
    if single.empty:
        return "\n".join(lines + ["This config applies no single switch to the posted code.", ""])
    def change(row):
        (name, value), = (config["variants"][row["variant"]].get("switches") or {}).items()
        return code_change(name, value)

    # Ranked only where the interval excludes zero: two effects indistinguishable from 0 have no order.
    ranked, rest = single[single["share_ci_low"] > 0], single[~(single["share_ci_low"] > 0)]
    if not ranked.empty:
        lines += ["Changes to the posted PyTorch code that close a detectable part of the gap, ranked by the "
                  "share each one closes on its own (exploratory; paired intervals):", ""]
        for rank, (_, row) in enumerate(ranked.iterrows(), start=1):
            lines.append(f"{rank}. {change(row)}: closes {_pct(row['share_of_gap'])} of the gap "
                         f"({_pct(row['share_ci_low'])} to {_pct(row['share_ci_high'])}) on {row['device']}; "
                         f"it {_share_words(row)}.")
        lines.append("")
    if not rest.empty:
        lines += ["Changes with no detectable effect on the gap (unranked):", ""]
        lines += [f"- {change(row)}: {_pct(row['share_of_gap'])} ({_pct(row['share_ci_low'])} to "
                  f"{_pct(row['share_ci_high'])}) on {row['device']}; it {_share_words(row)}."
                  for _, row in rest.iterrows()]
    return "\n".join(lines + [""])


def incomplete_rst(incomplete: pd.DataFrame) -> str:
    """The front page's account of runs that failed or diverged (nothing when all finished)."""
    if incomplete.empty:
        return ""
    lines = ["Runs that failed or diverged", "----------------------------", "",
             f"{len(incomplete)} run(s) did not give a finite result. Diverged runs (loss NaN or infinite) "
             "stopped at that epoch; they are counted as ``n_diverged`` in the summary and left out of every "
             "statistic. Failed runs (``partial_results: true``) have no result at all; the tables and "
             "figures are built from the runs that finished. By framework and variant:", ""]
    for (framework, variant, what), group in incomplete.groupby(["framework", "variant", "what"], sort=True):
        seeds = ", ".join(str(s) for s in group["seed"])
        lines.append(f"- ``{framework}/{variant}``, {what}, seeds {seeds}: {group['reason'].iloc[0]}")
    return "\n".join(lines + ["", "The table *runs that failed or diverged* lists each run.", ""])


def figure_rst(png: bytes | None, alt: str, css_class: str = "") -> list[str]:
    """An image directive that carries the PNG itself (a data URI): the report shows it inline, no file beside.

    ``css_class`` names the screens it is for (``report/layout.rst``:
    ``wide-only`` or ``phone-only``).
    """
    if not png:
        return []
    import base64

    # docutils joins a URI's lines and drops their whitespace: lines short enough for its line-length limit.
    data = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return [".. image:: " + data[:60], *(f"   {data[i:i + 96]}" for i in range(60, len(data), 96)),
            "   :width: 100%", f"   :alt: {alt}", *([f"   :class: {css_class}"] if css_class else []), ""]


def front_page(tables: dict, environment: dict, config: dict, figure: bytes | None = None,
               figure_phone: bytes | None = None) -> str:
    """The front page (``answer.rst``): the answer, then one section per research question.

    ``tables`` maps the names of the workflow's tables (``runs``, ``summary``,
    ``comparison``, ...; ``lockstep`` may be None) to their DataFrames;
    ``config`` is the slice of the config the front page reads; ``figure`` is
    the PNG of the user's figures (``figures.users_figures``), shown right
    after the answer in the user's words; ``figure_phone`` the same in two
    columns, shown instead on a phone's screen.
    """
    facts = run_facts(tables["runs"], tables["timings"], environment)
    attribution = tables["attribution"]
    plain = plain_answer(tables, config, dict(USER_REPORTED))
    if plain:
        alt = ("Predicted against true validation values for the user's Keras code, the user's PyTorch code and "
               "the fixed PyTorch code, and their loss curves")
        plain += figure_rst(figure, alt, "wide-only" if figure_phone else "")
        plain += figure_rst(figure_phone, alt, "phone-only")
    return "\n".join([
        answer_rst(tables["summary"], tables["comparison"], config, facts, attribution, tables["hypotheses"],
                   tables.get("draws"), plain),
        incomplete_rst(tables["incomplete"]),
        what_to_do_rst(attribution, config),
        diagnosis_rst(attribution, config),
        equivalence_rst(tables["equivalence"], config, tables.get("identical")),
        crn_rst(tables.get("crn"), config),
        lockstep_rst(tables["lockstep"], config),
        determinism_rst(tables["repeats"], tables["devices"], facts["devices_ran"], tables["runs"]),
        nonlinear_rst(tables["summary"], config, tables.get("across_frameworks"), attribution),
    ])
