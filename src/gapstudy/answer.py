"""The front page: the answer, one section per research question, in words generated from the tables.

No number or verdict is typed by hand: every sentence is filled from the
tables the workflow wrote, so rerunning the study with another config
rewrites the answer. ``front_page`` puts the sections together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.provenance import run_facts
from gapstudy.registry import FRAMEWORKS, SWITCHES
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


def control_sentence(rows: pd.DataFrame, ref: dict) -> str:
    """What Keras on the PyTorch backend says about where the gap lives (or nothing)."""
    def row(framework):
        found = rows[(rows["framework"] == framework) & (rows["variant"] == ref["variant"])]
        return None if found.empty else found.iloc[0]

    control, posted = row("keras_torch"), row("torch")
    if control is None or posted is None or ref["framework"] != "keras":
        return ""
    control_same = control["mse_ratio_ci_low"] <= 1 <= control["mse_ratio_ci_high"]
    posted_worse = posted["mse_ratio_ci_low"] > 1
    if control_same and posted_worse:
        return (" The same Keras code on the PyTorch backend matches Keras on TensorFlow, so the gap is in "
                "the user's PyTorch code, not in PyTorch's numerics.")
    if not control_same:
        return (" Keras on the PyTorch backend differs from Keras on TensorFlow: part of the difference "
                "lies in the backends' numerics, not only in the user's code.")
    return ""


def _null_changes(switches: pd.Series) -> str:
    """A few changes by name; many grouped by switch, so the front page stays readable."""
    if len(switches) <= 3:
        return ", ".join(f"``{s}``" for s in switches)
    names = pd.Series([s.split(":")[0] for s in switches]).value_counts(sort=False)
    grouped = ", ".join(f"``{n}``" + (f" ({k} values)" if k > 1 else "") for n, k in names.items())
    return (f"any of the other {len(switches)} single changes tested: {grouped} "
            "(research question 2 below lists each)")


def in_short(comparison: pd.DataFrame, attribution: pd.DataFrame | None, config: dict, level: int) -> str:
    """Per device: the verdict of each reproduce variant, then the switch that explains the gap."""
    ref = config["reference"]
    ref_label = f"{ref['framework']}/{ref['variant']}"
    parts = []
    rows = comparison[comparison["variant"].isin(reproduce_variants(config))]
    for device, group in rows.groupby("device"):
        claims = [
            f"**{row['framework']}/{row['variant']}** is "
            f"{verdict(row['mse_ratio_ci_low'], row['mse_ratio_ci_high']).replace('the reference', ref_label)} "
            f"(validation MSE × {_fmt(row['mse_ratio'])}, {level} % CI {_ci(row, 'mse_ratio')})"
            for _, row in group.iterrows()
        ]
        sentence = f"On {device}, " + "; ".join(claims) + "."
        sentence += control_sentence(group, ref)
        if attribution is not None and not attribution.empty:
            single = single_changes(attribution[attribution["device"] == device])
            if not single.empty:
                top = single.iloc[0]
                sentence += (f" Of the single changes tested, ``{top['switches']}`` closes the most of the gap: "
                             f"{_pct(top['share_of_gap'])} ({_pct(top['share_ci_low'])} to "
                             f"{_pct(top['share_ci_high'])}).")
                rest = single.iloc[1:]
                null = rest[(rest["share_ci_low"] <= 0) & (rest["share_ci_high"] >= 0)]
                if not null.empty:
                    sentence += " No detectable part of it comes from " + _null_changes(null["switches"]) + "."
        parts.append(sentence)
    return "**In short:** " + " ".join(parts)


def seed_counts(summary: pd.DataFrame) -> str:
    """"10 seeds", or "10 seeds (keras_torch: 5)" where a framework ran another number."""
    counts = summary.groupby("framework")["n_seeds"].max()
    common = int(counts.mode().iloc[0])
    others = [f"{framework}: {int(n)}" for framework, n in counts.items() if n != common]
    return f"{common} seeds" + (f" ({', '.join(others)})" if others else "")


def answer_rst(summary: pd.DataFrame, comparison: pd.DataFrame, config: dict, provenance: dict,
               attribution: pd.DataFrame | None = None) -> str:
    """The front page: the answer to research question 1 in plain words."""
    level = int(round(100 * config["statistics"]["confidence_level"]))
    ref = config["reference"]
    ref_label = f"{ref['framework']}/{ref['variant']}"
    lines = [
        "Answer",
        "------",
        "",
    ]
    lines += [
        f"Each framework and variant was trained with {seed_counts(summary)} for "
        f"{config['training']['epochs']} epochs on the user's data "
        f"({config['dataset']['n_train']} training and {config['dataset']['n_val']} validation rows). "
        f"Intervals are bootstrap {level} % confidence intervals of the mean over seeds; "
        f"the reference is **{ref_label}**.",
        "",
    ]
    lines += [in_short(comparison, attribution, config, level), ""]
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
                f"validation MSE {_fmt(s['val_mse_mean'])} ({_ci(s, 'val_mse')}), "
                f"{_fmt(row['mse_ratio'])} times the reference ({_ci(row, 'mse_ratio')}), "
                f"that is {_fmt(row['mse_percent_difference'])} % "
                f"({_ci(row, 'mse_percent_difference')} %); Pearson r {_fmt(s['val_pearson_r_mean'])} "
                f"({_ci(s, 'val_pearson_r')}), R² {_fmt(s['val_r2_mean'])} ({_ci(s, 'val_r2')}). "
                f"It is **{verdict(row['mse_ratio_ci_low'], row['mse_ratio_ci_high'])}** "
                f"(Welch's t on log MSE, Holm-adjusted p = {_fmt(row['welch_p_holm'], 2)}; "
                f"Mann-Whitney p = {_fmt(row['mannwhitney_p_holm'], 2)}; "
                f"probability that a run beats a reference run: {_fmt(row['p_improvement'], 2)}).",
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
    return rows.sort_values("share_of_gap", ascending=False)


def _share_words(row) -> str:
    low, high = row["share_ci_low"], row["share_ci_high"]
    if pd.isna(low) or pd.isna(high):
        return "cannot be told with this few seeds"
    if low > 0.5:
        return "explains most of the gap"
    if low <= 0 <= high:
        return "explains no detectable part of the gap"
    if high < 0:
        return "makes the gap larger"
    return "explains part of the gap"


def _pct(x) -> str:
    """Three significant digits, but no 1.78e-05 %: below 0.01 % a share is 0.00 %."""
    if pd.isna(x):
        return "n/a"
    return f"{100 * x:.2f} %" if abs(100 * x) < 0.01 else f"{100 * x:.3g} %"


def diagnosis_rst(attribution: pd.DataFrame, config: dict) -> str:
    """Research question 2: the share of the gap each switch explains, and what went untested."""
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


def equivalence_rst(equivalence: pd.DataFrame, config: dict) -> str:
    """Research question 3: are the fixed variants equivalent to the reference at the declared margin?"""
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
    for _, row in rows.iterrows():
        word = "**equivalent**" if row["equivalent"] else "**not shown equivalent**"
        lines.append(
            f"- {row['framework']}/{row['variant']} on {row['device']}: {word} "
            f"(MSE ratio {_fmt(np.exp(row['log_ratio']))}, {level} % CI {_fmt(np.exp(row['log_ratio_ci_low']))} "
            f"to {_fmt(np.exp(row['log_ratio_ci_high']))}; TOST p = {_fmt(row['tost_p'], 2)}).")
    lines.append("")
    return "\n".join(lines)


def lockstep_rst(lockstep: pd.DataFrame | None, config: dict) -> str:
    """Research question 4: where, step by step, the frameworks part ways."""
    title = "Step by step: same start, same batches (research question 4)"
    lines = [title, "-" * len(title), ""]
    if lockstep is None or lockstep.empty:
        return "\n".join(lines + ["This config runs no lock-step pair (config key ``lockstep``).", ""])
    lines += ["PyTorch and Keras start from the same saved initial weights and take one step each on the "
              "same saved batches; after every step the largest difference of any parameter is recorded "
              f"(tolerance {_fmt(lockstep['tolerance'].iloc[0])}).", ""]
    for _, row in lockstep.iterrows():
        name = f"**torch/{row['torch']}** against **keras/{row['keras']}**"
        if pd.isna(row["first_step_apart"]):
            where = f"never differ by more than the tolerance in {int(row['steps'])} steps"
        else:
            where = f"part ways at step {int(row['first_step_apart'])} of {int(row['steps'])}"
        sentence = f"- {name} {where}; the largest parameter difference is {_fmt(row['max_abs_diff'])} " \
                   f"(step {int(row['max_abs_diff_step'])})."
        if bool(row["loss_differs_at_step_1"]):
            sentence += (f" They already disagree on the loss of the first batch, before any update "
                         f"(PyTorch {_fmt(row['loss_torch_step_1'], 6)}, Keras {_fmt(row['loss_keras_step_1'], 6)}): "
                         "they do not compute the same loss, so every step differs from the first.")
        else:
            sentence += (f" The first batch's losses agree (PyTorch {_fmt(row['loss_torch_step_1'], 6)}, "
                         f"Keras {_fmt(row['loss_keras_step_1'], 6)}); what difference there is grows from "
                         "float round-off.")
        sentence += (f" Validation MSE after the last step: PyTorch {_fmt(row['val_mse_torch'])}, "
                     f"Keras {_fmt(row['val_mse_keras'])}.")
        lines.append(sentence)
    return "\n".join(lines + [""])


def determinism_rst(repeats: pd.DataFrame, devices: pd.DataFrame, devices_ran: list[str]) -> str:
    """Research question 5: repeatable runs per device, and CPU against GPU."""
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
                         f"runs in {len(group)} framework × variant jobs; settings: "
                         f"{'; '.join(sorted(set(group['deterministic_settings'])))}).")
        else:
            worst = group["predictions_max_abs_diff"].max()
            lines.append(f"- On {device}, {n_same} of {n_runs} runs trained twice repeated bit for bit; the others "
                         f"differ by up to {_fmt(worst)} in a validation prediction (the device's spread).")
    lines.append("")
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


def nonlinear_rst(summary: pd.DataFrame, config: dict) -> str:
    """Research question 6: what a model with an activation reaches in each framework."""
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
    return "\n".join(lines + [""])


def what_to_do_rst(attribution: pd.DataFrame, config: dict) -> str:
    """The code changes that make the posted PyTorch code match Keras, ranked by measured effect."""
    lines = ["What to do", "----------", ""]
    single = single_changes(attribution)
    if single.empty:
        return "\n".join(lines + ["This config applies no single switch to the posted code.", ""])
    lines.append("Changes to the posted PyTorch code, ranked by the share of the gap each one closes on its own:")
    lines.append("")
    for rank, (_, row) in enumerate(single.iterrows(), start=1):
        switches = config["variants"][row["variant"]].get("switches") or {}
        (name, value), = switches.items()
        change = code_change(name, value)
        lines.append(f"{rank}. {change}: closes {_pct(row['share_of_gap'])} of the gap "
                     f"({_pct(row['share_ci_low'])} to {_pct(row['share_ci_high'])}) on {row['device']}; "
                     f"it {_share_words(row)}.")
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


def front_page(tables: dict, environment: dict, config: dict) -> str:
    """The front page (``answer.rst``): the answer, then one section per research question.

    ``tables`` maps the names of the workflow's tables (``runs``, ``summary``,
    ``comparison``, ...; ``lockstep`` may be None) to their DataFrames;
    ``config`` is the slice of the config the front page reads.
    """
    facts = run_facts(tables["runs"], tables["timings"], environment)
    attribution = tables["attribution"]
    return "\n".join([
        answer_rst(tables["summary"], tables["comparison"], config, facts, attribution),
        incomplete_rst(tables["incomplete"]),
        what_to_do_rst(attribution, config),
        diagnosis_rst(attribution, config),
        equivalence_rst(tables["equivalence"], config),
        lockstep_rst(tables["lockstep"], config),
        determinism_rst(tables["repeats"], tables["devices"], facts["devices_ran"]),
        nonlinear_rst(tables["summary"], config),
    ])
