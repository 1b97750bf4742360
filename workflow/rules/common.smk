# Helpers of the rules. Every name (framework, device, figure, table, path)
# comes from the installed package's registry (gapstudy.registry); every
# config slice a rule reads is one of its params, in canonical (sorted) form,
# and every rule's params hold the hash of the code it runs (gapstudy.sources).

from pathlib import Path

from gapstudy import config as study_config
from gapstudy import registry as reg
from gapstudy import sources
from gapstudy.registry import FIGURES, FRAMEWORKS, PAGES
from gapstudy.runtime import available_devices
from gapstudy.variants import resolve as resolve_switches

canonical = study_config.canonical

# Checked before any job: a bad key stops here with a message naming it.
try:
    config = study_config.validate(
        config,
        check_available=False,
        schema_path=Path(workflow.basedir)
        / "workflow"
        / "schemas"
        / "config.schema.yaml",
    )
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
    page,
    answer,
    provenance,
    runtime,


RUNS = study_config.runs(config)
LOCKSTEP_PAIRS = sorted((config.get("lockstep") or {}).get("pairs", {}))
# The report's figures and tables this config makes (lock-step ones only with pairs).
FIGURE_NAMES = [
    f.name for f in FIGURES.values() if LOCKSTEP_PAIRS or not f.needs_lockstep
]
PAGE_NAMES = [
    p.name
    for p in PAGES.values()
    if p.table and (LOCKSTEP_PAIRS or not p.needs_lockstep)
]


wildcard_constraints:
    framework="|".join(FRAMEWORKS),
    variant="|".join(config["variants"]),
    device="|".join(reg.DEVICES),
    pair="|".join(LOCKSTEP_PAIRS) or "(?!)",
    figure="|".join(FIGURES),
    page="|".join(PAGES),


def code(script, *modules):
    """The hash of ``workflow/scripts/<script>`` and of every package module it reaches.

    A param, so that an edit of a module reruns the rules that run it
    (README, "When results are rebuilt").
    """
    path = Path(workflow.basedir) / "workflow" / "scripts" / script
    return sources.code_sha256(str(path), *modules)


def train_code(wildcards):
    """A training job runs its own framework's trainer, not the others'."""
    return code("train.py", FRAMEWORKS[wildcards.framework].trainer)


def job_seeds(wildcards):
    return study_config.seeds(config, wildcards.framework)


def job_records(wildcards):
    """The records one training job writes, one per seed, inside its output directory."""
    return [
        reg.record(wildcards.framework, wildcards.variant, wildcards.device, seed)
        for seed in job_seeds(wildcards)
    ]


def run_records(wildcards=None):
    """Every seed's record, inside the training jobs' directories (sorted: a param)."""
    return sorted(
        reg.record(r["framework"], r["variant"], r["device"], r["seed"]) for r in RUNS
    )


def train_jobs(wildcards=None):
    """The training jobs' output directories, one per framework, variant and device."""
    return sorted({reg.RECORDS.format(**run) for run in RUNS})


def train_priority(wildcards):
    """Longest jobs first, so that none is left running alone at the end of a local run."""
    return FRAMEWORKS[wildcards.framework].run_cost * len(job_seeds(wildcards))


def switches(wildcards):
    """Every switch of the run's framework: the variant's, else the posted default."""
    return canonical(
        resolve_switches(
            config["variants"][wildcards.variant].get("switches"),
            wildcards.framework,
            config["training"],
        )
    )


def lockstep_switches(wildcards, framework):
    """The resolved switches of the variant a lock-step pair runs in ``framework``."""
    variant = config["lockstep"]["pairs"][wildcards.pair][framework]
    return canonical(
        resolve_switches(
            config["variants"][variant].get("switches"), framework, config["training"]
        )
    )


def lockstep_outputs(wildcards=None):
    """The lock-step table, where the config asks for lock-step pairs."""
    return [reg.table("lockstep")] if LOCKSTEP_PAIRS else []


def intervals():
    """How every interval of the tables and figures is computed (config key statistics)."""
    s = config["statistics"]
    return canonical(
        {
            "level": s["confidence_level"],
            "resamples": s["bootstrap_resamples"],
            "seed": s["bootstrap_seed"],
        }
    )


def level_percent():
    return f"{100 * config['statistics']['confidence_level']:g}"


def front_page_config():
    """What the front page reads of the config: not the descriptions, not the paths."""
    keys = ("dataset", "devices", "reference")
    sliced = {k: config[k] for k in keys if k in config}
    sliced["statistics"] = config["statistics"]
    sliced["training"] = config["training"]
    sliced["variants"] = {
        name: {k: v for k, v in spec.items() if k != "description"}
        for name, spec in config["variants"].items()
    }
    return canonical(sliced)


def gpus(wildcards):
    """The SLURM plugin asks for --gpus from this resource; local runs ignore it."""
    return 1 if wildcards.device == "cuda" else 0


def gpu_model(wildcards):
    """The GPU model a cuda job asks SLURM for (config key gpu_model); empty: any."""
    return config.get("gpu_model", "") if wildcards.device == "cuda" else ""


def benchmark_files(wildcards=None):
    """Every benchmark file the jobs before the run-time table write."""
    singles = ["dataset", "environment", "aggregate", "statistics", "determinism"]
    figures = [f"figure/{name}" for name in FIGURE_NAMES]
    jobs = sorted(
        {"train/{framework}/{variant}/{device}".format(**run) for run in RUNS}
    )
    lockstep = [f"lockstep/{pair}" for pair in LOCKSTEP_PAIRS]
    if LOCKSTEP_PAIRS:
        lockstep.append("lockstep_table")
    return [reg.benchmark(job) for job in singles + figures + jobs + lockstep]
