import numpy as np
import pytest

from gapstudy.frameworks.runtime import limit_threads

limit_threads(1)

keras = pytest.importorskip("keras")

from gapstudy.frameworks import keras_model, metrics, train_keras  # noqa: E402
from gapstudy.variants import resolve  # noqa: E402


def test_keras_mse_aligns_the_posted_shapes_instead_of_broadcasting():
    """Why the same (N,) target does no harm in Keras: its loss squeezes (N, 1) to (N,)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(loss="mean_squared_error")
    model.layers[0].set_weights([np.array([[1.0]], dtype="float32")])
    x = np.array([[0.5], [1.0], [2.0]], dtype="float32")
    y = np.array([0.0, 1.0, 3.0], dtype="float32")
    matched = np.mean((y - x[:, 0]) ** 2)
    broadcast = np.mean((y[None, :] - x) ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(matched)
    assert matched != pytest.approx(broadcast)


def test_keras_run_records_every_epoch_and_the_posted_model(dataset, hp):
    hp["epochs"] = 1
    result = train_keras.train(dataset, 3, hp, resolve({}, "keras", hp), device="cpu")
    assert [row["epoch"] for row in result["epochs"]] == [1]
    row = result["epochs"][0]
    # Keras' own val_loss and the full-set MSE agree: the same MSE over 700 rows.
    assert row["val_loss_user"] == pytest.approx(row["val_mse"], rel=1e-5)
    assert row["val_mse"] == pytest.approx(metrics.mse(dataset.y_val, result["predictions"]), rel=1e-6)
    assert [w.shape for w in result["weights"]] == [(10, 100), (100,), (100, 1), (1,)]
    assert result["settings"]["tf_intra_op_threads"] in (0, 1)
    assert result["predictions"].shape == (700,)


def test_keras_rejects_a_gpu_it_does_not_have():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="TensorFlow sees no GPU"):
        keras_model.check_device("cuda")


def test_steps_per_execution_changes_no_bit(dataset, hp):
    """The workflow's default (one epoch per compiled call) against the posted compile."""
    fast = train_keras.train(dataset, 5, hp, resolve({}, "keras", hp))
    plain = train_keras.train(dataset, 5, hp, resolve({}, "keras", hp), steps_per_execution=1)
    assert fast["settings"]["steps_per_execution"] == 219
    assert fast["predictions"].tobytes() == plain["predictions"].tobytes()
    for a, b in zip(fast["weights"], plain["weights"]):
        assert a.tobytes() == b.tobytes()
    assert fast["epochs"] == plain["epochs"]


def test_workflow_keras_path_is_the_posted_fit_bit_for_bit(dataset, hp):
    from gapstudy.studies.seed import posted

    ours = train_keras.train(dataset, 2, hp, resolve({}, "keras", hp))
    history, predictions, model = posted.keras_as_posted(dataset, seed=2, epochs=2)
    assert ours["predictions"].tobytes() == predictions.tobytes()
    assert [row["train_loss"] for row in ours["epochs"]] == history.history["loss"]
    assert [row["val_loss_user"] for row in ours["epochs"]] == history.history["val_loss"]


def test_a_run_does_not_depend_on_what_the_process_trained_before(dataset, hp):
    """A job trains its seeds one after another: seed 4 after seed 3 is seed 4 alone."""
    hp["epochs"] = 1
    switches = resolve({}, "keras", hp)
    alone = train_keras.train(dataset, 4, hp, switches)
    train_keras.train(dataset, 3, hp, switches)
    after = train_keras.train(dataset, 4, hp, switches)
    assert alone["predictions"].tobytes() == after["predictions"].tobytes()
    assert alone["epochs"] == after["epochs"]


def test_op_determinism_changes_no_number_on_cpu(dataset, hp):
    """The workflow turns TensorFlow's op determinism on (research question 5); the posted numbers stay."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    hp["epochs"] = 1
    switches = resolve({}, "keras", hp)
    was = tf_config.is_op_determinism_enabled()
    tf_config.disable_op_determinism()
    plain = train_keras.train(dataset, 6, hp, switches)
    tf.config.experimental.enable_op_determinism()
    try:
        deterministic = train_keras.train(dataset, 6, hp, switches)
    finally:
        (tf_config.enable_op_determinism if was else tf_config.disable_op_determinism)()
    assert plain["predictions"].tobytes() == deterministic["predictions"].tobytes()
    assert plain["epochs"] == deterministic["epochs"]
