"""A port's report front page: the diagnosis in words, then the ranked causes, all from the tables.

No number is typed here: every sentence and cell comes from the verdict, cause and arm tables
(``analysis``), so another port, config or run rewrites it.
"""

from __future__ import annotations

import pandas as pd

from gapstudy.studies.catalogue.answer import rst
from gapstudy.studies.port import train
from gapstudy.trace import engine

METRIC_NAMES = {"mse": "MSE", "log_loss": "log-loss", "accuracy": "error rate (1 − accuracy)"}


def _ratio(r, low, high) -> str:
    return f"×{r:.3g} ({low:.3g} to {high:.3g})"


def _where(v) -> str:
    if pd.isna(v["first_step"]):
        return "nowhere in the traced steps"
    step = int(v["first_step"])
    if step == 0:
        return f"at step 0, in the initial weights ({rst(str(v['first_tensor']).removeprefix('initial '))})"
    where = f"at step {step} (epoch {int(v['first_epoch'])}), tensor {rst(v['first_tensor'])} ({v['first_kind']})"
    if v["forward_equal"] and v["first_kind"] not in ("input", "layer output"):
        where += ", with every layer's output equal before it"
    return where


def _cause(r) -> str:
    text = f"**{rst(r['title'])}** ({rst(r['probe'])}: {rst(r['evidence'])}; fix: {rst(r['fix'])}"
    if pd.notna(r["effect_ratio"]):
        text += f"; fixing it alone: {_ratio(r['effect_ratio'], r['effect_ci_low'], r['effect_ci_high'])}"
        if not r["effect_measured"]:
            text += ", no effect measured"
        elif r["effect_ratio"] > 1:
            text += (", measurably worse: the difference helps this model, but a port that keeps it no longer "
                     "reproduces Keras")
    elif not r["auto_fix"]:
        text += "; not fixed by the workflow: apply the fix by hand"
    return text + ")"


def summary(verdict: pd.DataFrame, causes: pd.DataFrame, config: dict) -> str:
    """The first paragraph: the gap, the likely causes ranked, the first divergence, the fixed port's verdict."""
    v = verdict.iloc[0]
    port = config["port"]
    metric = METRIC_NAMES.get(v["metric"], v["metric"])
    level = 100 * v["ci_level"]
    seeds = len(port["seeds"])
    text = [f"**Diagnosis** of {rst(port['title'])} ({seeds} seeds per arm, every number from this run): the "
            f"PyTorch port's validation {metric} is {_ratio(v['gap_ratio'], v['gap_ci_low'], v['gap_ci_high'])} "
            f"of the Keras model's ({level:g} % interval)"
            + ("; the port does measurably better than Keras, so it does not reproduce the Keras model."
               if v["gap_ci_high"] < 1 else "; the port is measurably worse." if v["gap_ci_low"] > 1 else
               "; no gap is measured at this many seeds.")]
    likely = causes[causes["effect_measured"].fillna(False).astype(bool) & (causes["effect_ratio"] < 1)]
    if len(likely):
        text.append("The causes, ranked by what fixing each alone measurably gains: "
                    + "; ".join(f"{int(r['rank'])}. {_cause(r)}" for _, r in likely.iterrows()) + ".")
    others = causes[~causes.index.isin(likely.index)]
    if len(others):
        text.append(("Also found" if len(likely) else "Found") + ", without a measured gain: "
                    + "; ".join(f"{int(r['rank'])}. {_cause(r)}" for _, r in others.iterrows()) + ".")
    if not len(causes):
        text.append("No probe found a known difference.")
    text.append(f"In lock-step from Keras' initial weights, on the batches the port's loader drew, the port "
                f"first leaves Keras {_where(v)}")
    if pd.notna(v["first_step"]) and int(v["first_step"]) == 0 and pd.notna(v["traced_first_step"]):
        text[-1] += (f"; from the same weights, at step {int(v['traced_first_step'])}, tensor "
                     f"{rst(v['traced_first_tensor'])} ({v['traced_first_kind']})")
    text[-1] += "."
    if pd.notna(v["unexplained_step"]):
        text.append(f"The fixed port, traced beside it, leaves Keras too from step {int(v['unexplained_step'])} "
                    f"({rst(v['unexplained_tensor'])}): a difference no fix here addresses, or float32 round-off.")
    if v["fixes"]:
        verdict_word = "equivalent to" if v["fixed_equivalent"] else "not shown equivalent to"
        text.append(f"With every fix the workflow could apply ({rst(v['fixes'])}), the fixed port is {verdict_word} "
                    f"Keras: {_ratio(v['fixed_ratio'], v['fixed_ci_low'], v['fixed_ci_high'])} within ×/÷"
                    f"{v['margin']:g} (TOST p = {v['fixed_tost_p']:.2g}, power {100 * v['fixed_power']:.0f} % at "
                    f"the observed spread"
                    + (f"; {int(v['fixed_seeds_for_90_percent_power'])} seeds per arm for 90 %"
                       if pd.notna(v["fixed_seeds_for_90_percent_power"]) else "") + ").")
    return " ".join(text)


