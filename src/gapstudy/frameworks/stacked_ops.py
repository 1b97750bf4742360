"""The arithmetic both stacked Keras paths share: Keras 3's (``keras_stacked``) and Keras 2's (``train_keras2``).

Small pure functions of TensorFlow tensors or NumPy arrays, no Keras: so
that each Keras trainer's code (and its code hash, ``gapstudy.sources``)
holds these and not the other trainer.
"""

from __future__ import annotations

import numpy as np

from gapstudy.frameworks import metrics


def per_seed(fn, *tensors):
    """``fn`` on each seed's slices of ``tensors`` (S, ...), joined again on the leading axis.

    Why not one batched op for all seeds: a batched product (``BatchMatMulV2``)
    is another kernel than the 2-D ``MatMul`` of a seed's own ``fit``, and
    oneDNN picks each kernel by CPU and by shape. On AVX-512 the output
    layer's (B, 100) @ (100, 1) product rounds differently batched than
    alone (on AVX2 it does not). Per seed, every product, bias addition,
    activation and their gradients (by the tape: ``MatMul`` with transposes,
    ``BiasAddGrad``, a sum over the batch) are the ops of the seed's own
    ``fit`` at its shapes, so the same kernels on any CPU.

    The seeds are joined by ``concat`` of each one's ``[None]``, not by
    ``stack``: TensorFlow's graph optimizer fuses ``MatMul``, ``BiasAdd`` and
    an activation into one oneDNN kernel (whose tanh is not Eigen's) in
    ``fit``'s graph and in this form, but not when ``stack`` consumes them.
    The slices come from ``unstack``, whose gradient joins the seeds once.
    ``tests/test_cpu_isa.py`` holds all this under oneDNN's AVX2 and AVX-512
    kernels and with oneDNN off.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def join(*parts):
        def grad(upstream):  # one Unpack, where concat's own gradient would slice once per seed
            return tf.unstack(upstream)

        return tf.concat([part[None] for part in parts], axis=0), grad

    return join(*(fn(*parts) for parts in zip(*(tf.unstack(t) for t in tensors))))


def batch_loss(y, y_pred):
    """Keras' ``mean_squared_error`` with ``sum_over_batch_size``, per seed: (S, B), (S, B, 1) -> (S,).

    As ``fit``: the (B,) target is expanded to (B, 1) (``squeeze_or_expand_to_same_rank``),
    the squared error averaged over the last axis, summed over the batch and divided by its size.
    """
    import tensorflow as tf

    if len(y.shape) == len(y_pred.shape) - 1:
        y = tf.expand_dims(y, -1)
    per_sample = tf.reduce_mean(tf.square(y - y_pred), axis=-1)
    total = tf.reduce_sum(per_sample, axis=1)
    return tf.math.divide_no_nan(total, tf.cast(tf.shape(per_sample)[1], total.dtype))


def handwritten_batch_loss(y, y_pred):
    """The user's hand-written MSE as Keras calls it, per seed: (S, B), (S, B, 1) -> (S,).

    Keras' ``LossFunctionWrapper`` expands the (B,) target to (B, 1) before
    it calls the user's ``mean(square(y_true - y_pred))``, whose scalar then
    passes the ``sum_over_batch_size`` reduction unchanged; per seed that
    mean runs over the seed's own (B, 1), as ``fit`` reduces it.
    """
    import tensorflow as tf

    if len(y.shape) == len(y_pred.shape) - 1:
        y = tf.expand_dims(y, -1)
    return tf.reduce_mean(tf.square(y - y_pred), axis=[1, 2])


# The per-seed loss of each value of the ``loss`` switch, as Keras' ``fit`` computes it.
BATCH_LOSSES = {"framework": batch_loss, "handwritten": handwritten_batch_loss}


def keras_mean(losses: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Keras' loss tracker over an epoch, per seed: (S, steps) batch losses, (steps,) batch sizes -> (S,).

    ``fit`` feeds each batch's loss to a ``keras.metrics.Mean`` weighted by
    the batch size: ``total += loss * size``, ``count += size``, then
    ``total / count``, each rounded to the losses' dtype. Done here in NumPy,
    one rounded operation at a time, because inside a compiled graph
    TensorFlow may fuse the multiply and the add and round once.
    """
    dtype = losses.dtype.type
    total = np.zeros(losses.shape[0], losses.dtype)
    count = dtype(0)
    for step, size in enumerate(sizes):
        total = total + losses[:, step] * dtype(size)
        count = count + dtype(size)
    return total / count


