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


wildcard_constraints:
    framework="|".join(study_config.FRAMEWORK_DEVICES),
    variant="|".join(config["variants"]),
    device="cpu|cuda|mps",
    seed=r"\d+",


def run_records(wildcards=None):
    return [
        "results/runs/{framework}/{variant}/{device}/seed{seed}.json".format(**run)
        for run in RUNS
    ]


def switches(wildcards):
    return resolve_switches(config["variants"][wildcards.variant].get("switches"))


def gpus(wildcards):
    """A cluster profile places jobs by this resource; local runs ignore it."""
    return 1 if wildcards.device == "cuda" else 0
