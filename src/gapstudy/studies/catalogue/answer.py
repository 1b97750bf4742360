"""The catalogue report's front page: the answer in words, then the ranked table, all from the tables.

No number is typed here: every sentence and cell is filled from the pitfall
table (``analysis.pitfall_table``), so another config or another run
rewrites it.
"""

from __future__ import annotations

import re

import pandas as pd

from gapstudy.studies.catalogue.analysis import METRIC_NAMES, front_table


def rst(text: str) -> str:
    """``text`` as literal RST inline text: backslash before every character RST would read as markup."""
    return re.sub(r"([\\`*_|\[\]<>])", r"\\\1", str(text))


def _effect(r) -> str:
    return (f"{rst(r['title'])} ({rst(r['case'])}: "
            f"{METRIC_NAMES[r['metric']]} ×{r['effect_ratio']:.3g}, {r['effect_ci_low']:.3g} to "
            f"{r['effect_ci_high']:.3g})")


def summary(table: pd.DataFrame, config: dict) -> list[str]:
    """The answer: how many pitfalls matter, the largest, the null ones, the fixed ports, the signatures."""
    n, seeds = len(table), len(config["catalogue"]["seeds"])
    level = 100 * config["statistics"]["confidence_level"]
    families = table["family"].nunique()
    worse = table[table["effect_measured"] & (table["effect_ratio"] > 1)]
    better = table[table["effect_measured"] & (table["effect_ratio"] < 1)]
    null = table[~table["effect_measured"]]
    cases = table.drop_duplicates("case")
    equivalent = cases[cases["fixed_equivalent"]]
    margin = config["statistics"]["equivalence_margin"]
    text = [f"**Answer** ({n} pitfalls in {table['case'].nunique()} cases of {families} model families, "
            f"{seeds} seeds per arm, every number from this run): "
            f"{len(worse)} of the {n} pitfalls make their port measurably worse than the fixed port, "
            f"{len(better)} measurably better, and {len(null)} have no effect this run can measure "
            f"(paired t-tests by seed, Holm over the {n}; {level:g} % intervals)."]
    if len(worse):
        top = worse.head(3)
        text.append("The largest: " + "; ".join(_effect(r) for _, r in top.iterrows()) + ".")
    if len(better):
        text.append("Measurably better with the pitfall than with the fix (a port can do better than its "
                    "reference, but it is then not a port of it): "
                    + "; ".join(_effect(r) for _, r in better.iterrows()) + ".")
    if len(null):
        text.append("No measurable effect (a finding, with its interval): "
                    + "; ".join(_effect(r) for _, r in null.iterrows()) + ".")
    text.append(f"With every pitfall fixed, the port matches its Keras reference within ×/÷{margin:g} "
                f"(TOST, Holm over the {len(cases)} cases) in {len(equivalent)} of {len(cases)} cases"
                + (": " + ", ".join(rst(c) for c in equivalent["case"]) if len(equivalent) else "")
                + ("; not shown for " + ", ".join(
                    f"{rst(r['case'])} (×{r['fixed_ratio']:.3g}, power {100 * r['fixed_power']:.0f} %)"
                    for _, r in cases[~cases["fixed_equivalent"]].iterrows()) if len(equivalent) < len(cases) else "")
                + ".")
    text += interactions(table)
    traced = table.dropna(subset=["first_step"])
    at_loss = traced[(traced["first_step"] == 1) & (traced["first_kind"].isin(["loss input", "loss"]))
                     & traced["forward_equal"].fillna(False).astype(bool)]
    if len(at_loss):
        text.append("In lock-step, " + "; ".join(f"{rst(r['title'])} ({rst(r['first_tensor'])})"
                                                 for _, r in at_loss.iterrows())
                    + " leave Keras at step 1 where the loss is computed, with equal forward outputs; the others "
                      "have their own signature (the table's second column from the right, and the figure of "
                      "where each diverges).")
    return [" ".join(text), ""]


def interactions(table: pd.DataFrame) -> list[str]:
    """Per case, whether its pitfalls' shares add up: the shares by removal against those added one by one
    (equal without interaction; both 100 % where the fixed port also equals Keras), and the masked."""
    parts = []
    for case, rows in table[table["in_port"].astype(bool)].groupby("case", sort=False):
        r = rows.iloc[0]
        if len(rows) < 2 or pd.isna(r["case_removal_share_sum"]) or not (r["gap_ci_low"] > 1 or r["gap_ci_high"] < 1):
            continue
        parts.append(f"{rst(case)} {100 * r['case_removal_share_sum']:.0f} % by removal "
                     f"({100 * r['case_share_sum']:.0f} % added one by one)")
    text = []
    if parts:
        text.append("Where pitfalls do not interact, each one's share of its port's gap is the same added to the "
                    "fixed port or removed from the port, so the shares by removal sum to what the shares added "
                    "one by one sum to (100 % where the fixed port also matches Keras). Here they "
                    "sum to: " + "; ".join(parts) + ".")
    masked = table[table["masked_by"].fillna("").astype(str) != ""]
    if len(masked):
        text.append("Masked in their port: " + "; ".join(
            f"{rst(r['title'])} ({rst(r['case'])}) by {rst(r['masked_by'])}" for _, r in masked.iterrows())
            + " (the table's column on removal says with which numbers).")
    return text


