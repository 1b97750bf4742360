"""Interrupted jobs, failing and diverging runs: nothing finished is lost, nothing half-done is used."""

import json

import numpy as np
import pytest

from gapstudy.studies.seed.aggregate import FailedRuns, tables
from gapstudy.studies.seed.records import RECORD_FORMAT
from gapstudy.studies.seed.run import train_runs
from gapstudy.variants import resolve


@pytest.fixture
def files(tmp_path, dataset):
    from gapstudy.studies.seed.data import save_dataset

    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {})
    return {"dataset_npz": npz, "dataset_manifest": manifest}


class Interrupted(BaseException):
    """Stands for the SIGINT / SIGKILL that ends a job between two seeds."""


def job(tmp_path, files, hp, seeds, log, framework="torch", **kwargs):
    out = [tmp_path / "out" / f"seed{s}.json" for s in seeds]
    train_runs(framework, "as_posted", resolve(kwargs.pop("switches", {}), framework, hp), seeds, out,
               device=kwargs.pop("device", "cpu"), hp=hp, threads=1, log=log, **files, **kwargs)
    return out


def test_a_job_killed_halfway_retrains_only_the_seeds_it_had_not_finished(tmp_path, files, hp):
    hp["epochs"] = 1
    kept = tmp_path / "partial"
    messages = []

    def dies_at_seed_1(message):
        messages.append(message)
        if message.startswith("training torch/as_posted seeds=[1]"):
            raise Interrupted

    with pytest.raises(Interrupted):
        job(tmp_path, files, hp, [0, 1], dies_at_seed_1, resume_dir=kept, stack=1)
    assert (kept / "seed0.json").is_file() and not (kept / "seed1.json").exists()
    first = json.loads((kept / "seed0.json").read_text())

    messages.clear()
    out = job(tmp_path, files, hp, [0, 1], messages.append, resume_dir=kept, stack=1)
    assert any(m.startswith("seed 0: reusing the finished run") for m in messages)
    assert sum(m.startswith("training torch/as_posted") for m in messages) == 1  # seed 1 only
    assert json.loads(out[0].read_text()) == first
    assert json.loads(out[1].read_text())["seed"] == 1
    assert not kept.exists()  # the job finished: nothing kept any more


@pytest.mark.parametrize("damage", ["truncated", "other_settings"])
def test_a_half_written_or_foreign_kept_record_is_trained_again(tmp_path, files, hp, damage):
    hp["epochs"] = 1
    kept = tmp_path / "partial"
    job(tmp_path, files, hp, [0], lambda m: None)
    record = (tmp_path / "out" / "seed0.json").read_text()
    kept.mkdir()
    if damage == "truncated":
        (kept / "seed0.json").write_text(record[: len(record) // 2])
    else:
        (kept / "seed0.json").write_text(record.replace('"learning_rate": 0.001', '"learning_rate": 0.01'))
    messages = []
    job(tmp_path, files, hp, [0], messages.append, resume_dir=kept)
    assert not any("reusing" in m for m in messages)
    assert any(m.startswith("training torch/as_posted seeds=[0]") for m in messages)


def test_with_partial_results_a_failing_run_is_recorded_and_the_job_goes_on(tmp_path, files, hp):
    """A run on a device this machine lacks raises inside PyTorch: a real failure."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    hp["epochs"] = 1
    with pytest.raises(Exception):
        job(tmp_path, files, hp, [0, 1], lambda m: None, device="cuda")
    out = job(tmp_path, files, hp, [0, 1], lambda m: None, device="cuda", keep_failures=True)
    records = [json.loads(p.read_text()) for p in out]
    assert [r["status"] for r in records] == ["failed", "failed"]
    assert all("CUDA" in r["error"] or "cuda" in r["error"] for r in records)


def test_a_diverging_run_stops_and_records_the_epoch(tmp_path, files, hp):
    """Keras at learning rate 1e6: the loss is NaN within the first epoch (lr 10 only gives a bad fit)."""
    hp["epochs"] = 3
    out = job(tmp_path, files, hp, [0], lambda m: None, framework="keras", switches={"learning_rate": 1e6})
    record = json.loads(out[0].read_text())
    assert record["diverged"] and record["diverged_epoch"] == 1
    assert len(record["epochs"]) == 1  # stopped there


def test_tables_list_failed_runs_apart_and_refuse_them_unless_partial(tmp_path, files, hp, dataset):
    hp["epochs"] = 1
    good = job(tmp_path, files, hp, [0], lambda m: None)
    bad = tmp_path / "failed" / "seed1.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"format": RECORD_FORMAT, "status": "failed", "framework": "torch", "variant": "as_posted",
                               "seed": 1, "device": "cpu", "error": "RuntimeError: out of memory"}))
    with pytest.raises(FailedRuns, match="partial_results is false.*out of memory"):
        tables(good + [bad], dataset.y_val)
    built = tables(good + [bad], dataset.y_val, partial=True)
    assert list(built["runs"]["seed"]) == [0]
    assert built["missing"].to_dict("records")[0]["reason"] == "RuntimeError: out of memory"
    assert not {"wall_seconds", "started", "finished"} & set(built["runs"].columns)
    assert np.isfinite(built["timings"]["wall_seconds"]).all()


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_the_group_size_changes_no_bit_and_each_group_is_kept_as_it_finishes(tmp_path, files, hp, framework):
    """stack_seeds: 3 seeds in groups of 2 (kept after each group) against all 3 in one group."""
    hp["epochs"] = 1
    one = job(tmp_path / "one", files, hp, [0, 1, 2], lambda m: None, framework=framework)
    messages = []
    groups = job(tmp_path / "groups", files, hp, [0, 1, 2], messages.append, framework=framework, stack=2)
    assert sum(m.startswith(f"training {framework}/as_posted seeds=") for m in messages) == 2
    for a, b in zip(one, groups):
        first, second = json.loads(a.read_text()), json.loads(b.read_text())
        assert first["predictions"] == second["predictions"] and first["weights_sha256"] == second["weights_sha256"]
    assert json.loads(groups[2].read_text())["settings"]["stacked_seeds"] == 1
