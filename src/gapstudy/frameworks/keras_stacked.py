"""Many seeds of the posted Keras model in one compiled program, bit for bit ``fit`` per seed.

A Keras run of this model is about 22,000 optimizer steps of some hundred
small TensorFlow ops each (forward, loss, gradients, Adam on four
variables); each op costs microseconds of dispatch, the arithmetic far less.
Here the seeds of a job are stacked: every variable gets a leading seed axis
(kernel ``(S, in, out)``, bias ``(S, out)``), each seed its own batch of its
own epoch order, and one op serves all seeds where ``fit`` runs one per seed.

What keeps each seed's numbers those of its own ``fit``:

- **Initial weights** are drawn by building the posted model under
  ``keras.utils.set_random_seed(seed)`` (``keras_model.build_model``) and
  copying its weights into the seed's slice.
- **Batch order** comes from Keras' own ``ArrayDataAdapter`` under the same
  global seed: ``fit``'s shuffle depends on nothing else
  (``tests/test_keras_stacked.py`` compares the orders).
- **Arithmetic**: the ops are those ``fit``'s train step runs (``Dense``'s
  ``matmul`` and ``add``, ``square``, ``mean``, ``sum``, ``divide_no_nan``;
  their gradients by ``tf.GradientTape``; the update by a real
  ``keras.optimizers.Adam``). Elementwise ops, the Adam update among them,
  run on the stacked operands: they give the same bits at any shape. Each
  ``Dense`` runs per seed (``stacked_ops.per_seed``), so every product and
  its gradient is the 2-D ``MatMul`` of the seed's own ``fit``: the kernel
  that oneDNN picks for that shape on this CPU, whichever CPU it is. (A
  batched product is another kernel: on AVX-512 the output layer's rounds
  differently from ``fit``'s, on AVX2 it does not.) The loss's reductions
  run over each seed's own axis of the batch, as ``fit`` reduces it.
  ``tests/test_cpu_isa.py`` compares whole runs with ``fit`` bit for bit
  under every instruction set oneDNN may choose on x86.

Only the switches in ``SUPPORTED`` take this path (``supports``); any other
value trains seed by seed through ``train_keras.train``. The Keras-side
switches take it too: PyTorch's Adam rule is the same ``Adam`` subclass as
``fit``'s (``keras_model.optimizer``), elementwise on the stacked variables,
and the hand-written loss is reduced over each seed's own batch
(``stacked_ops.BATCH_LOSSES``).
"""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

from gapstudy.frameworks.stacked_ops import (BATCH_LOSSES, batch_sizes, keras_mean, per_batch, per_row, per_seed, record_epoch,
                                  stacked_epoch)

# Switch values this path implements; every other switch must be at the value given.
SUPPORTED = {
    "activation": ("none", "relu", "tanh"),
    "adam_rule": ("keras", "torch"),
    "loss": ("framework", "handwritten"),
    "target_shape": ("posted", "matched"),
    "shuffle": ("on", "off"),
    "dtype": ("float32", "float64"),
}
# Keras' PyTorch backend (``_train_torch``) has the posted loss and Adam rule only.
SUPPORTED_ON_TORCH = {**SUPPORTED, "adam_rule": ("keras",), "loss": ("framework",)}


def supports(switches: dict) -> bool:
    """Whether this path trains exactly what ``train_keras.train`` trains for these switches."""
    import keras

    supported = {"tensorflow": SUPPORTED, "torch": SUPPORTED_ON_TORCH, "jax": SUPPORTED}.get(keras.backend.backend())
    return supported is not None and all(switches.get(name) in values for name, values in supported.items())


def epoch_orders(n: int, epochs: int, shuffle: bool) -> np.ndarray:
    """``(epochs, n)`` sample orders, as ``fit(shuffle=shuffle)`` draws them under the current global seed.

    ``fit`` (Keras 3, TensorFlow) makes one ``tf.data`` dataset from its
    ``ArrayDataAdapter``, whose first map draws each epoch's permutation with
    ``tf.random.shuffle(tf.range(n))``, and iterates it once per epoch. Each
    new iterator instantiates that map function afresh, with the same seeds
    (the global seed and the function graph's op seed), so its random stream
    restarts: with a global seed set, every epoch of ``fit`` sees the same
    order (as tensorflow/tensorflow#26179 and #29558 reported for datasets).
    This draws that permutation with a fresh function of the same form, in
    milliseconds where iterating the adapter costs about a second per 100
    epochs; ``tests/test_keras_stacked.py`` checks it against the adapter
    epoch by epoch and against ``fit`` itself.
    """
    import tensorflow as tf

    if not shuffle:
        return np.broadcast_to(np.arange(n, dtype=np.int32), (epochs, n))

    @tf.function
    def permutation(element):  # the adapter's map function: one argument, tf.range, shuffle
        return tf.random.shuffle(tf.range(n, dtype=tf.int64))

    first = permutation(tf.constant(0, tf.int64)).numpy().astype(np.int32)
    return np.broadcast_to(first, (epochs, n))  # one array, not a copy per epoch


