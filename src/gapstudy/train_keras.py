"""Keras 3 training: the user's ``model.fit``, with a per-epoch full-set score.

On TensorFlow, PyTorch (``keras_torch``) or JAX (``keras_jax``): the same
code, whichever backend ``KERAS_BACKEND`` named when Keras was imported.
JAX runs seed by seed (``keras_stacked`` has no JAX path), one jitted step
per batch, as its ``fit`` does.

Import this module only after ``runtime.limit_threads`` (and with
``KERAS_BACKEND`` set, for Keras on another backend): Keras and TensorFlow
size their thread pools when first imported.

Every switch of ``gapstudy.variants`` that applies to Keras is honoured
here; with the posted defaults the code path is the user's.
"""

from __future__ import annotations

import math
import time

import numpy as np

from gapstudy import metrics


def _initializers(weight_init: str, bias_init: str, fan_in: int):
    """Keras initialisers that draw from the distributions the switches name."""
    import keras

    weights = {
        "xavier_uniform": lambda: keras.initializers.GlorotUniform(),
        "glorot_normal_truncated": lambda: keras.initializers.GlorotNormal(),
        # Untruncated normal with variance 2 / (fan_in + fan_out), like torch's xavier_normal_.
        "xavier_normal": lambda: keras.initializers.VarianceScaling(
            scale=1.0, mode="fan_avg", distribution="untruncated_normal"),
        # kaiming_uniform_(a=sqrt(5)): uniform on ±1/sqrt(fan_in) = ±sqrt(3 · (1/3) / fan_in).
        "torch_default": lambda: keras.initializers.VarianceScaling(
            scale=1 / 3, mode="fan_in", distribution="uniform"),
    }
    bound = 1 / math.sqrt(fan_in)
    biases = {
        "zeros": lambda: keras.initializers.Zeros(),
        "torch_default": lambda: keras.initializers.RandomUniform(-bound, bound),
    }
    return weights[weight_init](), biases[bias_init]()


def torch_rule_adam(**kwargs):
    """Keras' Adam with PyTorch's update rule (bias corrections in float64, epsilon outside)."""
    import keras
    from keras import ops

    class TorchRuleAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            dtype = variable.dtype
            gradient = ops.cast(gradient, dtype)
            step = ops.cast(self.iterations + 1, "float64")
            # convert_to_tensor with a dtype keeps the Python float exact; ops.cast
            # would round it through float32 first (0.9999 -> 0.99989998...).
            beta_1 = ops.convert_to_tensor(self.beta_1, dtype="float64")
            beta_2 = ops.convert_to_tensor(self.beta_2, dtype="float64")
            bias_correction1 = 1 - ops.power(beta_1, step)
            bias_correction2 = 1 - ops.power(beta_2, step)
            step_size = ops.cast(ops.cast(learning_rate, "float64") / bias_correction1, dtype)
            bias_correction2_sqrt = ops.cast(ops.sqrt(bias_correction2), dtype)
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            self.assign(m, m + (gradient - m) * (1 - self.beta_1))
            self.assign(v, v * self.beta_2 + gradient * gradient * (1 - self.beta_2))
            denom = ops.sqrt(v) / bias_correction2_sqrt + self.epsilon
            self.assign_sub(variable, step_size * m / denom)

    return TorchRuleAdam(**kwargs)


def handwritten_mse(y_true, y_pred):
    """The user's PyTorch loss written for Keras (Keras aligns the shapes before calling it)."""
    from keras import ops

    return ops.mean(ops.square(y_true - y_pred))


def build_model(n_features: int, hp: dict, switches: dict | None = None, steps_per_execution: int = 1):
    """The posted functional model: two Dense layers, no activation (unless switched).

    ``steps_per_execution`` runs that many of Keras' own train steps inside
    one compiled call; each step's arithmetic is unchanged, so the weights
    are bit for bit those of the posted ``compile`` (a test checks it), at
    about half the cost.
    """
    import keras
    from keras import layers

    from gapstudy.variants import resolve

    switches = switches or resolve({}, "keras", hp)
    activation = None if switches["activation"] == "none" else switches["activation"]
    x = layers.Input(shape=(n_features,))
    hidden_init = _initializers(switches["weight_init"], switches["bias_init"], n_features)
    output_init = _initializers(switches["weight_init"], switches["bias_init"], hp["hidden_units"])
    z = layers.Dense(units=hp["hidden_units"], activation=activation, use_bias=True,
                     kernel_initializer=hidden_init[0], bias_initializer=hidden_init[1])(x)
    y = layers.Dense(units=1, activation=None, use_bias=True,
                     kernel_initializer=output_init[0], bias_initializer=output_init[1])(z)
    model = keras.Model(x, y, name="linear")
    adam = dict(learning_rate=switches["learning_rate"], beta_1=hp["beta_1"], beta_2=switches["beta_2"],
                epsilon=switches["epsilon"], amsgrad=False)
    optimizer = keras.optimizers.Adam(**adam) if switches["adam_rule"] == "keras" else torch_rule_adam(**adam)
    # A plain function, as a user would pass it; Keras wraps it like its own losses.
    loss = "mean_squared_error" if switches["loss"] == "framework" else handwritten_mse
    model.compile(optimizer=optimizer, loss=loss, steps_per_execution=steps_per_execution)
    return model


def _device_scope(device: str):
    import contextlib

    import keras

    if device == "cpu" and keras.backend.backend() != "tensorflow":
        # Keras' torch backend copies variables to "cpu:0" inside keras.device("cpu:0"),
        # and the copies are not leaves: no gradient reaches them. CPU is its default anyway.
        return contextlib.nullcontext()
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


def keras_backend() -> str:
    import keras

    return keras.backend.backend()


def _thread_settings() -> dict:
    if keras_backend() == "torch":
        import torch

        return {"torch_num_threads": torch.get_num_threads(),
                "torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
    if keras_backend() == "jax":
        import os

        return {"xla_flags": os.environ.get("XLA_FLAGS", "")}
    if keras_backend() != "tensorflow":
        return {}
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # the getter is not public

    from gapstudy.runtime import onednn_setting

    return {
        "onednn": onednn_setting(),
        "tf_op_determinism": tf_config.is_op_determinism_enabled(),
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
            **_thread_settings(),
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
    if keras.backend.backend() != "tensorflow":
        return run
    import tensorflow as tf

    return tf.function(run)


def _fit(dataset, y_train, hp, switches, device, steps_per_execution, callbacks):
    with _device_scope(device):
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
    from gapstudy import keras_stacked

    if keras_stacked.supports(switches):
        return keras_stacked.train(dataset, seeds, hp, switches, device, progress)
    return [train(dataset, seed, hp, switches, device,
                  progress=None if progress is None else (lambda row, seed=seed: progress(seed, row)))
            for seed in seeds]
