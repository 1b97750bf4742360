"""Every path a port's diagnosis writes, and its report's pages, defined once (rules, scripts, tests).

A port writes under ``results/port/<port.name>/``, beside the seed study's ``results/`` and the
catalogue's ``results/catalogue/``, so that no run touches another's files.
"""

from __future__ import annotations

from types import MappingProxyType

from gapstudy.studies.catalogue.pages import Page


def root(name: str) -> str:
    return f"results/port/{name}"


def paths(name: str) -> dict:
    """Every file of port ``name``; ``{arm}``, ``{job}`` (an arm's training job, ``train.seed_jobs``) and
    ``{page}`` are wildcards."""
    r = root(name)
    return {"dataset": f"{r}/data.npz", "trace_steps": f"{r}/lockstep/steps.csv",
            "trace_result": f"{r}/lockstep/result.json", "findings": f"{r}/lockstep/findings.json",
            "runs": f"{r}/runs/{{arm}}/job{{job}}.csv", "environment": f"{r}/environment.json",
            "front": f"{r}/report/front.rst", "report": f"{r}/report.html", "page": f"{r}/report/{{page}}.html",
            "figure": f"{r}/figures/arms.png", "logs": f"logs/port/{name}", "benchmarks": f"{r}/benchmarks"}


def table(name: str, table_name: str) -> str:
    return f"{root(name)}/tables/{table_name}.csv"


DIAGNOSIS, EVIDENCE, PROVENANCE = "Diagnosis", "Evidence", "Provenance"


PAGES = MappingProxyType({p.name: p for p in (
    Page("causes", "Likely causes, ranked, with each fix's measured effect",
         "One row per difference a probe found. signature: the kind of tensor where a port with this difference "
         "first leaves Keras (matches_first_divergence: this port's trace does). effect: the port with this fix "
         "alone against the port, ratio of geometric means of the metric, paired {level} % t-interval by seed, p "
         "(paired t-test) Holm-corrected over the fixes. Ranked: measured gains first (largest first), then "
         "signature matches, then the rest.", DIAGNOSIS),
    Page("verdict", "The gap, the fixed port's TOST against Keras, the first divergence",
         "gap: the port against Keras (Welch, {level} % interval on the log scale). fixed: TOST of the port with "
         "every fix against Keras at the margin, its (1 − 2α) interval, and its power at the observed spread. "
         "first_*: the lock-step's first differing (step, tensor).", DIAGNOSIS),
    Page("arms", "Every arm: geometric mean of the metric",
         "Per arm: the geometric mean of the validation metric over the seeds, {level} % t-interval on the log "
         "scale; diverged: seeds whose metric was not finite.", EVIDENCE),
    Page("trace", "Lock-step: every traced tensor of the first steps",
         "Every compared tensor of the traced epoch(s), in compute order: step 0 the initialisations as "
         "distributions, then each step's input, layer outputs, loss, gradients, optimizer moments, weights.",
         EVIDENCE),
    Page("runs", "Every run", "One row per arm and seed: the metric, the fixes applied and the time.", EVIDENCE),
)})