def adapter_orders(n: int, epochs: int, shuffle: bool) -> np.ndarray:
    """The same orders read from Keras' own ``ArrayDataAdapter`` (slow; for the tests)."""
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    dataset = ArrayDataAdapter(np.arange(n), shuffle=shuffle, batch_size=n).get_tf_dataset()
    return np.stack([np.concatenate([b.numpy() for b in dataset]) for _ in range(epochs)])


def draw(dataset, seed: int, hp: dict, switches: dict) -> tuple[int, list[np.ndarray], np.ndarray]:
    """``(seed, initial weights, epoch orders)`` as the posted ``fit`` draws them for ``seed``.

    The weights come from the posted model built under
    ``keras.utils.set_random_seed(seed)``. On TensorFlow the orders are
    ``fit``'s own (``epoch_orders``); on Keras' PyTorch backend ``fit``'s
    ``DataLoader`` draws a ``RandomSampler`` permutation per epoch from
    PyTorch's global generator, which ``loader_draws.epoch_order`` repeats.
    """
    import keras

    from gapstudy.frameworks.keras_model import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(dataset.X_train.shape[1], hp, switches)
    weights = [np.asarray(w) for w in model.get_weights()]
    n, epochs, shuffle = len(dataset.X_train), switches["epochs"], switches["shuffle"] == "on"
    orders = {"tensorflow": epoch_orders, "torch": _torch_fit_orders, "jax": _jax_fit_orders}
    return seed, weights, orders[keras.backend.backend()](n, epochs, shuffle)


def _jax_fit_orders(n: int, epochs: int, shuffle: bool) -> np.ndarray:
    """The orders of ``fit`` on Keras' JAX backend, from NumPy's global generator.

    There ``fit`` iterates its ``ArrayDataAdapter`` through NumPy: each
    iterator draws ``np.random.permutation(n)`` when it starts, and nothing
    else of the run draws from NumPy. Before the first epoch ``fit`` opens
    one iterator to build the loss (``Trainer._symbolic_build``), whose
    order no step sees; then one per epoch. A test checks these orders
    against ``fit``'s.
    """
    if not shuffle:
        return np.broadcast_to(np.arange(n, dtype=np.int32), (epochs, n))
    np.random.permutation(n)  # the iterator that builds the loss
    return np.stack([np.random.permutation(n).astype(np.int32) for _ in range(epochs)])


def _torch_fit_orders(n: int, epochs: int, shuffle: bool) -> np.ndarray:
    """The orders of ``fit`` on Keras' PyTorch backend, from PyTorch's global generator.

    ``fit`` first takes one batch from a ``DataLoader`` iterator of its own
    (to build the optimizer and metrics): a base seed and a sampler seed.
    Each epoch then opens an iterator (base seed, sampler seed, permutation:
    ``loader_draws.epoch_order``) and, once it is exhausted, opens the next
    epoch's iterator ahead (one more base seed). A test checks these orders
    against ``fit``'s.
    """
    import torch

    from gapstudy.frameworks.loader_draws import epoch_order

    def base_seed():
        torch.empty((), dtype=torch.int64).random_()

    base_seed()
    if shuffle:
        base_seed()
    orders = []
    for _ in range(epochs):
        orders.append(epoch_order(n, shuffle).numpy().astype(np.int32))  # int32: a 33-seed job's orders in 90 MB
        base_seed()
    return np.stack(orders)