def batch_sizes(n: int, batch_size: int) -> np.ndarray:
    """The sizes of ``fit``'s batches of ``n`` rows, in order: full batches, then the shorter last one."""
    return np.diff(np.r_[np.arange(0, n, batch_size), n])


def stacked_epoch(step, X, Y, order, batch_size: int, dtype):
    """One epoch of ``step`` for every seed; call inside a ``tf.function``.

    ``X`` (n, in) and ``Y`` (n,) or (n, 1) are the training set, ``order``
    (S, n) each seed's row order; ``step(x, y)`` takes a batch of every seed,
    (S, B, in) and (S, B[, 1]), and returns each seed's loss (S,). Returns
    each step's loss per seed, (S, steps) (``per_batch``).
    """
    import tensorflow as tf

    return per_batch(step, [tf.gather(X, order), tf.gather(Y, order)], batch_size, dtype)


def batch_loop(fn, tensors, batch_size: int, dtype):
    """``fn`` on every batch of rows, as ``fit``, its validation and ``predict`` batch them; call inside a ``tf.function``.

    ``tensors`` are (S, n, ...) with the same rows; ``fn`` takes one batch of
    each, (S, B, ...), and returns one tensor (S, ...). The full batches run
    in a graph loop (the graph holds ``fn`` once, not once per batch: a
    per-seed model in Python loops would trace to thousands of ops), the
    shorter last one after it. Returns (the full batches' outputs (full, S, ...),
    the last batch's output or None).
    """
    import tensorflow as tf

    n, bs = tensors[0].shape[1], batch_size
    full = n // bs
    blocks = [tf.reshape(t[:, :full * bs], [t.shape[0], full, bs, *t.shape[2:]]) for t in tensors]
    outputs = tf.TensorArray(dtype, size=full)
    for i in tf.range(full):
        outputs = outputs.write(i, fn(*(b[:, i] for b in blocks)))
    last = fn(*(t[:, full * bs:] for t in tensors)) if n % bs else None
    return outputs.stack(), last


def per_batch(fn, tensors, batch_size: int, dtype):
    """``batch_loop`` for an ``fn`` that gives one value per seed and batch (a loss): (S, batches)."""
    import tensorflow as tf

    full, last = batch_loop(fn, tensors, batch_size, dtype)  # (full, S), (S,)
    return tf.transpose(full if last is None else tf.concat([full, last[None]], axis=0))


def per_row(fn, tensors, batch_size: int, dtype):
    """``batch_loop`` for an ``fn`` that gives one value per seed and row (a prediction): (S, n)."""
    import tensorflow as tf

    full, last = batch_loop(fn, tensors, batch_size, dtype)  # (full, S, B), (S, rest)
    rows = tf.reshape(tf.transpose(full, [1, 0, 2]), [tensors[0].shape[0], -1])
    return rows if last is None else tf.concat([rows, last], axis=1)


def record_epoch(results, seeds, alive, stopped, e, train_loss, val_loss, full, y_val, progress, snapshot):
    """Append epoch ``e``'s row to every seed still training; a seed whose loss is not finite stops there.

    As ``TerminateOnNaN`` ends that seed's ``fit`` after the epoch, ``snapshot(s)`` keeps its
    (predictions, weights) of that moment in ``stopped``.
    """
    for s, seed in enumerate(seeds):
        if not alive[s]:
            continue
        row = {"epoch": e + 1, "train_loss": float(train_loss[s]), "val_loss_user": float(val_loss[s]),
               "val_mse": metrics.mse(y_val, full[s].reshape(-1))}
        results[s]["epochs"].append(row)
        if progress is not None:
            progress(seed, row)
        if not np.isfinite(row["train_loss"]):
            alive[s] = False
            stopped[s] = snapshot(s)