def ports(table: pd.DataFrame) -> list[str]:
    """What each case's "port" is: the user-style code it carries, and the parts that match Keras."""
    from gapstudy.studies.catalogue.cases import CASES, PITFALLS, SWITCHES
    from gapstudy.studies.catalogue.torch_port import KERAS_MATCHING

    lines = ["What a port is", "--------------", "",
             "In every case, the *port* is the PyTorch code a user would write with every pitfall of the case in "
             "it; the *fixed port* is the same code with each of them fixed. Everything else in both is written "
             "to match Keras, so that the port differs from its reference only by its pitfalls (and what no "
             "switch reaches: the frameworks' kernels).", ""]
    for case in dict.fromkeys(table["case"]):
        c = CASES[case]
        carries = ", ".join(f"{PITFALLS[n].switch}: {PITFALLS[n].pitfall}" for n in c.pitfalls)
        matching = ", ".join(f"{name}: {KERAS_MATCHING[name]}" for name in c.reads
                             if name not in {PITFALLS[n].switch for n in c.pitfalls})
        posted = c.settings.get("loop") == "posted"
        loop = (" Its loop is the posted one: the user's DataLoaders (a shuffled one for training, one for "
                "validation every epoch) and predictions in one call." if posted
                else " Its loop is the usual one: an order of its own every epoch, prediction in batches.")
        lines += [f"- **{rst(case)}**: {rst(c.port)} It carries {rst(carries)}; the rest matches Keras "
                  f"({rst(matching)}{', as the posted code has them' if posted else ''}).{loop}"]
    lines += ["", "The switches and their values:", ""]
    lines += [f"- *{rst(s.name)}* ({rst(', '.join(s.values))}): {rst(s.doc)}" for s in SWITCHES.values()]
    return lines + [""]


def ranked_table(table: pd.DataFrame) -> list[str]:
    """The ranked table as an RST list-table (the sources stand as links)."""
    front = front_table(table)
    lines = [".. list-table:: The catalogue, ranked by the size of the effect (the pitfall alone on the fixed "
             "port; shares of the gap of the port with every pitfall against Keras, paired by seed: the pitfall "
             "added to the fixed port, and removed from the port)",
             "   :header-rows: 1", "   :widths: 3 11 8 12 10 13 10 16 12 9 8", ""]
    columns = list(front.columns)
    lines += ["   * - " + columns[0]] + [f"     - {c}" for c in columns[1:]]
    for _, row in front.iterrows():
        cells = [str(row[c]) if c == "source" else rst(str(row[c]).replace("\n", " ")) for c in columns]
        lines += ["   * - " + cells[0]] + [f"     - {c}" for c in cells[1:]]
    return lines + [""]


def controls(table: pd.DataFrame) -> str:
    """Where each case's fixed port (the control) first differs from Keras beyond tolerance, in words."""
    parts = []
    for _, r in table.drop_duplicates("case").iterrows():
        where = ("none in the traced steps" if pd.isna(r["control_first_step"]) else
                 f"step {int(r['control_first_step'])}, {r['control_first_tensor']}")
        parts.append(f"{r['case']}: {where}")
    return rst("; ".join(parts))


def bessel(table: pd.DataFrame, rtol: float) -> str:
    """The named difference every BatchNorm port has (``engine.NAMED_DIFFERENCES``), with its size in each
    case's fixed port at the end of the traced steps; "" where no case has a BatchNorm."""
    from gapstudy.trace.engine import NAMED_DIFFERENCES

    cases = table.drop_duplicates("case").dropna(subset=["control_bessel_relative_difference"])
    if not len(cases):
        return ""
    sizes = ", ".join(f"{rst(r['case'])}: {r['control_bessel_relative_difference']:.2g} relative at the last "
                      "traced step" for _, r in cases.iterrows())
    return (f" One difference is named apart: {rst(NAMED_DIFFERENCES['bessel'][1])}; in the fixed ports' running "
            f"variances ({sizes}, growing towards 1/(n − 1) at steady state), below the tolerance's {rtol:g} and shared by "
            "every arm, so no pitfall's.")


def front_page(table: pd.DataFrame, config: dict, versions: dict) -> str:
    """The front page's RST. ``versions``: {package: [the versions the training runs recorded]}."""
    lines = ["Answer", "------", ""] + summary(table, config) + ranked_table(table) + ports(table)
    lines += ["How it was measured", "-------------------", "",
              "For every case the workflow trains the Keras reference with ``fit``, the PyTorch port with every "
              "pitfall, the fixed port, the fixed port with each pitfall alone, and the port without each "
              "pitfall, over the same seeds. "
              "Effects are paired by seed (the PyTorch arms share their initial weights and batch orders "
              "wherever the pitfall does not change them); the port's gap and the fixed port's equivalence "
              "are Welch comparisons across frameworks. The lock-step starts both sides from the Keras "
              "model's initial weights, feeds them the same batches and dropout masks, and compares every "
              f"tensor of every step for {config['lockstep']['epochs']} epoch(s); a tensor differs where its "
              f"largest difference exceeds {config['lockstep']['atol']:g} + {config['lockstep']['rtol']:g} × "
              "its largest Keras value and the fixed port does not share the difference (a difference the "
              "fixed port shares is float32 round-off through another framework's kernels, or a ReLU or "
              "BatchNorm kink it tips over). The fixed ports' own first differences (the controls): "
              + controls(table) + "." + bessel(table, config["lockstep"]["rtol"]) + " Intervals are per comparison; the verdicts (effect measured, fixed = "
              "Keras, removal measured, interaction measured) are Holm-corrected within their family. Trained with "
              + ", ".join(f"{k} {' and '.join(map(str, v))}" for k, v in sorted(versions.items())) + ".", ""]
    return "\n".join(lines)