class StackedModel:
    """The posted two-layer model for S seeds: kernels ``(S, in, out)``, biases ``(S, out)``."""

    def __init__(self, initial: list[list[np.ndarray]], activation: str, dtype: str):
        import keras

        stacked = [np.stack([w[i] for w in initial]) for i in range(4)]
        names = ["hidden_kernel", "hidden_bias", "output_kernel", "output_bias"]
        self.variables = [keras.Variable(w.astype(dtype), name=n, dtype=dtype) for w, n in zip(stacked, names)]
        # Dense's own activation function, as the posted model's hidden layer gets it.
        self.activation = None if activation == "none" else keras.activations.get(activation)

    def __call__(self, x):
        """``x`` (S, B, in) -> predictions (S, B, 1), each seed through ``Dense``'s own ops (``dense``)."""
        w1, b1, w2, b2 = (v.value for v in self.variables)
        z = per_seed(lambda *args: dense(*args, activation=self.activation), x, w1, b1)
        return per_seed(dense, z, w2, b2)

    def seed_weights(self, s: int) -> list[np.ndarray]:
        """Seed ``s``'s weights in Keras' layout: kernel (in, out), bias (out,) per layer."""
        return [np.asarray(v.numpy())[s] for v in self.variables]


def dense(x, kernel, bias, activation=None):
    """Keras 3's ``Dense.call`` on one seed: (B, in), (in, out), (out,) -> (B, out).

    ``ops.matmul``, ``ops.add``, then the activation, as the layer calls
    them: on TensorFlow a 2-D ``MatMul``, for more than one unit ``BiasAdd``,
    and, say, ``Tanh``, which the graph optimizer may fuse into one oneDNN
    kernel as in ``fit``'s graph (its tanh is not Eigen's: applied to the
    stacked seeds after the fact, it rounds differently on AVX-512). The tape
    differentiates these ops as it does in ``fit``.
    """
    from keras import ops

    x = ops.add(ops.matmul(x, kernel), bias)
    return x if activation is None else activation(x)


def train(dataset, seeds, hp: dict, switches: dict, device: str = "cpu", progress=None) -> list[dict]:
    """Train ``seeds`` together from their own draws (``draw``); one result per seed, as ``train_keras.train``.

    ``progress(seed, row)`` is called per seed and epoch.
    """
    with _floatx(switches["dtype"]):  # the initialisers draw in the run's dtype
        starts = [draw(dataset, seed, hp, switches) for seed in seeds]
    return train_from(dataset, starts, hp, switches, device, progress)


def train_from(dataset, starts, hp: dict, switches: dict, device: str = "cpu", progress=None,
               predict_batch_size: int | None = None) -> list[dict]:
    """Train from given ``starts``, each ``(seed, weights in Keras' layout, orders (epochs, n))``.

    The common-random-numbers runs (``gapstudy.studies.seed.crn``) give every side the same starts, the
    catalogue's seed case (``gapstudy.studies.catalogue.keras_ref``) its own model's. The predictions are
    ``predict``'s in batches of ``predict_batch_size`` rows (default: the training batch size, as the
    posted ``predict``); on TensorFlow only.
    """
    import keras

    from gapstudy.frameworks.keras_model import check_device, device_scope

    if not supports(switches):
        raise ValueError(f"the stacked Keras path does not support these switches: {switches}")
    device_name = check_device(device)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        trainer = functools.partial(_train_tf, predict_batch_size=predict_batch_size or hp["batch_size"])
    elif predict_batch_size in (None, hp["batch_size"]):
        trainer = {"torch": _train_torch, "jax": _train_jax}[backend]
    else:
        raise ValueError(f"a predict batch size other than the training batch is implemented on TensorFlow, "
                         f"not on {backend}")
    with _floatx(switches["dtype"]), device_scope(device):
        results = trainer(dataset, list(starts), hp, switches, switches["dtype"], progress)
    for result in results:
        result["device_name"] = device_name
    return results


