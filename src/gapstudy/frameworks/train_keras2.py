"""Keras 2 training (framework ``keras2``): the user's Keras code verbatim on ``tf_keras``.

The question dates from 2022: the user ran Keras 2 (``tf.keras``), which
lives on as the ``tf-keras`` package. This runs the posted code on it as
posted: ``layers.Input(shape=10)`` (an int, which Keras 3 refuses),
``Dense`` with its own defaults, ``compile`` and
``fit(..., validation_data=(Xval, yval))``; only the imports are mapped
(``tensorflow.keras`` to ``tf_keras``). ``gapstudy.studies.seed.posted.keras2_as_posted``
is that code line for line, and ``tests/test_keras2.py`` holds this module
to it bit for bit.

Import this module only in a process of its own, after
``runtime.limit_threads`` (``gapstudy.studies.seed.run`` refuses a process that already
trained with Keras 3). Every Keras-side switch of ``gapstudy.variants``
is implemented here too, with Keras 2's own API.

Speed, as for Keras 3 (``keras_stacked``): where it supports the switches
(``STACKED``), a job's seeds train stacked in one compiled program, bit for
bit each seed's own posted ``fit`` (``tests/test_keras2.py``). Keras 2's
graph differs from Keras 3's in one place that matters: TensorFlow's graph
optimizer fuses ``Dense``'s ``MatMul`` and ``BiasAdd`` into one kernel,
which for the one-unit output layer rounds differently from the two ops
(Keras 3 adds that bias with ``tf.add``, which is not fused). So the stacked
layers run per seed in the fusable form, ``stacked_dense``; the rest
is Keras 3's stacked arithmetic (``stacked_ops``, the loss the ``loss`` switch
names), and the update Keras 2's own ``Adam`` (or its subclass with PyTorch's
rule, ``adam_rule: torch``).
Keras 2's ``fit`` draws a new batch order every epoch from one ``tf.data``
iterator (``fit_orders``), where Keras 3 repeats the first. Other switch
values train seed by seed, each through the posted ``fit``, one epoch per
compiled call (``steps_per_execution``, which changes no step's arithmetic).
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from gapstudy.frameworks import metrics


def _initializers(weight_init: str, bias_init: str, fan_in: int):
    """Keras 2 initialisers that draw from the distributions the switches name (None: Dense's default)."""
    import tf_keras

    weights = {
        "xavier_uniform": lambda: None,  # Dense's default, glorot_uniform, as posted
        "glorot_normal_truncated": lambda: tf_keras.initializers.GlorotNormal(),
        "xavier_normal": lambda: tf_keras.initializers.VarianceScaling(
            scale=1.0, mode="fan_avg", distribution="untruncated_normal"),
        "torch_default": lambda: tf_keras.initializers.VarianceScaling(
            scale=1 / 3, mode="fan_in", distribution="uniform"),
    }
    bound = 1 / math.sqrt(fan_in)
    biases = {
        "zeros": lambda: None,  # Dense's default, as posted
        "torch_default": lambda: tf_keras.initializers.RandomUniform(-bound, bound),
    }
    return weights[weight_init](), biases[bias_init]()


def torch_rule_adam(**kwargs):
    """Keras 2's Adam with PyTorch's update rule (bias corrections in float64, epsilon outside)."""
    import tensorflow as tf
    import tf_keras

    class TorchRuleAdam(tf_keras.optimizers.Adam):
        def update_step(self, gradient, variable):
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, tf.float64)
            bias_correction1 = 1 - tf.pow(tf.constant(self.beta_1, tf.float64), step)
            bias_correction2 = 1 - tf.pow(tf.constant(self.beta_2, tf.float64), step)
            step_size = tf.cast(tf.cast(self.learning_rate, tf.float64) / bias_correction1, dtype)
            bias_correction2_sqrt = tf.cast(tf.sqrt(bias_correction2), dtype)
            index = self._index_dict[self._var_key(variable)]
            m, v = self._momentums[index], self._velocities[index]
            m.assign(m + (gradient - m) * (1 - self.beta_1))
            v.assign(v * self.beta_2 + gradient * gradient * (1 - self.beta_2))
            denom = tf.sqrt(v) / bias_correction2_sqrt + self.epsilon
            variable.assign_sub(step_size * m / denom)

    return TorchRuleAdam(**kwargs)


def handwritten_mse(y_true, y_pred):
    """The user's PyTorch loss written for Keras 2."""
    import tensorflow as tf

    return tf.reduce_mean(tf.square(y_true - y_pred))


