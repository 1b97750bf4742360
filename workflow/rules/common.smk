# Helpers of the rules. Every name (framework, device, figure, table, path)
# comes from the installed package's registry (gapstudy.registry); every
# config slice a rule reads is one of its params, in canonical (sorted) form,
# and every rule's params hold the hash of the code it runs (gapstudy.sources).

from pathlib import Path

from gapstudy import config as study_config
from gapstudy import registry as reg
from gapstudy import sources
from gapstudy.registry import FIGURES, FRAMEWORKS, PAGES
from gapstudy.frameworks.runtime import available_devices
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
    crn_table,
    draws,
    page,
    answer,
    provenance,
    runtime,


RUNS = study_config.runs(config)
# The study's own dataset draw, and the runs on the other draws (config key dataset_draws).
DRAW = config["dataset"]["seed"]
DRAW_RUNS = study_config.draw_runs(config)
OTHER_DRAWS = sorted({r["draw"] for r in DRAW_RUNS})
LOCKSTEP_PAIRS = sorted((config.get("lockstep") or {}).get("pairs", {}))
CRN_PAIRS = sorted((config.get("crn") or {}).get("pairs", {}))
# The report's figures and tables this config makes (lock-step ones only with pairs).
FIGURE_NAMES = [
    f.name for f in FIGURES.values() if LOCKSTEP_PAIRS or not f.needs_lockstep
]
PAGE_NAMES = [
    p.name
    for p in PAGES.values()
    if p.table
    and (LOCKSTEP_PAIRS or not p.needs_lockstep)
    and (CRN_PAIRS or not p.needs_crn)
    and (OTHER_DRAWS or not p.needs_draws)
]


wildcard_constraints:
    framework="|".join(FRAMEWORKS),
    variant="|".join(config["variants"]),
    device="|".join(reg.DEVICES),
    pair="|".join(LOCKSTEP_PAIRS + CRN_PAIRS) or "(?!)",
    figure="|".join(FIGURES),
    draw=r"\d+",
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
    """A job's seeds: the framework's on the study's draw, dataset_draws.training_seeds on the others."""
    if int(wildcards.draw) == DRAW:
        return study_config.seeds(config, wildcards.framework, wildcards.variant)
    return list(config["dataset_draws"]["training_seeds"])


def job_records(wildcards):
    """The records one training job writes, one per seed, inside its output directory."""
    return [
        reg.record(
            wildcards.framework,
            wildcards.variant,
            wildcards.device,
            seed,
            wildcards.draw,
        )
        for seed in job_seeds(wildcards)
    ]


def records(runs):
    return sorted(
        reg.record(r["framework"], r["variant"], r["device"], r["seed"], r["draw"])
        for r in runs
    )


def run_records(wildcards=None):
    """Every seed's record of the study's draw, inside the training jobs' directories (sorted: a param)."""
    return records(RUNS)


def train_jobs(runs=RUNS):
    """The training jobs' output directories, one per framework, variant, device and draw."""
    return sorted({reg.RECORDS.format(**run) for run in runs})


def draw_arm_runs():
    """The runs the dataset-draw table reads: the named hypotheses' arms on every draw."""
    arms = set(study_config.draw_arms(config))
    on_study_draw = [r for r in RUNS if (r["framework"], r["variant"]) in arms]
    return on_study_draw + DRAW_RUNS


def draw_records():
    """{draw: its records} for the dataset-draw table (keys as strings: a param)."""
    runs = draw_arm_runs()
    return {
        str(d): records([r for r in runs if r["draw"] == d])
        for d in sorted({r["draw"] for r in runs})
    }


def draws_outputs(wildcards=None):
    """The dataset-draw table, where the config asks for other draws."""
    return [reg.table("draws")] if OTHER_DRAWS else []


def train_priority(wildcards):
    """Longest jobs first, so that none is left running alone at the end of a local run."""
    return FRAMEWORKS[wildcards.framework].run_cost * len(job_seeds(wildcards))


def resolved(variant, framework):
    """Every switch of ``variant`` run in ``framework``: the variant's, else the posted default."""
    return canonical(
        resolve_switches(
            config["variants"][variant].get("switches"), framework, config["training"]
        )
    )


def switches(wildcards):
    """The resolved switches of a training job."""
    return resolved(wildcards.variant, wildcards.framework)


def lockstep_switches(wildcards, side):
    """The resolved switches of one side (``a`` or ``b``) of a lock-step pair."""
    spec = config["lockstep"]["pairs"][wildcards.pair][side]
    return resolved(spec["variant"], spec["framework"])


def crn_switches(wildcards):
    """The resolved switches of one side of a common-random-numbers pair."""
    side = config["crn"]["pairs"][wildcards.pair][wildcards.side]
    return resolved(side["variant"], side["framework"])


def crn_draw_switches(wildcards):
    """The switches that decide a pair's common draws (the config checks both sides agree)."""
    switches = crn_switches(wildcards)
    return {k: switches[k] for k in sorted(reg.DRAW_SWITCHES)}


def crn_outputs(wildcards=None):
    """The common-random-numbers table, where the config asks for pairs."""
    return [reg.table("crn")] if CRN_PAIRS else []


def lockstep_outputs(wildcards=None):
    """The lock-step table, where the config asks for lock-step pairs."""
    return [reg.table("lockstep")] if LOCKSTEP_PAIRS else []


def intervals():
    """How every interval of the tables and figures is computed (config key statistics)."""
    return {"level": config["statistics"]["confidence_level"]}


def level_percent():
    return f"{100 * config['statistics']['confidence_level']:g}"


def front_page_config():
    """What the front page reads of the config: not the descriptions, not the paths."""
    keys = ("dataset", "devices", "reference", "hypotheses")
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
    singles = ["environment", "aggregate", "statistics", "determinism"]
    figures = [f"figure/{name}" for name in FIGURE_NAMES]
    jobs = sorted(
        {
            "train/{framework}/{variant}/draw{draw}/{device}".format(**run)
            for run in RUNS + DRAW_RUNS
        }
    )
    lockstep = [f"lockstep/{pair}" for pair in LOCKSTEP_PAIRS]
    if LOCKSTEP_PAIRS:
        lockstep.append("lockstep_table")
    crn = [f"crn/{pair}/{side}" for pair in CRN_PAIRS for side in ("a", "b")]
    if CRN_PAIRS:
        crn.append("crn_table")
    data = [f"dataset/draw{d}" for d in [DRAW] + OTHER_DRAWS]
    if OTHER_DRAWS:
        data.append("draws")
    return [
        reg.benchmark(job) for job in singles + figures + jobs + lockstep + crn + data
    ]
