"""Common random numbers: two frameworks trained from the same draws, seed by seed.

"Same numerics?" is a paired question. As a user runs them, each framework
draws its own initial weights and batch orders, and the difference between
two frameworks mixes their numerics with their random numbers. Here, per
seed, the initial weights (drawn once, by the PyTorch model's initialiser
with the pair's init switches) and one batch order per epoch (NumPy's PCG64)
are the same for both sides, as in the lock-step runs; each side then trains
on its own (its own job: Keras' backend is fixed per process), and the two
sides' validation MSEs are compared seed by seed (``gapstudy.statistics.stats.crn_pair``).
"""

from __future__ import annotations

import numpy as np

from gapstudy.studies.seed import lockstep
from gapstudy.frameworks import metrics
from gapstudy.registry import FRAMEWORKS


def draws(seed: int, n_train: int, n_features: int, hp: dict, switches: dict) -> tuple[list, np.ndarray]:
    """A seed's initial weights (Keras layout) and batch orders (epochs, n_train), the same for both sides."""
    weights = lockstep.initial_weights(seed, n_features, hp, switches)
    return weights, lockstep.batch_orders(n_train, switches["epochs"], seed)


class KerasEagerSide(lockstep.KerasSide):
    """The Keras 3 model on Keras' PyTorch or JAX backend: ``epoch`` steps with ``train_on_batch`` (no tf.function)."""

    def epoch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, None]:
        return np.array([self.step(xb, yb) for xb, yb in zip(x, y)]), None

    def predict(self, x: np.ndarray) -> np.ndarray:
        from keras import ops  # detaches the backend's tensor (a torch tensor that requires grad)

        return ops.convert_to_numpy(self.model(x, training=False)).reshape(-1)


def side(framework: str, weights, hp: dict, switches: dict):
    """The side that trains ``framework`` from ``weights``, batch by batch: its lock-step side where it has one."""
    if FRAMEWORKS[framework].lockstep:
        return lockstep.side(framework, weights, hp, switches)
    return KerasEagerSide(weights, hp, switches)


def train_side(framework: str, dataset, weights, orders: np.ndarray, hp: dict, switches: dict) -> np.ndarray:
    """Train one side on ``orders`` from ``weights``; its validation predictions, shape (n_val,)."""
    trainer = side(framework, weights, hp, switches)
    for order in orders:
        for xs, ys in lockstep._epoch_batches(dataset, order, hp["batch_size"]):
            if isinstance(trainer, lockstep.TorchSide):
                for x, y in zip(xs, ys):
                    trainer.step(x, y)
            else:
                trainer.epoch(xs, ys)
    return trainer.predict(dataset.X_val)


def _stacked(framework: str):
    """The stacked trainer module of ``framework`` (``torch_stacked``, ``keras_stacked`` or Keras 2's ``train_keras2``)."""
    from gapstudy.frameworks import keras_stacked, torch_stacked, train_keras2  # by name: each is in this rule's code hash

    spec = FRAMEWORKS[framework]
    if spec.family == "torch":
        return torch_stacked
    return train_keras2 if spec.keras == "tf_keras" else keras_stacked


def train_seeds(framework: str, dataset, seeds, hp: dict, switches: dict, draw_switches: dict,
                log=print) -> list[dict]:
    """One side of a pair over ``seeds``: per seed, its validation MSE (and a hash of its predictions).

    Every seed together through the stacked path of the side's framework
    where it takes the switches (each seed's numbers are those of its own
    run from the same draws: ``tests/test_crn.py``), else seed by seed.
    """
    import hashlib

    seeds = [int(seed) for seed in seeds]
    starts = [(seed, *draws(seed, len(dataset.X_train), dataset.X_train.shape[1], hp,
                            draw_switches | {"epochs": switches["epochs"]})) for seed in seeds]
    stacked = _stacked(framework)
    if stacked.supports(switches):
        log(f"training seeds {seeds} together")
        if FRAMEWORKS[framework].family == "torch":  # no validation orders: only the predictions count here
            starts = [(seed, weights, orders, None) for seed, weights, orders in starts]
        predictions = [r["predictions"] for r in stacked.train_from(dataset, starts, hp, switches)]
    else:
        predictions = [train_side(framework, dataset, weights, orders, hp, switches)
                       for _, weights, orders in starts]
    rows = []
    for seed, p in zip(seeds, predictions):
        mse = metrics.mse(dataset.y_val, p)
        log(f"seed {seed}: val_mse={mse:.6g}")
        rows.append({"seed": int(seed), "val_mse": float(mse),
                     "predictions_sha256": hashlib.sha256(np.asarray(p, np.float32).tobytes()).hexdigest()})
    return rows