def build_model(n_features: int, hp: dict, switches: dict, steps_per_execution: int = 1):
    """The posted functional model on Keras 2; with the posted switches, the posted code's own calls."""
    import tf_keras
    from tf_keras import layers
    from tf_keras.models import Model

    activation = None if switches["activation"] == "none" else switches["activation"]
    hidden_init = _initializers(switches["weight_init"], switches["bias_init"], n_features)
    output_init = _initializers(switches["weight_init"], switches["bias_init"], hp["hidden_units"])

    def dense(units, activation, init):
        chosen = {key: value for key, value in zip(("kernel_initializer", "bias_initializer"), init)
                  if value is not None}
        return layers.Dense(units=units, activation=activation, use_bias=True,
                            kernel_regularizer=None, bias_regularizer=None, **chosen)

    x = layers.Input(shape=n_features)  # an int, as posted (Keras 3 wants (10,))
    z = dense(hp["hidden_units"], activation, hidden_init)(x)
    y = dense(1, None, output_init)(z)
    keras_model = Model(x, y, name="linear")
    loss = "mean_squared_error" if switches["loss"] == "framework" else handwritten_mse
    keras_model.compile(optimizer=optimizer(hp, switches), loss=loss, steps_per_execution=steps_per_execution)
    return keras_model


def optimizer(hp: dict, switches: dict, **options):
    """The posted Keras 2 ``Adam``, with the update rule the ``adam_rule`` switch names; ``options`` to the optimizer."""
    from tf_keras.optimizers import Adam

    adam = dict(learning_rate=switches["learning_rate"], beta_1=hp["beta_1"], beta_2=switches["beta_2"],
                epsilon=switches["epsilon"], amsgrad=False, **options)
    return Adam(**adam) if switches["adam_rule"] == "keras" else torch_rule_adam(**adam)


@contextlib.contextmanager
def _floatx(dtype: str):
    """Keras 2's floatx set to ``dtype``, then restored: the initialisers draw in it, and the optimizer makes
    its learning rate a variable of it (in float32, 1e-3 is 1.0000000475e-3: another float64 run)."""
    import tf_keras

    floatx = tf_keras.backend.floatx()
    tf_keras.backend.set_floatx(dtype)
    try:
        yield
    finally:
        tf_keras.backend.set_floatx(floatx)


def check_device(device: str) -> str | None:
    """Refuse a GPU run when TensorFlow sees no GPU; return its name."""
    if device == "cpu":
        return None
    if device != "cuda":
        raise ValueError(f"Keras 2 runs on cpu or cuda, not {device!r}")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise RuntimeError(
            "device 'cuda' was asked for a Keras 2 run, but TensorFlow sees no GPU: install "
            "'tensorflow[and-cuda]' instead of 'tensorflow-cpu' (see README), or remove 'cuda' from config 'devices'"
        )
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")


