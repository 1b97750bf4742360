"""The Keras references of the catalogue's cases (Keras 3), trained with ``fit``, and traced step by step.

``build`` writes each family's model as a user writes it: a ``Sequential``
of named layers, Keras' defaults, compiled with the case's loss and Adam.
``train`` is ``fit`` with its default ``shuffle=True`` and ``predict``,
compiled with ``steps_per_execution=FIT_STEPS_PER_EXECUTION``: fit then runs
that many of its own steps per call of its compiled function, which halves
the seed case's time (it is dispatch, not arithmetic) and leaves every
epoch's loss and every validation score the bits of the user's ``compile()``
(``tests/test_catalogue.py`` holds every case to that).
The lock-step trace replays ``fit``'s own step on this model
(``gapstudy.trace.engine.KerasReplay``), as it does for a user's port.
"""

from __future__ import annotations

import time

from gapstudy.studies.catalogue.cases import CASES
from gapstudy.studies.catalogue.scores import n_outputs, scores

LOSSES = {"regression": "mean_squared_error", "multiclass": "sparse_categorical_crossentropy",
          "binary": "binary_crossentropy"}


# Steps of fit per call of its compiled train function in ``train`` (Keras' compile default is 1).
FIT_STEPS_PER_EXECUTION = 32


def build(case: str, input_shape: tuple, outputs: int, seed: int, steps_per_execution: int = 1):
    """The case's Keras model, seeded by ``keras.utils.set_random_seed(seed)`` and compiled (as a user
    compiles it, unless ``steps_per_execution`` says otherwise)."""
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
    model.compile(optimizer=optimizer, loss=LOSSES[c.task], steps_per_execution=steps_per_execution)
    return model


def train(case: str, data: dict, seed: int, epochs: int | None = None,
          steps_per_execution: int = FIT_STEPS_PER_EXECUTION) -> dict:
    """``fit`` the case's Keras reference from seed ``seed``; its validation scores, losses and times.

    ``steps_per_execution=1`` is the user's own ``compile()``; the default gives the same bits faster.
    """
    c = CASES[case]
    start, cpu = time.perf_counter(), time.process_time()
    model = build(case, data["X_train"].shape[1:], n_outputs(c.task, data["y_train"]), seed, steps_per_execution)
    history = model.fit(data["X_train"], data["y_train"], batch_size=c.settings["batch_size"],
                        epochs=epochs or c.settings["epochs"], shuffle=True, verbose=0)
    output = model.predict(data["X_val"], batch_size=256, verbose=0)
    return scores(c.task, data["y_val"], output) | {
        "train_loss": [float(x) for x in history.history["loss"]],
        "wall_seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
