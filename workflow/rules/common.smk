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

# Report categories, in the order the report lists them (alphabetical).
RQ1 = "Research question 1: reproduce the gap"
RQ2 = "Research question 2: which causes explain it"
RQ3 = "Research question 3: is the fix equivalent"
PROVENANCE = "Software, devices and run time"


wildcard_constraints:
    framework="|".join(study_config.FRAMEWORK_DEVICES),
    variant="|".join(config["variants"]),
    device="cpu|cuda|mps",


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


def gpus(wildcards):
    """A cluster profile places jobs by this resource; local runs ignore it."""
    return 1 if wildcards.device == "cuda" else 0


def benchmark_files(wildcards=None):
    """Every benchmark file the jobs before the run-time table write."""
    root = "results/benchmarks"
    singles = [
        f"{root}/{rule}.tsv"
        for rule in ("dataset", "environment", "aggregate", "statistics")
    ]
    figures = [f"{root}/figure/{name}.tsv" for name in FIGURES]
    jobs = sorted(
        {
            "{root}/train/{framework}/{variant}/{device}.tsv".format(root=root, **run)
            for run in RUNS
        }
    )
    return singles + figures + jobs
