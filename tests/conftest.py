import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]

TINY_HP = dict(
    epochs=2, batch_size=32, hidden_units=100, learning_rate=1e-3,
    beta_1=0.9, beta_2=0.9999, epsilon=1e-7,
)


@pytest.fixture(scope="session")
def dataset():
    from gapstudy.studies.seed.data import make_dataset

    return make_dataset()


@pytest.fixture
def hp():
    return dict(TINY_HP)


def same_run(a: dict, b: dict) -> bool:
    """Two trainers' results for one seed are the same bits: predictions, weights, every epoch's numbers."""
    return (a["predictions"].tobytes() == b["predictions"].tobytes()
            and all(x.tobytes() == y.tobytes() for x, y in zip(a["weights"], b["weights"]))
            and a["epochs"] == b["epochs"])


def workflow_env(workdir) -> dict:
    """The environment of a Snakemake run in ``workdir``: a copy runs its own package (src/ first on the path)."""
    env = dict(os.environ)
    src = Path(workdir) / "src"
    if Path(workdir).resolve() != ROOT and src.is_dir():
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    return env


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, capture_output=True, text=True, timeout=1200, env=workflow_env(workdir),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def copy_repo(dest):
    from gapstudy.io import copy_workflow

    return copy_workflow(ROOT, dest)


def run_tiny_study(workdir):
    snakemake(workdir, "--cores", "2", "--configfile", "config/tiny.yaml")
    snakemake(workdir, "--cores", "2", "--configfile", "config/tiny.yaml", "--report", "results/report.html")
    return workdir


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    """The tiny study, run once from a scratch copy of the repository to its report."""
    return run_tiny_study(copy_repo(tmp_path_factory.mktemp("study")))


# The runs on the test SLURM cluster start in the background once the tests are collected (slurm_runs).
SLURM_RUNS = pytest.StashKey[dict]()


def pytest_collection_finish(session):
    import slurm_runs

    factory = session.config._tmp_path_factory
    session.config.stash[SLURM_RUNS] = slurm_runs.start_collected(session.items, factory.mktemp, copy_repo,
                                                                  workflow_env)


def pytest_sessionfinish(session):
    for run in session.config.stash.get(SLURM_RUNS, {}).values():
        run.kill()


@pytest.fixture
def slurm_run(request):
    """The background run of this test on the test cluster (``slurm_runs.RUNS``)."""
    runs = request.config.stash.get(SLURM_RUNS, {})
    if request.node.name not in runs:
        pytest.skip("no test SLURM cluster here; `sudo tests/slurm/cluster.sh up` starts one (.ci/run does)")
    return runs[request.node.name]


def run_tiny_catalogue(workdir):
    from gapstudy.studies.catalogue import paths

    snakemake(workdir, "--cores", "2", "--configfile", "config/catalogue_tiny.yaml")
    snakemake(workdir, "--cores", "2", "--configfile", "config/catalogue_tiny.yaml", "--report", paths.REPORT)
    return workdir


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory):
    """The tiny catalogue (every case and pitfall, 3 seeds, 1 epoch), run once from a scratch copy to its report."""
    return run_tiny_catalogue(copy_repo(tmp_path_factory.mktemp("catalogue")))