def cause_list(causes: pd.DataFrame) -> list[str]:
    """The ranked causes as an RST list-table."""
    header = ["rank", "cause", "evidence", "signature (first divergence?)", "fix", "fixing it alone (CI)", "source"]
    lines = [".. list-table:: Likely causes, ranked (fixing each alone: paired by seed against the port)",
             "   :header-rows: 1", "   :widths: 4 16 22 12 18 16 12", ""]
    lines += ["   * - " + header[0]] + [f"     - {h}" for h in header[1:]]
    for _, r in causes.iterrows():
        effect = (_ratio(r["effect_ratio"], r["effect_ci_low"], r["effect_ci_high"])
                  + ("" if r["effect_measured"] else "; no effect measured (Holm)")
                  if pd.notna(r["effect_ratio"]) else "not applied by the workflow")
        cells = [str(int(r["rank"])), rst(r["title"]), rst(r["evidence"]),
                 f"{r['signature']} ({'yes' if r['matches_first_divergence'] else 'no'})", rst(r["fix"]), rst(effect),
                 str(r["source"] or "")]
        lines += ["   * - " + cells[0]] + [f"     - {c}" for c in cells[1:]]
    return lines + [""]


def seed_jobs_sentence(port: dict) -> str:
    """How an arm's seeds were trained: in which jobs (``port.seeds_per_job``), and why not stacked."""
    jobs = train.seed_jobs(port["seeds"], port["seeds_per_job"])
    why = "the user's loop is called unchanged, so its seeds are not stacked."
    if len(jobs) == 1:
        return (f"Each arm's {len(port['seeds'])} seeds ran in one job, one seed after another, the arms' jobs in "
                f"parallel where cores or a cluster allow (``port.seeds_per_job``: 1 runs every seed at once): {why}")
    return (f"Each arm's {len(port['seeds'])} seeds ran as {len(jobs)} jobs of at most {port['seeds_per_job']} "
            "(``port.seeds_per_job``), which run in parallel where cores or a cluster allow, one seed after "
            f"another within a job: {why}")


def front_page(verdict: pd.DataFrame, causes: pd.DataFrame, arms: pd.DataFrame, config: dict,
               versions: dict) -> str:
    """The front page's RST. ``versions``: {package: [the versions the training runs recorded]}."""
    lock = config["lockstep"]
    lines = ["Diagnosis", "---------", "", summary(verdict, causes, config), ""]
    if len(causes):
        lines += cause_list(causes)
    lines += ["How it was measured", "-------------------", "",
              "The workflow trains the Keras model with ``fit``, the user's PyTorch loop unchanged (the port), the "
              "port with every fix the workflow can apply (the fixed port), and the port with each fix alone, over "
              "the same seeds. " + seed_jobs_sentence(config["port"]) + " The user's loop is observed from outside (forward hooks, the optimizer's step hooks, "
              "gradient hooks, the rows of every batch, what reaches the loss); each fix is a setting or a hook on "
              "the user's objects. A fix's effect is paired by seed; the gap and the fixed port's equivalence are "
              "Welch comparisons across frameworks. The lock-step copies Keras' initial weights into the PyTorch "
              "module, runs the user's loop for "
              f"{lock['epochs']} epoch(s), and replays every step in Keras on the same rows with the same dropout "
              f"masks; a tensor differs where its largest difference exceeds {lock['atol']:g} + {lock['rtol']:g} × "
              "its largest Keras value and the control does not share the difference (the port with every fix the "
              "workflow applies, traced from the same weights on the same rows with the same masks: "
              + (rst(verdict.iloc[0]["control"]) if isinstance(verdict.iloc[0]["control"], str) else "none here")
              + f"). Step 0 compares the two initialisations as distributions over {engine.INIT_DRAWS} "
              "seeds. "
              "Arms: " + "; ".join(f"{rst(r['arm'])} {r['geometric_mean']:.4g} (n = {int(r['n'])})"
                                   for _, r in arms.iterrows())
              + ". Trained with " + ", ".join(f"{k} {' and '.join(map(str, v))}" for k, v in sorted(versions.items()))
              + ".", ""]
    return "\n".join(lines)
