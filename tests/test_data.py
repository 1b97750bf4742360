import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from gapstudy.studies.seed.data import load_dataset, make_dataset, save_dataset


def get_data():
    """The user's function, verbatim from the question (minus signs restored)."""
    np.random.seed(0)
    Xtrain = np.random.normal(0, 1, size=(7000, 10))
    Xval = np.random.normal(0, 1, size=(700, 10))
    ytrain = np.sum(np.sin(Xtrain), axis=1)
    yval = np.sum(np.sin(Xval), axis=1)
    scaler = MinMaxScaler()
    ytrain = scaler.fit_transform(ytrain.reshape(-1, 1)).reshape(-1)
    yval = scaler.transform(yval.reshape(-1, 1)).reshape(-1)
    return Xtrain, Xval, ytrain, yval


def test_defaults_are_the_users_data_bit_for_bit(dataset):
    for ours, theirs in zip(dataset.arrays().values(), get_data()):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.tobytes() == theirs.tobytes()


def test_scaling_maps_training_targets_to_unit_interval(dataset):
    assert dataset.y_train.min() == 0.0 and dataset.y_train.max() == 1.0
    # Validation uses the training scaler, so it may leave [0, 1] slightly.
    assert -0.2 < dataset.y_val.min() and dataset.y_val.max() < 1.2


def test_parameters_change_the_data():
    small = make_dataset(n_train=50, n_val=5, n_features=3, seed=1, scaling="none")
    assert small.X_train.shape == (50, 3) and small.X_val.shape == (5, 3)
    np.testing.assert_array_equal(small.y_train, np.sin(small.X_train).sum(axis=1))


def test_saved_arrays_round_trip_and_manifest_guards_them(tmp_path, dataset):
    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {"seed": 0})
    loaded = load_dataset(npz, manifest)
    for name, array in dataset.arrays().items():
        assert getattr(loaded, name).tobytes() == array.tobytes()
    meta = json.loads(manifest.read_text())
    assert meta["arrays"]["X_train"] == {
        "shape": [7000, 10], "dtype": "float64", "sha256": meta["arrays"]["X_train"]["sha256"]
    }
    tampered = dataset.arrays() | {"y_val": dataset.y_val + 1e-12}
    np.savez(npz, **tampered)
    with pytest.raises(ValueError, match="y_val does not match its manifest"):
        load_dataset(npz, manifest)


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="dataset.scaling"):
        make_dataset(n_train=10, n_val=2, scaling="standard")
