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


# Started in the background once the tests are collected (background_runs): the runs on the test SLURM
# cluster, by test name, and the session's tiny studies, by fixture name.
SLURM_RUNS = pytest.StashKey[dict]()
FIXTURE_RUNS = pytest.StashKey[dict]()


@pytest.hookimpl(trylast=True)  # after pytest's own grouping by fixture parameters; the sort is stable
def pytest_collection_modifyitems(config, items):
    """The tests of a background fixture (``study``, ``catalogue``) last, in their order: the rest of the
    suite runs while those studies run."""
    import background_runs

    items.sort(key=background_runs.uses_fixture_run)


def pytest_collection_finish(session):
    import background_runs

    factory = session.config._tmp_path_factory
    session.config.stash[FIXTURE_RUNS] = background_runs.start_fixtures(session.items, factory.mktemp, copy_repo,
                                                                        workflow_env)
    session.config.stash[SLURM_RUNS] = background_runs.start_collected(session.items, factory.mktemp, copy_repo,
                                                                       workflow_env)


def pytest_sessionfinish(session):
    for stash in (SLURM_RUNS, FIXTURE_RUNS):
        for run in session.config.stash.get(stash, {}).values():
            run.kill()


@pytest.fixture
def slurm_run(request):
    """The background run of this test on the test cluster (``background_runs.RUNS``)."""
    runs = request.config.stash.get(SLURM_RUNS, {})
    if request.node.name not in runs:
        pytest.skip("no test SLURM cluster here; `sudo tests/slurm/cluster.sh up` starts one (.ci/run does)")
    return runs[request.node.name]


def finished_run(request, name):
    """The workdir of the background run of fixture ``name`` (``background_runs.FIXTURES``), once it finished."""
    run = request.config.stash[FIXTURE_RUNS][name]
    rc, log = run.wait()
    assert rc == 0, f"the {name} run failed:\n{log[-5000:]}"
    return run.workdir


@pytest.fixture(scope="session")
def study(request):
    """The tiny study, run once from a scratch copy of the repository to its report (in the background)."""
    return finished_run(request, "study")


@pytest.fixture(scope="session")
def catalogue(request):
    """The tiny catalogue (every case and pitfall, 3 seeds, 1 epoch), run once from a scratch copy to its report
    (in the background)."""
    return finished_run(request, "catalogue")
