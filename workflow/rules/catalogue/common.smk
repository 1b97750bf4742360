# Helpers of the catalogue's rules. Every name (case, arm, pitfall, path)
# comes from the installed package (gapstudy.studies.catalogue); every config slice a
# rule reads is one of its params, in canonical (sorted) form, and every
# rule's params hold the hash of the code it runs (gapstudy.sources).

from pathlib import Path

from gapstudy import config as study_config
from gapstudy import sources
from gapstudy.studies.catalogue import cases as cat
from gapstudy.studies.catalogue import config as catalogue_config
from gapstudy.studies.catalogue import paths
from gapstudy.studies.catalogue import run as catalogue_run
from gapstudy.studies.catalogue.figures import FIGURES as CATALOGUE_FIGURES
from gapstudy.studies.catalogue.pages import PAGES as CATALOGUE_PAGES

canonical = study_config.canonical

# Checked before any job: a bad key stops here with a message naming it.
try:
    config = catalogue_config.validate(config)
except study_config.ConfigError as error:
    raise WorkflowError(str(error)) from None


localrules:
    all,
    catalogue_dataset,
    catalogue_environment,
    catalogue_statistics,
    catalogue_figure,
    catalogue_answer,
    catalogue_page,
    catalogue_provenance,


CASE_NAMES = list(config["catalogue"]["cases"])
# Every training job: per case, the Keras reference, and every PyTorch arm (the port, the fixed port, one
# per pitfall, the port without each) in one job.
TRAIN_JOBS = [(case, side) for case in CASE_NAMES for side in catalogue_run.SIDES]


wildcard_constraints:
    case="|".join(cat.CASES),
    arm="|".join(sorted({arm for case in cat.CASES for arm in cat.arms(case)})),
    side="|".join(catalogue_run.SIDES),
    dataset="|".join(sorted({c.dataset for c in cat.CASES.values()})),
    figure="|".join(CATALOGUE_FIGURES),
    page="|".join(CATALOGUE_PAGES),


def code(script, *modules):
    """The hash of ``workflow/scripts/<script>`` and of every package module it reaches.

    The catalogue's own scripts are ``catalogue/<name>.py``; a table page and
    the environment record are the seed study's scripts, shared.
    """
    path = Path(workflow.basedir) / "workflow" / "scripts" / script
    return sources.code_sha256(str(path), *modules)


def train_code(wildcards):
    """A Keras job runs the Keras reference's code, a PyTorch job the port's: not each other's."""
    return code("catalogue/train.py", catalogue_run.trainer(wildcards.side))


def case_dataset(wildcards):
    return paths.DATASET.format(dataset=cat.CASES[wildcards.case].dataset)


def case_settings(wildcards):
    return canonical(dict(cat.CASES[wildcards.case].settings))


def side_switches(wildcards):
    """{arm: switches} of every arm the job trains, canonical."""
    return canonical(
        {
            arm: cat.arm_switches(wildcards.case, arm)
            for arm in catalogue_run.side_arms(wildcards.case, wildcards.side)
        }
    )


def level_percent():
    return f"{100 * config['statistics']['confidence_level']:g}"


def run_tables():
    return [paths.RUNS.format(case=case, side=side) for case, side in TRAIN_JOBS]


def trace_dirs():
    """One directory of traces per case (``cat.traced_arms``): its lock-step job writes them all."""
    return [paths.TRACES.format(case=case) for case in CASE_NAMES]


def traced_switches(wildcards):
    """{arm: switches} of every arm the case's lock-step job traces, canonical."""
    return canonical(
        {
            arm: cat.arm_switches(wildcards.case, arm)
            for arm in cat.traced_arms(wildcards.case)
        }
    )
