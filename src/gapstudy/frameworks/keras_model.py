"""The posted Keras model and what every Keras trainer asks of its backend.

``build_model`` is the user's functional model with the switches of
``gapstudy.variants``; ``device_scope``, ``check_device`` and
``thread_settings`` say where and with which pools Keras runs. Both Keras
trainers (``train_keras``, seed by seed, and ``keras_stacked``, the seeds
together) import this module and not each other.
"""

from __future__ import annotations

import math


def initializers(weight_init: str, bias_init: str, fan_in: int):
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


def optimizer(hp: dict, switches: dict):
    """The posted ``Adam``, with the update rule the ``adam_rule`` switch names (Keras' own or PyTorch's)."""
    import keras

    adam = dict(learning_rate=switches["learning_rate"], beta_1=hp["beta_1"], beta_2=switches["beta_2"],
                epsilon=switches["epsilon"], amsgrad=False)
    return keras.optimizers.Adam(**adam) if switches["adam_rule"] == "keras" else torch_rule_adam(**adam)


def jax_validation(model, X_val, y_val, batch_size: int):
    """``(trainable, non_trainable) -> (fit's validation loss, the full-set predictions (n, ...))`` on JAX, stateless.

    ``fit`` on JAX evaluates with its jitted ``test_step`` per batch, which
    feeds each batch's loss to a fresh loss tracker (a ``Mean`` weighted by
    the batch size). This is that ``test_step`` over every batch in order,
    one pure function to jit: the seed-by-seed run (``train_keras``) and the
    stacked seeds (``keras_stacked``) validate through it, each seed on its
    own variables.
    """
    import jax.numpy as jnp

    fresh = [jnp.zeros(v.shape, v.dtype) for v in model.metrics_variables]
    starts = range(0, len(X_val), batch_size)

    def validate(trainable, non_trainable):
        state = (trainable, non_trainable, fresh)
        for start in starts:
            logs, state = model.test_step(state, (X_val[start:start + batch_size], y_val[start:start + batch_size]))
        return logs["loss"], model.stateless_call(trainable, non_trainable, X_val)[0]

    return validate


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
    hidden_init = initializers(switches["weight_init"], switches["bias_init"], n_features)
    output_init = initializers(switches["weight_init"], switches["bias_init"], hp["hidden_units"])
    z = layers.Dense(units=hp["hidden_units"], activation=activation, use_bias=True,
                     kernel_initializer=hidden_init[0], bias_initializer=hidden_init[1])(x)
    y = layers.Dense(units=1, activation=None, use_bias=True,
                     kernel_initializer=output_init[0], bias_initializer=output_init[1])(z)
    model = keras.Model(x, y, name="linear")
    # A plain function, as a user would pass it; Keras wraps it like its own losses.
    loss = "mean_squared_error" if switches["loss"] == "framework" else handwritten_mse
    model.compile(optimizer=optimizer(hp, switches), loss=loss, steps_per_execution=steps_per_execution)
    return model


def device_scope(device: str):
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


def thread_settings() -> dict:
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

    from gapstudy.frameworks.runtime import onednn_setting

    return {
        "onednn": onednn_setting(),
        "tf_op_determinism": tf_config.is_op_determinism_enabled(),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
