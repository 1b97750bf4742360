"""The Keras references of the catalogue's cases (Keras 3), trained with ``fit``, and traced step by step.

``build`` writes each family's model as a user writes it: a ``Sequential``
of named layers, Keras' defaults, compiled with the case's loss and Adam.
``train`` is ``fit`` with its default ``shuffle=True`` and ``predict``,
compiled with ``steps_per_execution=FIT_STEPS_PER_EXECUTION``: fit then runs
that many of its own steps per call of its compiled function, which halves
the seed case's time (it is dispatch, not arithmetic); and each seed after a
job's first reuses the previous seed's compiled model with the new seed's
state (``seeded``), so that its functions are not traced again. Both leave
every epoch's loss and every validation score the bits of the user's
``compile()`` of a model of its own (``tests/test_catalogue.py`` holds every
case to that).
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


# The last compiled reference of this process, kept by what builds it, so that the next seed's ``fit``
# reuses its traced functions (``seeded``).
_LAST: dict = {}


def seeded(case: str, input_shape: tuple, outputs: int, seed: int, steps_per_execution: int):
    """The case's compiled model as ``build`` gives it for ``seed``, reusing this process' last one.

    A model built and compiled for ``seed`` holds the seed's draws in its variables: the weights, the
    optimizer's state (step count, learning rate, moments; ``optimizer.build`` makes them as the first
    step would) and each layer's seed-generator state (Dropout's masks). The previous seed's compiled
    model takes all of them over, so that ``fit`` and ``predict`` run on their functions traced before,
    where a new model traces its own, about half a second a seed. Every epoch's loss and every score
    stay the bits of a model of its own (``tests/test_catalogue.py``).
    """
    key = (case, tuple(input_shape), outputs, steps_per_execution)
    fresh = build(case, input_shape, outputs, seed, steps_per_execution)
    model = _LAST.get(key)
    if model is None:
        _LAST.clear()
        _LAST[key] = fresh
        return fresh
    fresh.optimizer.build(fresh.trainable_variables)
    model.optimizer.build(model.trainable_variables)
    pairs = list(zip(model.variables, fresh.variables)) + list(zip(model.optimizer.variables,
                                                                   fresh.optimizer.variables))
    if len(model.variables) != len(fresh.variables) or len(model.optimizer.variables) != len(
            fresh.optimizer.variables) or any(a.shape != b.shape for a, b in pairs):
        raise RuntimeError(f"{case}: the reused Keras model's variables do not match a new one's")
    for old, new in pairs:
        old.assign(new)
    return model


def train_seeds(case: str, data: dict, seeds, epochs: int | None = None) -> list[dict]:
    """``train`` for every seed of ``seeds``, each row with ``stacked_seeds`` (1: alone).

    The seed case's reference is the seed question's Keras model (two ``Dense``, MSE, Adam), which the
    seed study's stacked path trains many seeds at once, bit for bit each seed's ``fit`` on any CPU
    (``gapstudy.frameworks.keras_stacked``): its seeds train stacked (``_stacked``). The other cases'
    references train one ``fit`` per seed.
    """
    if CASES[case].family == "mlp_regression" and len(seeds) > 1:
        return _stacked(case, data, list(seeds), epochs)
    return [train(case, data, seed, epochs) | {"stacked_seeds": 1} for seed in seeds]


def _stacked(case: str, data: dict, seeds: list, epochs: int | None) -> list[dict]:
    """The seed case's reference for ``seeds`` at once, through ``keras_stacked.train_from``.

    Each seed starts from this module's own model built for it (``build``: its weights) and ``fit``'s
    order under its seed (``keras_stacked.epoch_orders``: Keras 3's ``fit`` repeats its first order
    every epoch); the predictions are ``predict``'s at batches of 256 rows, as ``train``'s. Wall and CPU
    time are the job's, shared out.
    """
    import numpy as np

    from gapstudy.frameworks import keras_stacked
    from gapstudy.studies.seed.data import Dataset
    from gapstudy.variants import resolve

    c = CASES[case]
    s = c.settings
    start, cpu = time.perf_counter(), time.process_time()
    epochs = epochs or s["epochs"]
    hp = {"epochs": epochs, "batch_size": s["batch_size"], "hidden_units": s["hidden"], "beta_1": 0.9,
          "learning_rate": s["learning_rate"], "beta_2": s["beta_2"], "epsilon": s["epsilon"]}
    switches = resolve({}, "keras", hp)
    dataset = Dataset(X_train=data["X_train"], X_val=data["X_val"], y_train=data["y_train"], y_val=data["y_val"])
    shape, outputs, n = data["X_train"].shape[1:], n_outputs(c.task, data["y_train"]), len(data["X_train"])
    starts = []
    for seed in seeds:
        weights = [np.asarray(w) for w in build(case, shape, outputs, seed).get_weights()]
        starts.append((seed, weights, keras_stacked.epoch_orders(n, epochs, shuffle=True)))
    results = keras_stacked.train_from(dataset, starts, hp, switches, predict_batch_size=256)
    wall, cpu = (time.perf_counter() - start) / len(seeds), (time.process_time() - cpu) / len(seeds)
    return [scores(c.task, data["y_val"], r["predictions"]) | {
        "train_loss": [row["train_loss"] for row in r["epochs"]], "wall_seconds": wall, "cpu_seconds": cpu,
        "stacked_seeds": len(seeds)} for r in results]


def train(case: str, data: dict, seed: int, epochs: int | None = None,
          steps_per_execution: int = FIT_STEPS_PER_EXECUTION, reuse: bool = True) -> dict:
    """``fit`` the case's Keras reference from seed ``seed``; its validation scores, losses and times.

    ``steps_per_execution=1`` is the user's own ``compile()``; the default gives the same bits faster.
    ``reuse``: the previous seed's compiled model takes this seed's state (``seeded``); ``False`` builds
    a model of its own, as the user does.
    """
    c = CASES[case]
    start, cpu = time.perf_counter(), time.process_time()
    shape, outputs = data["X_train"].shape[1:], n_outputs(c.task, data["y_train"])
    model = (seeded(case, shape, outputs, seed, steps_per_execution) if reuse
             else build(case, shape, outputs, seed, steps_per_execution))
    history = model.fit(data["X_train"], data["y_train"], batch_size=c.settings["batch_size"],
                        epochs=epochs or c.settings["epochs"], shuffle=True, verbose=0)
    output = model.predict(data["X_val"], batch_size=256, verbose=0)
    return scores(c.task, data["y_val"], output) | {
        "train_loss": [float(x) for x in history.history["loss"]],
        "wall_seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
