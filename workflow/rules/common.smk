import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from gapstudy import config as study_config
from gapstudy.runtime import available_devices
from gapstudy.variants import resolve as resolve_switches

# Checked before any job: a bad key stops here with a message naming it.
try:
    config = study_config.validate(config, check_available=False)
except study_config.ConfigError as error:
    raise WorkflowError(str(error)) from None


# Listed devices must exist here on a local run. On a cluster the GPUs are on
# the compute nodes, not on the submitting host (and Snakemake knows the
# executor only once the workflow starts): a job whose node lacks its device
# stops with an error that names it.
onstart:
    if workflow.local_exec:
        try:
            study_config.check_devices(
                config["devices_resolved"], available_devices()
            )
        except study_config.ConfigError as error:
            raise WorkflowError(str(error)) from None


# On a cluster, only training and lock-step jobs are submitted; the rest is light.
localrules:
    all,
    dataset,
    environment,
    aggregate,
    statistics,
    determinism,
    figure,
    lockstep_table,
    report_pages,
    runtime,


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
    device="|".join(study_config.ALL_DEVICES),
    pair="|".join(LOCKSTEP_PAIRS) or "(?!)",


def run_records(wildcards=None):
    """Every seed's record, inside the training jobs' directories."""
    return [
        "results/runs/{framework}/{variant}/{device}/seed{seed}.json".format(**run)
        for run in RUNS
    ]


def train_jobs(wildcards=None):
    """The training jobs' output directories, one per framework, variant and device."""
    return sorted(
        {"results/runs/{framework}/{variant}/{device}".format(**run) for run in RUNS}
    )


def job_seeds(wildcards):
    return study_config.seeds(config, wildcards.framework)


# Per-run cost relative to a PyTorch run (measured, CPU): Keras ~6, Keras on PyTorch ~25.
RUN_COST = {"torch": 1, "keras": 6, "keras_torch": 25}


def train_priority(wildcards):
    """Longest jobs first, so that none is left running alone at the end of a local run."""
    return RUN_COST[wildcards.framework] * len(job_seeds(wildcards))


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
    """The SLURM plugin asks for --gpus from this resource; local runs ignore it."""
    return 1 if wildcards.device == "cuda" else 0


def gpu_model(wildcards):
    """The GPU model a cuda job asks SLURM for (config key gpu_model); empty: any."""
    return config.get("gpu_model", "") if wildcards.device == "cuda" else ""


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