@contextlib.contextmanager
def _floatx(dtype: str):
    """Keras' floatx and dtype policy set to ``dtype`` (as ``train_keras.train`` sets them), then restored."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def _train_tf(dataset, starts, hp, switches, dtype, progress, predict_batch_size):
    import tensorflow as tf

    from gapstudy.frameworks import keras_model

    start = time.time()
    seeds = [seed for seed, _, _ in starts]
    model = StackedModel([w for _, w, _ in starts], switches["activation"], dtype)
    optimizer = keras_model.optimizer(hp, switches)
    optimizer.build(model.variables)
    batch_loss = BATCH_LOSSES[switches["loss"]]
    variables = model.variables
    trainable = [v.value for v in variables]

    matched = switches["target_shape"] == "matched"
    X_train = tf.constant(dataset.X_train.astype(dtype))
    y_train = dataset.y_train.astype(dtype)
    y_train = tf.constant(y_train.reshape(-1, 1) if matched else y_train)
    X_val = tf.constant(dataset.X_val.astype(dtype))
    y_val_np = dataset.y_val.astype(dtype)
    y_val = tf.constant(y_val_np.reshape(-1, 1) if matched else y_val_np)
    S, n, bs = len(seeds), len(dataset.X_train), hp["batch_size"]

    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            loss = batch_loss(y, model(x))
            total = tf.reduce_sum(loss)
        grads = tape.gradient(total, trainable)
        optimizer.apply(grads, variables)
        return loss

    sizes, val_sizes = batch_sizes(n, bs), batch_sizes(len(dataset.X_val), bs)

    @tf.function
    def epoch(order):
        """One epoch for every seed: ``order`` (S, n) -> each step's loss per seed (S, steps)."""
        return stacked_epoch(step, X_train, y_train, order, bs, dtype)

    @tf.function
    def validate():
        """``fit``'s validation batch losses per seed (S, batches) and the full-set predictions (S, n_val)."""
        X = tf.broadcast_to(X_val, [S, *X_val.shape])
        Y = tf.broadcast_to(y_val, [S, *y_val.shape])
        return per_batch(lambda x, y: batch_loss(y, model(x)), [X, Y], bs, dtype), model(X)[..., 0]

    results = [{"epochs": []} for _ in seeds]
    alive, stopped = np.ones(S, bool), {}
    for e in range(switches["epochs"]):
        order = np.stack([o[e] for _, _, o in starts])  # (S, n)
        train_loss = keras_mean(epoch(tf.constant(order)).numpy(), sizes)
        val_losses, full_pred = (t.numpy() for t in validate())
        val_loss = keras_mean(val_losses, val_sizes)
        record_epoch(results, seeds, alive, stopped, e, train_loss, val_loss, full_pred, dataset.y_val, progress,
                      lambda s: (_predict(model, X_val, S, predict_batch_size)[s], model.seed_weights(s)))
        if not alive.any():
            break

    predictions = _predict(model, X_val, S, predict_batch_size)
    final = [stopped.get(s) or (predictions[s], model.seed_weights(s)) for s in range(S)]
    return _results(results, [p for p, _ in final], [w for _, w in final], time.time() - start)


def _results(results, predictions, weights, seconds):
    """Each seed's result: its epochs, predictions, weights, and the job's seconds shared out."""
    import keras

    from gapstudy.frameworks.keras_model import thread_settings

    for result, p, w in zip(results, predictions, weights):
        result.update({
            "predictions": p,
            "weights": w,
            "train_seconds": seconds / len(results),
            # Only the JAX path compiles with XLA (``_train_jax``), as ``fit`` does there.
            "settings": {"keras_backend": keras.backend.backend(), "jit_compile": keras.backend.backend() == "jax",
                         "stacked_seeds": len(results), **thread_settings()},
        })
    return results


