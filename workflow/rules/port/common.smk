# Helpers of a port's rules (config: a `port:` section; examples/*/config.yaml).
# Every name and path comes from the installed package (gapstudy.studies.port); every
# config slice a rule reads is one of its params, in canonical (sorted) form;
# every rule's params hold the hash of the code it runs, the user's code too.

import json
from pathlib import Path

from gapstudy import config as study_config
from gapstudy import sources
from gapstudy.studies.port import paths as port_paths
from gapstudy.studies.port import spec as port_spec
from gapstudy.studies.port import train as port_train

canonical = study_config.canonical

# Checked before any job: a bad key stops here with a message naming it.
try:
    config = port_spec.validate(config)
except study_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

PORT = config["port"]
NAME = PORT["name"]
P = port_paths.paths(NAME)


# The entry points, the data, the shapes, the layer mapping and two steps of the
# user's loop, checked before any job starts (a fresh process; nothing is written).
onstart:
    import subprocess
    import sys

    check = subprocess.run(
        [sys.executable, "-m", "gapstudy.studies.port.check", json.dumps(config)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise WorkflowError(check.stdout.strip() or check.stderr.strip()[-3000:])


localrules:
    all,
    port_dataset,
    port_environment,
    port_statistics,
    port_figure,
    port_answer,
    port_page,
    port_provenance,


wildcard_constraints:
    page="|".join(port_paths.PAGES),
    job=r"\d+",


def code(script, *modules):
    """The hash of ``workflow/scripts/<script>`` and of every package module it reaches."""
    path = Path(workflow.basedir) / "workflow" / "scripts" / script
    return sources.code_sha256(str(path), *modules)


def user_code():
    """The hash of every Python file of the user's port (``port.path``): an edit retrains the port."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(PORT["path"]).rglob("*.py")):
        digest.update(f"{path.as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def port_config():
    """What a training or trace job reads of the config: the port, without the seeds and their jobs."""
    return canonical(
        {k: v for k, v in PORT.items() if k not in ("seeds", "seeds_per_job")}
    )


# Each arm's seeds, job by job (port.seeds_per_job): a job's seeds are its param, so that another split
# retrains only the jobs whose seeds changed.
SEED_JOBS = port_train.seed_jobs(PORT["seeds"], PORT["seeds_per_job"])


def job_seeds(wildcards):
    return SEED_JOBS[int(wildcards.job)]


def findings_of(wildcards=None):
    """The diagnosis' findings, once its checkpoint has run."""
    path = checkpoints.port_diagnose.get().output.findings
    return json.loads(Path(path).read_text())


def run_tables(wildcards):
    return [
        P["runs"].format(arm=arm, job=job)
        for arm in port_train.arms(findings_of())
        for job in range(len(SEED_JOBS))
    ]


def level_percent():
    return f"{100 * config['statistics']['confidence_level']:g}"
