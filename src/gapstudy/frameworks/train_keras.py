"""Keras 3 training: the user's ``model.fit``, with a per-epoch full-set score.

On TensorFlow, PyTorch (``keras_torch``) or JAX (``keras_jax``): the same
code, whichever backend ``KERAS_BACKEND`` named when Keras was imported.
On JAX, one jitted step per batch, as its ``fit`` does; ``keras_stacked``
stacks the seeds of every backend.

Import this module only after ``runtime.limit_threads`` (and with
``KERAS_BACKEND`` set, for Keras on another backend): Keras and TensorFlow
size their thread pools when first imported.

Every switch of ``gapstudy.variants`` that applies to Keras is honoured
here; with the posted defaults the code path is the user's.
"""

from __future__ import annotations

import time

import numpy as np

from gapstudy.frameworks import metrics
from gapstudy.frameworks.keras_model import build_model, check_device, device_scope, keras_backend, thread_settings


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

    ``hp`` gives the architecture, batch size and betas; learning rate,
    epsilon and epochs come from the resolved ``switches``.
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
        def on_train_begin(self, logs=None):
            self.validate = validation_pass(self.model, dataset.X_val, y_val, hp["batch_size"])

        def on_epoch_end(self, epoch, logs=None):
            val_loss, full = self.validate()
            row = {
                "epoch": epoch + 1,
                "train_loss": float(logs["loss"]),
                "val_loss_user": float(val_loss),
                "val_mse": metrics.mse(dataset.y_val, keras.ops.convert_to_numpy(full).reshape(-1)),
            }
            epochs.append(row)
            if progress is not None:
                progress(row)

    start = time.time()
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    # Loss and optimizer follow floatx; layers follow the global dtype policy, which
    # Keras fixes from floatx when the process builds its first layer, so set both.
    keras.config.set_floatx(switches["dtype"])
    keras.config.set_dtype_policy(switches["dtype"])
    try:
        model, predictions = _fit(dataset, y_train, hp, switches, device,
                                  steps_per_execution, [Record(), keras.callbacks.TerminateOnNaN()])
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)
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
            "steps_per_execution": model.steps_per_execution,
            **thread_settings(),
        },
    }


def validation_pass(model, X_val, y_val, batch_size: int):
    """``fit``'s validation loss and the full-set predictions, in one compiled call.

    ``fit(validation_data=...)`` evaluates through a fresh ``tf.data``
    iterator every epoch, which costs about as much as 50 train steps. This
    runs Keras' own ``test_step`` arithmetic on the same unshuffled batches
    (``model(x, training=False)``, ``compute_loss``, a ``Mean`` weighted by
    batch size, as fit's loss tracker) on tensors, without ``tf.data``; the
    losses are bit for bit fit's (``tests/test_train_keras.py``). The
    validation pass never touches the weights or the random state.
    """
    import keras

    floatx = keras.config.floatx()
    x, y = keras.ops.convert_to_tensor(X_val, dtype=floatx), keras.ops.convert_to_tensor(y_val, dtype=floatx)
    starts = range(0, len(X_val), batch_size)
    tracker = keras.metrics.Mean(name="val_loss")

    def run():
        tracker.reset_state()
        for start in starts:
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=False), training=False)
            tracker.update_state(loss, sample_weight=xb.shape[0])
        return tracker.result(), model(x, training=False)

    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()(run)  # eager, as that backend's evaluate runs it
    if keras.backend.backend() == "jax":  # compiled, as that backend's evaluate runs its test_step
        import jax

        from gapstudy.frameworks.keras_model import jax_validation

        validate = jax.jit(jax_validation(model, x, y, batch_size))
        return lambda: validate([v.value for v in model.trainable_variables],
                                [v.value for v in model.non_trainable_variables])
    import tensorflow as tf

    return tf.function(run)


def _fit(dataset, y_train, hp, switches, device, steps_per_execution, callbacks):
    with device_scope(device):
        if steps_per_execution is None:
            # One epoch per compiled call; Keras on PyTorch allows only 1.
            tensorflow = keras_backend() == "tensorflow"
            steps_per_execution = -(-len(dataset.X_train) // hp["batch_size"]) if tensorflow else 1
        model = build_model(dataset.X_train.shape[1], hp, switches, steps_per_execution)
        # No validation_data: Record computes fit's val_loss itself (validation_pass).
        model.fit(
            dataset.X_train,
            y_train,
            batch_size=hp["batch_size"],
            epochs=switches["epochs"],
            shuffle=switches["shuffle"] == "on",
            verbose=0,
            callbacks=callbacks,
        )
        return model, model.predict(dataset.X_val, verbose=0).reshape(-1)


def train_seeds(dataset, seeds, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train ``seeds``: stacked in one program (``keras_stacked``) where it supports the switches, else one by one.

    Either way each seed's result is its own ``train``'s (bit for bit on
    TensorFlow; see ``keras_stacked``). ``progress(seed, row)`` per seed and epoch.
    """
    from gapstudy.frameworks import keras_stacked

    if keras_stacked.supports(switches):
        return keras_stacked.train(dataset, seeds, hp, switches, device, progress)
    return [train(dataset, seed, hp, switches, device,
                  progress=None if progress is None else (lambda row, seed=seed: progress(seed, row)))
            for seed in seeds]