def _train_torch(dataset, starts, hp, switches, dtype, progress):
    """Keras on its PyTorch backend, seeds stacked: Keras' variables and Adam, PyTorch's autograd.

    The same arithmetic as that backend's ``fit`` (``torch.matmul`` and
    ``torch.add`` for ``Dense``, Keras' mean squared error, the gradient of
    the loss by autograd, Keras' own ``Adam`` for the update), not its bits:
    batched products need not round as single ones (the control asks
    "same arithmetic", not "same bits"; ``tests/test_keras_stacked.py``
    holds it to the per-seed ``fit`` within a stated tolerance).
    """
    import keras
    import torch

    start = time.time()
    seeds = [seed for seed, _, _ in starts]
    S, n, bs = len(seeds), len(dataset.X_train), hp["batch_size"]
    stacked = [np.stack([w[i] for _, w, _ in starts]) for i in range(4)]
    stacked[1], stacked[3] = stacked[1][:, None, :], stacked[3][:, None, :]
    variables = [keras.Variable(w.astype(dtype), dtype=dtype) for w in stacked]
    optimizer = keras.optimizers.Adam(learning_rate=switches["learning_rate"], beta_1=hp["beta_1"],
                                      beta_2=switches["beta_2"], epsilon=switches["epsilon"], amsgrad=False)
    optimizer.build(variables)
    act = {"none": None, "relu": torch.relu, "tanh": torch.tanh}[switches["activation"]]
    matched = switches["target_shape"] == "matched"
    torch_dtype = getattr(torch, dtype)
    X_train = torch.tensor(dataset.X_train, dtype=torch_dtype)
    y_train = torch.tensor(dataset.y_train, dtype=torch_dtype)
    X_val = torch.tensor(dataset.X_val, dtype=torch_dtype).expand(S, *dataset.X_val.shape)
    y_val = torch.tensor(dataset.y_val, dtype=torch_dtype).expand(S, len(dataset.y_val))

    def forward(x, w1, b1, w2, b2):
        z = torch.add(torch.matmul(x, w1), b1)
        if act is not None:
            z = act(z)
        # (B, 100) @ (100, 1) is a matrix-vector product in the per-seed fit; batched, the
        # transposed form keeps that kernel for any number of seeds (one seed's bits do not
        # depend on its stack-mates).
        return torch.add(torch.matmul(w2.transpose(1, 2), z.transpose(1, 2)).transpose(1, 2), b2)

    def loss(y, y_pred):  # keras' mean_squared_error, sum_over_batch_size, per seed
        per_sample = torch.mean(torch.square(y.unsqueeze(-1) - y_pred), dim=-1)
        return torch.sum(per_sample, dim=1) / per_sample.shape[1]

    results, alive, stopped = [{"epochs": []} for _ in seeds], np.ones(S, bool), {}
    val_starts = range(0, len(dataset.X_val), bs)
    sizes, val_sizes = batch_sizes(n, bs), batch_sizes(len(dataset.X_val), bs)

    def predict():
        with torch.no_grad():
            values = [v.value for v in variables]
            return torch.cat([forward(X_val[:, b:b + bs], *values) for b in val_starts], 1)[..., 0].numpy()

    for e in range(switches["epochs"]):
        order = torch.from_numpy(np.stack([o[e] for _, _, o in starts]))
        X_epoch, y_epoch = X_train[order], y_train[order]
        losses = []
        for xb, yb in zip(X_epoch.split(bs, dim=1), y_epoch.split(bs, dim=1)):
            values = [v.value for v in variables]
            batch = loss(yb, forward(xb, *values))
            grads = torch.autograd.grad(batch.sum(), values)
            with torch.no_grad():
                optimizer.apply(list(grads), variables)
            losses.append(batch.detach())
        train_loss = keras_mean(torch.stack(losses, 1).numpy(), sizes)
        with torch.no_grad():
            values = [v.value for v in variables]
            val_losses = torch.stack([loss(y_val[:, b:b + bs], forward(X_val[:, b:b + bs], *values))
                                      for b in val_starts], 1).numpy()
            full = forward(X_val, *values)[..., 0].numpy()
        val_loss = keras_mean(val_losses, val_sizes)
        record_epoch(results, seeds, alive, stopped, e, train_loss, val_loss, full, dataset.y_val, progress,
                      lambda s: (predict()[s], _torch_seed_weights(variables, s)))
        if not alive.any():
            break
    predictions = predict()
    final = [stopped.get(s) or (predictions[s], _torch_seed_weights(variables, s)) for s in range(S)]
    return _results(results, [p for p, _ in final], [w for _, w in final], time.time() - start)


def _torch_seed_weights(variables, s):
    w1, b1, w2, b2 = (v.value.detach().cpu().numpy() for v in variables)
    return [w1[s], b1[s, 0], w2[s], b2[s, 0]]


def _predict(model, X_val, S, bs):
    """``model.predict``'s batches of ``bs`` rows, per seed: (S, n_val).

    Compiled, as ``predict``'s step is: in a graph the optimizer fuses each
    seed's ``Dense`` as in ``predict``'s own (``stacked_ops.per_seed``).
    """
    import tensorflow as tf

    @tf.function
    def predict():
        return per_row(lambda x: model(x)[..., 0], [tf.broadcast_to(X_val, [S, *X_val.shape])], bs, X_val.dtype)

    return predict().numpy()


