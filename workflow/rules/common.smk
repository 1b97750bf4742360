import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from gapstudy import config as study_config
from gapstudy.variants import resolve as resolve_switches

# Checked before any job: a bad key stops here with a message naming it.
try:
    config = study_config.validate(config)
except study_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

RUNS = study_config.runs(config)
LOCKSTEP_PAIRS = list((config.get("lockstep") or {}).get("pairs", {}))

# Report categories, in the order the report lists them (alphabetical).
RQ1 = "Research question 1: reproduce the gap"
RQ2 = "Research question 2: which causes explain it"
RQ3 = "Research question 3: is the fix equivalent"
RQ4 = "Research question 4: step by step"
RQ5 = "Research question 5: devices and determinism"
PROVENANCE = "Software, devices and run time"


wildcard_constraints:
    framework="|".join(study_config.FRAMEWORK_DEVICES),
    variant="|".join(config["variants"]),
    device="cpu|cuda|mps",
    pair="|".join(LOCKSTEP_PAIRS) or "(?!)",


def run_records(wildcards=None):
    return [
        "results/runs/{framework}/{variant}/{device}/seed{seed}.json".format(**run)
        for run in RUNS
    ]


def switches(wildcards):
    """Every switch of the run's framework: the variant's, else the posted default."""
    return resolve_switches(
        config["variants"][wildcards.variant].get("switches"),
        wildcards.framework,
        config["training"],
    )


def lockstep_switches(wildcards, framework):
    """The resolved switches of the variant a lock-step pair runs in ``framework``."""
    variant = config["lockstep"]["pairs"][wildcards.pair][framework]
    return resolve_switches(
        config["variants"][variant].get("switches"), framework, config["training"]
    )


def lockstep_outputs(wildcards=None):
    """The lock-step table, page and figure, where the config asks for lock-step pairs."""
    if not LOCKSTEP_PAIRS:
        return []
    return [
        "results/tables/lockstep.csv",
        "results/report/lockstep.html",
        "results/figures/lockstep_drift.png",
    ]


def gpus(wildcards):
    """A cluster profile places jobs by this resource; local runs ignore it."""
    return 1 if wildcards.device == "cuda" else 0


def benchmark_files(wildcards=None):
    """Every benchmark file the jobs before the run-time table write."""
    root = "results/benchmarks"
    singles = [
        f"{root}/{rule}.tsv"
        for rule in ("dataset", "environment", "aggregate", "statistics", "determinism")
    ]
    figures = [f"{root}/figure/{name}.tsv" for name in FIGURES]
    jobs = sorted(
        {
            "{root}/train/{framework}/{variant}/{device}.tsv".format(root=root, **run)
            for run in RUNS
        }
    )
    lockstep = [f"{root}/lockstep/{pair}.tsv" for pair in LOCKSTEP_PAIRS]
    if LOCKSTEP_PAIRS:
        lockstep.append(f"{root}/lockstep_table.tsv")
    return singles + figures + jobs + lockstep
