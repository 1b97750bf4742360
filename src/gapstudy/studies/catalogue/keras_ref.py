"""The Keras references of the catalogue's cases (Keras 3), trained with ``fit``, and traced step by step.

``build`` writes each family's model as a user writes it: a ``Sequential``
of named layers, Keras' defaults, compiled with the case's loss and Adam.
``train`` is ``fit`` with its default ``shuffle=True`` and ``predict``.
``Traced`` runs the very step ``fit`` runs (``Model.train_step``: forward,
``compute_loss`` with the regularisers, the tape's gradients,
``optimizer.apply`` with its clipping and schedule) one layer at a time
inside one ``tf.function``, and returns every tensor in the order the step
computes it, named as ``lockstep`` compares them.
"""

from __future__ import annotations

import time

import numpy as np

from gapstudy.studies.catalogue.cases import CASES
from gapstudy.studies.catalogue.scores import n_outputs, scores

LOSSES = {"regression": "mean_squared_error", "multiclass": "sparse_categorical_crossentropy",
          "binary": "binary_crossentropy"}


def build(case: str, input_shape: tuple, outputs: int, seed: int):
    """The case's Keras model, seeded by ``keras.utils.set_random_seed(seed)`` and compiled."""
    import keras
    from keras import layers

    c = CASES[case]
    s = c.settings
    keras.utils.set_random_seed(seed)
    head = {"regression": None, "multiclass": "softmax", "binary": "sigmoid"}[c.task]
    if c.family == "mlp_regression":
        body = [layers.Dense(s["hidden"], name="hidden")]
    elif c.family == "mlp_classifier":
        reg = keras.regularizers.L2(s["l2"]) if s.get("l2") else None
        body = [layers.Dense(s["hidden"], activation="relu", kernel_regularizer=reg, name="hidden")]
    elif c.family == "cnn":
        first, second = s["filters"]
        body = [layers.Conv2D(first, 3, padding="same", use_bias=False, name="conv1"),
                layers.BatchNormalization(name="bn1"), layers.Activation("relu", name="relu1"),
                layers.Conv2D(second, 3, padding="same", use_bias=False, name="conv2"),
                layers.BatchNormalization(name="bn2"), layers.Activation("relu", name="relu2"),
                layers.GlobalAveragePooling2D(name="pool"), layers.Dropout(s["dropout"], name="dropout")]
    elif c.family == "rnn":
        body = [layers.LSTM(s["units"], name="lstm")]
    else:
        raise ValueError(f"no Keras reference for family {c.family!r}")
    reg = keras.regularizers.L2(s["l2"]) if s.get("l2") else None
    model = keras.Sequential([keras.Input(input_shape), *body,
                              layers.Dense(outputs, activation=head, kernel_regularizer=reg, name="output")])
    learning_rate = s["learning_rate"]
    if s.get("decay_steps"):
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            s["learning_rate"], decay_steps=s["decay_steps"], decay_rate=s["decay_rate"])
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=s["beta_2"],
                                      epsilon=s["epsilon"], clipnorm=s.get("clipnorm"))
    model.compile(optimizer=optimizer, loss=LOSSES[c.task])
    return model