def _train_jax(dataset, starts, hp, switches, dtype, progress):
    """Keras on its JAX backend, seeds stacked: the posted model's own stateless ``train_step``, per seed, in one program.

    On JAX, Keras' ``train_step(state, data)`` is a pure function of the
    model's, the optimizer's and the loss tracker's variables and one batch;
    ``fit`` jits it and calls it once per batch. Here one jitted program runs
    a whole epoch of every seed: a ``jax.lax.scan`` over the epoch's full
    batches whose body calls that same ``train_step`` once per seed, on the
    seed's own state and batch (then the shorter last batch). Validation
    calls ``test_step`` per seed with a fresh loss tracker per epoch, as
    ``fit`` resets its metrics. The seeds are not ``jax.vmap``-ed: a mapped
    step is batched arithmetic, whose last bits XLA compiles differently for
    each number of seeds (measured: a seed alone, in a stack of 2 and in a
    stack of 3 gave three different validation MSEs), so a seed's numbers
    would depend on its stack-mates and its repeat (``run.repeat_check``)
    would fail. Per seed, each seed's step is the 2-D program of its own
    ``fit``: bit for bit (``tests/test_keras_stacked.py``).
    """
    import jax
    import jax.numpy as jnp

    from gapstudy.frameworks.keras_model import build_model, jax_validation

    start = time.time()
    seeds = [seed for seed, _, _ in starts]
    S, n, bs = len(seeds), len(dataset.X_train), hp["batch_size"]
    model = build_model(dataset.X_train.shape[1], hp, switches)
    model.optimizer.build(model.trainable_variables)
    non_trainable = [v.value for v in model.non_trainable_variables]
    fresh_metrics = [jnp.zeros(v.shape, v.dtype) for v in model.metrics_variables]
    states = [([jnp.asarray(w) for w in weights], non_trainable, [v.value for v in model.optimizer.variables])
              for _, weights, _ in starts]  # per seed: trainable, non-trainable, optimizer variables

    matched = switches["target_shape"] == "matched"
    X_train, X_val = jnp.asarray(dataset.X_train, dtype), jnp.asarray(dataset.X_val, dtype)
    y_train = dataset.y_train.astype(dtype)
    y_train = jnp.asarray(y_train.reshape(-1, 1) if matched else y_train)
    y_val = dataset.y_val.astype(dtype)
    y_val = jnp.asarray(y_val.reshape(-1, 1) if matched else y_val)
    full, val_starts = n // bs, range(0, len(dataset.X_val), bs)

    def steps(states, x, y):
        """``train_step`` of every seed on its own batch: x (S, B, in), y (S, B[, 1])."""
        return [model.train_step(state, (x[s], y[s]))[1] for s, state in enumerate(states)]

    @jax.jit
    def epoch(states, order):
        """One epoch of every seed; ``states`` per seed (trainable, non-trainable, optimizer, metrics)."""
        x, y = X_train[order], y_train[order]  # (S, n, ...)
        blocks = [jnp.swapaxes(t[:, :full * bs].reshape(S, full, bs, *t.shape[2:]), 0, 1) for t in (x, y)]
        states, _ = jax.lax.scan(lambda states, batch: (steps(states, *batch), None), states, blocks)
        return steps(states, x[:, full * bs:], y[:, full * bs:]) if n % bs else states

    validation = jax_validation(model, X_val, y_val, bs)

    @jax.jit
    def validate(states):
        """Per seed: ``fit``'s validation loss, the full-set predictions and ``predict``'s batches."""
        out = []
        for trainable, non_trainable, _, _ in states:
            predict = lambda x: model.stateless_call(trainable, non_trainable, x)[0][:, 0]  # noqa: E731
            loss, full_set = validation(trainable, non_trainable)
            out.append((loss, full_set[:, 0], jnp.concatenate([predict(X_val[b:b + bs]) for b in val_starts])))
        return [jnp.stack(column) for column in zip(*out)]

    def loss_tracker(states):
        """Each seed's epoch loss, as its tracker's ``Mean.result`` (total / count)."""
        return np.array([np.asarray(state[3][0] / state[3][1]) for state in states])

    def seed_weights(states, s):
        return [np.asarray(v) for v in states[s][0]]

    results, alive, stopped = [{"epochs": []} for _ in seeds], np.ones(S, bool), {}
    for e in range(switches["epochs"]):  # at least one (the config checks it)
        states = epoch([(*state[:3], fresh_metrics) for state in states],
                       jnp.asarray(np.stack([o[e] for _, _, o in starts])))
        val_loss, full_pred, predicted = (np.asarray(t) for t in validate(states))
        record_epoch(results, seeds, alive, stopped, e, loss_tracker(states), val_loss, full_pred, dataset.y_val,
                     progress, lambda s, predicted=predicted, states=states: (predicted[s], seed_weights(states, s)))
        if not alive.any():
            break
    # The last epoch's validation predicted from these very weights: ``predict``'s batches, as fit's end.
    final = [stopped.get(s) or (predicted[s], seed_weights(states, s)) for s in range(S)]
    return _results(results, [p for p, _ in final], [w for _, w in final], time.time() - start)
