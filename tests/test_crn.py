"""Common random numbers: both sides of a pair start from the same draws, so only their arithmetic differs."""

import hashlib

import numpy as np
import pytest

from gapstudy.frameworks.runtime import limit_threads

limit_threads(1)

keras = pytest.importorskip("keras")

from gapstudy.studies.seed import crn  # noqa: E402
from gapstudy.registry import DRAW_SWITCHES  # noqa: E402
from gapstudy.variants import resolve  # noqa: E402

ALIGNED = {"target_shape": "matched", "weight_init": "xavier_uniform", "adam_rule": "keras"}


@pytest.fixture(scope="module")
def small(dataset):
    from gapstudy.studies.seed.data import Dataset

    n = 640
    return Dataset(X_train=dataset.X_train[:n], X_val=dataset.X_val, y_train=dataset.y_train[:n], y_val=dataset.y_val)


def test_the_draws_are_the_same_for_both_sides_and_differ_between_seeds(hp):
    switches = resolve({}, "keras", hp)
    w0, o0 = crn.draws(0, 640, 10, hp, switches)
    w0b, o0b = crn.draws(0, 640, 10, hp, switches)
    w1, o1 = crn.draws(1, 640, 10, hp, switches)
    assert all(np.array_equal(a, b) for a, b in zip(w0, w0b)) and np.array_equal(o0, o0b)
    assert not np.array_equal(w0[0], w1[0]) and not np.array_equal(o0, o1)
    assert o0.shape == (hp["epochs"], 640) and sorted(o0[0]) == list(range(640))


def test_aligned_pytorch_and_keras_from_common_draws_agree_to_float_round_off(small, hp):
    """With every switch aligned and the same draws, the two sides' predictions differ by round-off only."""
    torch_switches, keras_switches = resolve(ALIGNED, "torch", hp), resolve({}, "keras", hp)
    weights, orders = crn.draws(3, len(small.X_train), 10, hp, keras_switches)
    a = crn.train_side("torch", small, weights, orders, hp, torch_switches)
    b = crn.train_side("keras", small, weights, orders, hp, keras_switches)
    assert np.abs(a - b).max() < 1e-5
    posted = crn.train_side("torch", small, weights, orders, hp, resolve({"weight_init": "xavier_uniform"}, "torch", hp))
    assert np.abs(posted - b).max() > 1e-3  # the posted loss's broadcast: another model


def test_train_seeds_records_each_seed(small, hp):
    switches = resolve({}, "keras", hp)
    rows = crn.train_seeds("keras", small, [0, 1], hp, switches, {k: switches[k] for k in DRAW_SWITCHES},
                           log=lambda message: None)
    assert [r["seed"] for r in rows] == [0, 1] and rows[0]["val_mse"] != rows[1]["val_mse"]
    assert all(len(r["predictions_sha256"]) == 64 for r in rows)


@pytest.mark.parametrize("framework,switches", [("torch", ALIGNED), ("keras", {})])
def test_a_stacked_side_is_each_seed_trained_alone_from_the_same_draws_bit_for_bit(small, hp, framework, switches):
    """crn.train_seeds stacks the seeds; crn.train_side trains one seed batch by batch (the lock-step sides)."""
    resolved = resolve(switches, framework, hp)
    draw = {k: resolved[k] for k in DRAW_SWITCHES} if framework == "keras" else \
        {k: resolve({}, "keras", hp)[k] for k in DRAW_SWITCHES}
    rows = crn.train_seeds(framework, small, [0, 1, 2], hp, resolved, draw, log=lambda message: None)
    for row in rows:
        weights, orders = crn.draws(row["seed"], len(small.X_train), 10, hp, draw | {"epochs": hp["epochs"]})
        alone = crn.train_side(framework, small, weights, orders, hp, resolved)
        assert row["predictions_sha256"] == hashlib.sha256(np.asarray(alone, np.float32).tobytes()).hexdigest()