def train(case: str, data: dict, seed: int, epochs: int | None = None) -> dict:
    """``fit`` the case's Keras reference from seed ``seed``; its validation scores, losses and times."""
    c = CASES[case]
    start, cpu = time.perf_counter(), time.process_time()
    model = build(case, data["X_train"].shape[1:], n_outputs(c.task, data["y_train"]), seed)
    history = model.fit(data["X_train"], data["y_train"], batch_size=c.settings["batch_size"],
                        epochs=epochs or c.settings["epochs"], shuffle=True, verbose=0)
    output = model.predict(data["X_val"], batch_size=256, verbose=0)
    return scores(c.task, data["y_val"], output) | {
        "train_loss": [float(x) for x in history.history["loss"]],
        "wall_seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


class Traced:
    """The Keras reference, one ``fit`` step at a time, with every tensor the step computes.

    ``step(x, y, mask)`` returns ``[(name, array)]`` in compute order:
    ``input``, each layer's output, ``loss input`` (what the loss consumes:
    the logits of a softmax or sigmoid output), ``loss`` (the data loss),
    ``L2 penalty`` where the case regularises, ``gradient <w>`` of every
    trainable weight, ``adam m <w>`` and ``adam v <w>``, the updated ``<w>``,
    then BatchNorm's ``<bn>.moving_mean`` and ``.moving_variance``. Weights
    are named ``<layer>.<weight>`` in Keras' layout. ``mask`` is the
    dropout mask (shape of the Dropout layer's input) that both sides use,
    so that their steps can agree; Keras' Dropout scales kept units by
    1/(1 − rate), as here.
    """

    def __init__(self, case: str, data: dict, seed: int):
        import tensorflow as tf

        c = CASES[case]
        self.task = c.task
        self.model = build(case, data["X_train"].shape[1:], n_outputs(c.task, data["y_train"]), seed)
        self.weights = [(f"{layer.name}.{w.name}", w) for layer in self.model.layers
                        for w in layer.trainable_weights]
        self.stats = [(f"{layer.name}.{w.name}", w) for layer in self.model.layers
                      for w in layer.non_trainable_weights]
        self.model.optimizer.build([w for _, w in self.weights])
        self.penalised = bool(c.settings.get("l2"))
        self._step = tf.function(self._traced_step, reduce_retracing=True)

    def initial_weights(self) -> dict:
        return {name: w.numpy() for name, w in self.weights + self.stats}

    def _traced_step(self, x, y, mask):
        import keras
        import tensorflow as tf

        model, optimizer = self.model, self.model.optimizer
        out = [x]
        with tf.GradientTape() as tape:
            h = x
            for layer in model.layers:
                if isinstance(layer, keras.layers.Dropout):
                    h = h * mask / (1 - layer.rate)
                else:
                    h = layer(h, training=True)
                out.append(h)
            # What the loss consumes: in a graph, Keras' losses take the logits of a softmax or sigmoid output.
            logits = getattr(h, "_keras_logits", h)
            data_loss = model._compile_loss(y, h)
            loss = model.compute_loss(x=x, y=y, y_pred=h, training=True)
        out += [logits, data_loss]
        if self.penalised:
            out.append(loss - data_loss)
        variables = [w for _, w in self.weights]
        grads = tape.gradient(loss, variables)
        out.extend(grads)
        optimizer.apply(grads, variables)
        index = [optimizer._get_variable_index(w) for w in variables]
        out.extend(tf.identity(optimizer._momentums[i]) for i in index)
        out.extend(tf.identity(optimizer._velocities[i]) for i in index)
        out.extend(tf.identity(w) for w in variables)
        out.extend(tf.identity(w) for _, w in self.stats)
        return out

    def names(self) -> list[str]:
        weights = [n for n, _ in self.weights]
        return (["input"] + [layer.name for layer in self.model.layers] + ["loss input", "loss"]
                + (["L2 penalty"] if self.penalised else [])
                + [f"gradient {n}" for n in weights] + [f"adam m {n}" for n in weights]
                + [f"adam v {n}" for n in weights] + weights + [n for n, _ in self.stats])

    def step(self, x, y, mask) -> list[tuple[str, np.ndarray]]:
        import tensorflow as tf

        tensors = self._step(tf.constant(x), tf.constant(y), tf.constant(mask, dtype=tf.float32))
        return list(zip(self.names(), (np.asarray(t) for t in tensors)))

    def evaluate(self, X_val) -> list[tuple[str, np.ndarray]]:
        """What validation computes: the predictions (``predict``), then BatchNorm's statistics after it."""
        output = self.model.predict(X_val, batch_size=256, verbose=0)
        return [("validation output", output)] + [(n, w.numpy()) for n, w in self.stats]