def _settings(model) -> dict:
    import tensorflow as tf
    import tf_keras
    from tensorflow.python.framework import config as tf_config  # the getter is not public

    from gapstudy.frameworks.runtime import onednn_setting

    return {
        "keras": f"tf_keras {tf_keras.__version__}",
        "onednn": onednn_setting(),
        "keras_backend": "tensorflow",
        "jit_compile": bool(model._jit_compile) if model is not None else False,
        "optimizer_jit_compile": bool(model.optimizer.jit_compile) if model is not None else False,
        "steps_per_execution": int(model._steps_per_execution.numpy()) if model is not None else None,
        "tf_op_determinism": tf_config.is_op_determinism_enabled(),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def train(dataset, seed: int, hp: dict, switches: dict, device: str = "cpu", progress=None,
          steps_per_execution: int | None = None) -> dict:
    """Train one run; return its record (as ``train_keras.train``'s).

    ``steps_per_execution`` defaults to one epoch's batches.
    """
    import tensorflow as tf
    import tf_keras

    device_name = check_device(device)
    # A fresh Keras 2 session per run: no graph, name or tf.function of an earlier run stays.
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed)
    y_train, y_val = dataset.y_train, dataset.y_val
    if switches["target_shape"] == "matched":
        y_train, y_val = y_train.reshape(-1, 1), y_val.reshape(-1, 1)
    if steps_per_execution is None:
        steps_per_execution = -(-len(dataset.X_train) // hp["batch_size"])
    epochs = []
    x_val = tf.constant(dataset.X_val, dtype=switches["dtype"])

    class Record(tf_keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # Compiled, as fit's and evaluate's graphs: Dense's MatMul and BiasAdd fused (predict's are not).
            self.full = tf.function(lambda x: self.model(x, training=False))

        def on_epoch_end(self, epoch, logs=None):
            full = self.full(x_val)
            row = {
                "epoch": epoch + 1,
                "train_loss": float(logs["loss"]),
                "val_loss_user": float(logs["val_loss"]),
                "val_mse": metrics.mse(dataset.y_val, np.asarray(full).reshape(-1)),
            }
            epochs.append(row)
            if progress is not None:
                progress(row)

    start = time.time()
    with _floatx(switches["dtype"]), tf.device("/GPU:0" if device == "cuda" else "/CPU:0"):
        model = build_model(dataset.X_train.shape[1], hp, switches, steps_per_execution)
        model.fit(dataset.X_train, y_train, sample_weight=None, batch_size=hp["batch_size"],
                  epochs=switches["epochs"], validation_data=(dataset.X_val, y_val),
                  shuffle=switches["shuffle"] == "on", verbose=0,
                  callbacks=[Record(), tf_keras.callbacks.TerminateOnNaN()])
        predictions = model.predict(dataset.X_val, verbose=0).reshape(-1)
    return {
        "epochs": epochs,
        "predictions": predictions,
        "weights": [np.asarray(w) for w in model.get_weights()],
        "train_seconds": time.time() - start,
        "device_name": device_name,
        "settings": _settings(model),
    }


# Switch values the stacked path implements; every other switch must be at the value given.
STACKED = {
    "activation": ("none",),
    "adam_rule": ("keras", "torch"),
    "loss": ("framework", "handwritten"),
    "target_shape": ("posted", "matched"),
    "shuffle": ("on", "off"),
    "dtype": ("float32", "float64"),
}


def supports(switches: dict, device: str = "cpu") -> bool:
    """Whether the stacked path trains exactly what ``train`` trains for these switches."""
    return device == "cpu" and all(switches.get(name) in values for name, values in STACKED.items())


def fit_orders(n: int, epochs: int, shuffle: bool) -> np.ndarray:
    """``(epochs, n)`` sample orders, as Keras 2's ``fit(shuffle=shuffle)`` draws them under the current global seed.

    Keras 2's ``TensorLikeDataAdapter`` maps ``Dataset.range(1).repeat(epochs)``
    through ``tf.random.shuffle(tf.range(n))`` and iterates it once for the
    whole fit: the shuffle's state carries over, so every epoch gets a new
    order. The op seed comes from the global seed and the map function's own
    graph, so the model built before does not change it. This is that
    dataset; ``tests/test_keras2.py`` checks it against ``fit``.
    """
    import tensorflow as tf

    if not shuffle:
        return np.broadcast_to(np.arange(n, dtype=np.int32), (epochs, n))

    def permutation(_):  # the adapter's map function, as written there
        indices = tf.range(n, dtype=tf.int64)
        indices = tf.random.shuffle(indices)
        return indices

    dataset = tf.data.Dataset.range(1).repeat(epochs).map(permutation)
    return np.stack([order.numpy().astype(np.int32) for order in dataset])


def draw(dataset, seed: int, hp: dict, switches: dict) -> tuple[int, list[np.ndarray], np.ndarray]:
    """``(seed, initial weights, epoch orders)`` as the posted Keras 2 ``fit`` draws them for ``seed``."""
    import tf_keras

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed)
    with _floatx(switches["dtype"]):
        model = build_model(dataset.X_train.shape[1], hp, switches)
    weights = [np.asarray(w) for w in model.get_weights()]
    return seed, weights, fit_orders(len(dataset.X_train), switches["epochs"], switches["shuffle"] == "on")


def stacked_dense(x, kernel, bias, fused: bool = True):
    """Keras 2's ``Dense`` per seed, without activation: (S, B, in), (S, in, out), (S, out) -> (S, B, out).

    ``bias_add(matmul(...))`` per seed (``Dense``'s own calls), joined as
    ``stacked_ops.per_seed`` joins them, so that TensorFlow's graph optimizer
    fuses each seed's pair into one kernel, as it does in Keras 2's ``fit``
    (for the one-unit output layer the fused kernel rounds differently from
    the two ops). ``fused=False`` adds the bias with ``+``, which the
    optimizer leaves unfused, as Keras 2's ``predict`` runs it.
    """
    import tensorflow as tf

    from gapstudy.frameworks.stacked_ops import per_seed

    def one(x, kernel, bias):
        product = tf.matmul(x, kernel)
        return tf.nn.bias_add(product, bias) if fused else product + bias

    return per_seed(one, x, kernel, bias)


def train_stacked(dataset, starts, hp: dict, switches: dict, progress=None) -> list[dict]:
    """Train from ``starts`` (``draw``'s) together; one result per seed, bit for bit its own ``train``."""
    import tensorflow as tf

    from gapstudy.frameworks.stacked_ops import (BATCH_LOSSES, batch_sizes, keras_mean, per_batch, per_row, record_epoch,
                                                 stacked_epoch)

    if not supports(switches):
        raise ValueError(f"the stacked Keras 2 path does not support these switches: {switches}")
    start = time.time()
    seeds = [seed for seed, _, _ in starts]
    stacked = [np.stack([w[i] for _, w, _ in starts]) for i in range(4)]
    variables = [tf.Variable(w, name=name) for w, name in
                 zip(stacked, ["hidden_kernel", "hidden_bias", "output_kernel", "output_bias"])]
    with _floatx(switches["dtype"]):
        adam = optimizer(hp, switches, jit_compile=False)  # as in fit on CPU (its settings record it)
        adam.build(variables)
    batch_loss, dtype = BATCH_LOSSES[switches["loss"]], getattr(tf, switches["dtype"])

    def forward(x, fused=True):
        """(S, B, in) -> (S, B, 1), both layers per seed (``stacked_dense``); ``fused=False`` as ``predict``."""
        hidden = stacked_dense(x, variables[0], variables[1], fused)
        return stacked_dense(hidden, variables[2], variables[3], fused)

    matched = switches["target_shape"] == "matched"
    X_train, X_val = tf.constant(dataset.X_train, dtype), tf.constant(dataset.X_val, dtype)
    y_train = dataset.y_train.astype(switches["dtype"])
    y_train = tf.constant(y_train.reshape(-1, 1) if matched else y_train)
    y_val = dataset.y_val.astype(switches["dtype"])
    y_val = tf.constant(y_val.reshape(-1, 1) if matched else y_val)
    S, n, bs = len(seeds), len(dataset.X_train), hp["batch_size"]
    sizes = batch_sizes(n, bs)
    val_sizes = batch_sizes(len(dataset.X_val), bs)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = batch_loss(y, forward(x))
            total = tf.reduce_sum(loss)
        adam.apply_gradients(zip(tape.gradient(total, variables), variables))
        return loss

    @tf.function
    def epoch(order):
        """One epoch for every seed: ``order`` (S, n) -> each step's loss per seed (S, steps)."""
        return stacked_epoch(step, X_train, y_train, order, bs, dtype)

    @tf.function
    def validate():
        """``evaluate``'s batch losses (S, batches), the full-set predictions and ``predict``'s (S, n_val)."""
        X = tf.broadcast_to(X_val, [S, *X_val.shape])
        Y = tf.broadcast_to(y_val, [S, *y_val.shape])
        losses = per_batch(lambda x, y: batch_loss(y, forward(x)), [X, Y], bs, dtype)
        predicted = per_row(lambda x: forward(x, fused=False)[..., 0], [X], bs, dtype)
        return losses, forward(X)[..., 0], predicted

    def seed_weights(s):
        return [v.numpy()[s] for v in variables]

    results = [{"epochs": []} for _ in seeds]
    alive, stopped = np.ones(S, bool), {}
    for e in range(switches["epochs"]):
        train_loss = keras_mean(epoch(tf.constant(np.stack([o[e] for _, _, o in starts]))).numpy(), sizes)
        val_losses, full_pred, predicted = (t.numpy() for t in validate())
        record_epoch(results, seeds, alive, stopped, e, train_loss, keras_mean(val_losses, val_sizes), full_pred,
                      dataset.y_val, progress, lambda s, predicted=predicted: (predicted[s], seed_weights(s)))
        if not alive.any():
            break
    predicted = validate()[2].numpy()
    seconds = time.time() - start
    for s, result in enumerate(results):
        prediction, weights = stopped.get(s) or (predicted[s], seed_weights(s))
        result.update({"predictions": prediction, "weights": weights, "train_seconds": seconds / S,
                       "device_name": None,
                       "settings": {**_settings(None), "stacked_seeds": S, "steps_per_execution": None}})
    return results


def train_from(dataset, starts, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """``train_stacked`` on CPU, under the name the common-random-numbers runs call (``gapstudy.studies.seed.crn``)."""
    if device != "cpu":
        raise ValueError(f"the stacked Keras 2 path runs on cpu, not {device!r}")
    return train_stacked(dataset, starts, hp, switches, progress)


def train_seeds(dataset, seeds, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train ``seeds``: stacked (``train_stacked``) where it supports the switches, else one ``fit`` per seed.

    Either way each seed's result is its own ``train``'s, bit for bit.
    ``progress(seed, row)`` per seed and epoch.
    """
    if supports(switches, device):
        return train_stacked(dataset, [draw(dataset, seed, hp, switches) for seed in seeds], hp, switches,
                             progress)
    return [train(dataset, seed, hp, switches, device,
                  progress=None if progress is None else (lambda row, seed=seed: progress(seed, row)))
            for seed in seeds]
