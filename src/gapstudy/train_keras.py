"""Keras 3 training: the user's ``model.fit``, with a per-epoch full-set score.

Import this module only after ``runtime.limit_threads`` (and with
``KERAS_BACKEND`` set, for Keras on another backend): Keras and TensorFlow
size their thread pools when first imported.
"""

from __future__ import annotations

import time

import numpy as np

from gapstudy import metrics


def build_model(n_features: int, hp: dict, steps_per_execution: int = 1):
    """The posted functional model: two Dense layers, no activation.

    ``steps_per_execution`` runs that many of Keras' own train steps inside
    one compiled call; each step's arithmetic is unchanged, so the weights
    are bit for bit those of the posted ``compile`` (a test checks it), at
    about half the cost.
    """
    import keras
    from keras import layers

    x = layers.Input(shape=(n_features,))
    z = layers.Dense(units=hp["hidden_units"], activation=None, use_bias=True)(x)
    y = layers.Dense(units=1, activation=None, use_bias=True)(z)
    model = keras.Model(x, y, name="linear")
    optimizer = keras.optimizers.Adam(
        learning_rate=hp["learning_rate"],
        beta_1=hp["beta_1"],
        beta_2=hp["beta_2"],
        epsilon=hp["epsilon"],
        amsgrad=False,
    )
    model.compile(
        optimizer=optimizer, loss="mean_squared_error", steps_per_execution=steps_per_execution
    )
    return model


def _device_scope(device: str):
    import keras

    if device == "cpu":
        return keras.device("cpu:0")
    if device == "cuda":
        return keras.device("gpu:0")
    raise ValueError(f"Keras runs on cpu or cuda, not {device!r}")


def check_device(device: str) -> str | None:
    """Refuse a GPU run when this Keras backend sees no GPU; return its name."""
    if device != "cuda":
        return None
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise RuntimeError(
                "device 'cuda' was asked for a Keras run, but TensorFlow sees no GPU: "
                "install 'tensorflow[and-cuda]' instead of 'tensorflow-cpu' (see README), "
                "or remove 'cuda' from config 'devices'"
            )
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    import torch

    return torch.cuda.get_device_name(0)


def _thread_settings() -> dict:
    import keras

    if keras.backend.backend() != "tensorflow":
        return {}
    import tensorflow as tf

    return {
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def train(
    dataset,
    seed: int,
    hp: dict,
    switches: dict,
    device: str = "cpu",
    progress=None,
    steps_per_execution: int | None = None,
) -> dict:
    """Train one run; return its record (see README, "What each run writes").

    ``steps_per_execution`` defaults to one epoch's batches.
    """
    import keras

    device_name = check_device(device)
    keras.utils.set_random_seed(seed)
    y_train, y_val = dataset.y_train, dataset.y_val
    if switches["target_shape"] == "matched":
        y_train, y_val = y_train.reshape(-1, 1), y_val.reshape(-1, 1)
    epochs = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            full = np.asarray(self.model(dataset.X_val, training=False)).reshape(-1)
            row = {
                "epoch": epoch + 1,
                "train_loss": float(logs["loss"]),
                "val_loss_user": float(logs["val_loss"]),
                "val_mse": metrics.mse(dataset.y_val, full),
            }
            epochs.append(row)
            if progress is not None:
                progress(row)

    start = time.time()
    with _device_scope(device):
        if steps_per_execution is None:
            steps_per_execution = -(-len(dataset.X_train) // hp["batch_size"])
        model = build_model(dataset.X_train.shape[1], hp, steps_per_execution)
        model.fit(
            dataset.X_train,
            y_train,
            batch_size=hp["batch_size"],
            epochs=hp["epochs"],
            validation_data=(dataset.X_val, y_val),
            verbose=0,
            callbacks=[Record()],
        )
        predictions = model.predict(dataset.X_val, verbose=0).reshape(-1)
    weights = [np.asarray(w) for w in model.get_weights()]
    return {
        "epochs": epochs,
        "predictions": predictions,
        "weights": weights,
        "train_seconds": time.time() - start,
        "device_name": device_name,
        "settings": {
            "keras_backend": keras.backend.backend(),
            "jit_compile": bool(model.jit_compile),
            "steps_per_execution": steps_per_execution,
            **_thread_settings(),
        },
    }
