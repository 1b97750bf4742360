"""Research question 5: a run trained twice repeats bit for bit on CPU, and the check notices when not."""

import numpy as np
import pandas as pd
import pytest

from gapstudy.statistics import determinism
from gapstudy.studies.seed.run import NotRepeatable, repeat_check


def record(device="cpu", nudge=0.0):
    predictions = np.linspace(0.1, 0.9, 700, dtype=np.float32)
    predictions[3] += nudge
    return {"framework": "torch", "variant": "as_posted", "seed": 0, "device": device,
            "weights_sha256": "ab" * 32 if nudge == 0 else "cd" * 32,
            "predictions": predictions.tolist(), "val_mse": 0.01 + nudge}


def test_identical_runs_pass_the_check():
    check = repeat_check(record(), record())
    assert check["identical"] and check["predictions_max_abs_diff"] == 0


def test_a_perturbed_cpu_run_fails_the_check_with_a_reason():
    with pytest.raises(NotRepeatable, match="torch/as_posted seed 0 on cpu is not repeatable"):
        repeat_check(record(), record(nudge=1e-7))


def test_on_a_gpu_the_spread_is_recorded_instead():
    check = repeat_check(record("cuda"), record("cuda", nudge=1e-6))
    assert not check["identical"] and check["predictions_max_abs_diff"] == pytest.approx(1e-6, rel=0.1)


def test_a_torch_job_repeats_its_seed_bit_for_bit(tmp_path, dataset, hp):
    """The real check, as a training job runs it: two trainings of seed 0 in one process."""
    import json

    from gapstudy.studies.seed.data import save_dataset
    from gapstudy.studies.seed.run import train_runs
    from gapstudy.variants import resolve

    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {})
    hp["epochs"] = 1
    out = [tmp_path / "seed0.json", tmp_path / "seed1.json"]
    train_runs("torch", "as_posted", resolve({}, "torch", hp), [0, 1], out, repeat=1, device="cpu", hp=hp,
               dataset_npz=npz, dataset_manifest=manifest, threads=1, log=lambda m: None)
    first, second = (json.loads(p.read_text()) for p in out)
    assert first["repeat"]["checked"] and first["repeat"]["identical"]
    assert not second["repeat"]["checked"]
    assert first["settings"]["torch_deterministic_algorithms"]


def runs_frame(devices=("cpu",)):
    rows = []
    for device in devices:
        for seed in (0, 1):
            rows.append({"framework": "torch", "variant": "fixed", "device": device, "seed": seed,
                         "val_mse": 0.003 * (1.01 if device == "cuda" else 1.0),
                         "repeat_checked": seed == 0, "repeat_identical": True if seed == 0 else None,
                         "repeat_predictions_max_abs_diff": 0.0 if seed == 0 else None,
                         "deterministic_settings": "torch.use_deterministic_algorithms(True)"})
    return pd.DataFrame(rows)


def test_repeat_table_counts_runs_checked_and_identical():
    table = determinism.repeat_table(runs_frame())
    row = table.iloc[0]
    assert (row["runs"], row["runs_repeated"], row["repeated_identically"], row["all_identical"]) == (2, 1, 1, True)


def test_devices_are_compared_seed_by_seed_and_not_at_all_on_cpu_alone():
    predictions = pd.DataFrame([
        {"framework": "torch", "variant": "fixed", "device": d, "seed": s, "index": i,
         "y_pred": 0.5 + (1e-4 if d == "cuda" else 0) * i}
        for d in ("cpu", "cuda") for s in (0, 1) for i in range(3)])
    assert determinism.device_table(predictions[predictions["device"] == "cpu"], runs_frame()).empty
    table = determinism.device_table(predictions, runs_frame(("cpu", "cuda")))
    assert list(table["seed"]) == [0, 1] and set(table["device"]) == {"cuda"}
    assert table["predictions_max_abs_diff"].iloc[0] == pytest.approx(2e-4)
    assert table["val_mse_ratio"].iloc[0] == pytest.approx(1.01)


def test_determinism_figure_draws_with_and_without_a_gpu(tmp_path):
    from gapstudy.studies.seed import figures

    runs = runs_frame(("cpu", "cuda"))
    devices = pd.DataFrame([{"framework": "torch", "variant": "fixed", "seed": 0, "device": "cuda",
                             "predictions_max_abs_diff": 1e-6, "val_mse_cpu": 0.003, "val_mse_device": 0.00301,
                             "val_mse_ratio": 1.003}])
    for name, table in (("gpu.png", devices), ("cpu.png", devices.iloc[:0])):
        figures.determinism(determinism.repeat_table(runs), table, path=tmp_path / name, intervals={})
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
