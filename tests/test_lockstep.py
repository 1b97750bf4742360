"""Lock-step runs (research question 4): same start, same batches, two frameworks step by step."""

import numpy as np
import pytest

from gapstudy.frameworks.runtime import limit_threads

limit_threads(1)
keras = pytest.importorskip("keras")

from gapstudy.studies.seed import lockstep  # noqa: E402
from gapstudy.variants import resolve  # noqa: E402

ALIGNED = {"target_shape": "matched", "weight_init": "xavier_uniform", "adam_rule": "keras"}


def sides(hp, torch_switches=None, seed=0):
    ts = resolve(torch_switches or {}, "torch", hp)
    weights = lockstep.initial_weights(seed, 10, hp, ts)
    return weights, lockstep.TorchSide(weights, hp, ts), lockstep.KerasSide(weights, hp, resolve({}, "keras", hp))


def test_saved_weights_load_identically_into_both_frameworks(dataset, hp):
    weights, torch_side, keras_side = sides(hp)
    for loaded in (torch_side.weights(), keras_side.weights()):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(loaded, weights))
    x = dataset.X_val[:64]
    np.testing.assert_allclose(torch_side.predict(x), keras_side.predict(x), rtol=1e-5, atol=1e-6)


def test_the_saved_batch_order_is_the_order_used(dataset, hp):
    weights, torch_side, keras_side = sides(hp)
    seen = []

    class Recording(lockstep.TorchSide):
        def step(self, x, y):
            seen.append(x.copy())
            return super().step(x, y)

    torch_side.__class__ = Recording
    orders = lockstep.batch_orders(len(dataset.X_train), 2, seed=3)
    lockstep.run(dataset, weights, orders, 32, torch_side, keras_side)
    used = np.concatenate(seen)
    assert used.tobytes() == dataset.X_train[orders.reshape(-1)].tobytes()
    assert not np.array_equal(orders[0], orders[1])  # a fresh permutation each epoch


def test_posted_code_parts_ways_at_step_one_and_aligned_code_stays_within_round_off(dataset, hp):
    orders = lockstep.batch_orders(len(dataset.X_train), 1, seed=0)
    weights, torch_side, keras_side = sides(hp)
    posted = lockstep.summarise(lockstep.run(dataset, weights, orders, 32, torch_side, keras_side)["steps"], 1e-6)
    assert posted["first_step_apart"] == 1 and posted["loss_differs_at_step_1"]
    assert posted["loss_a_step_1"] > posted["loss_b_step_1"]  # PyTorch's N × N broadcast loss

    weights, torch_side, keras_side = sides(hp, ALIGNED)
    aligned = lockstep.summarise(lockstep.run(dataset, weights, orders, 32, torch_side, keras_side)["steps"], 1e-6)
    assert not aligned["loss_differs_at_step_1"]
    assert aligned["max_abs_diff"] < 1e-5  # 219 steps of float32 round-off, not a different computation
    assert posted["max_abs_diff"] > 100 * aligned["max_abs_diff"]


@pytest.mark.parametrize("variant", [{}, {"target_shape": "matched"}])
def test_keras_epoch_in_one_call_is_train_on_batch_step_by_step(dataset, hp, variant):
    weights = lockstep.initial_weights(0, 10, hp, resolve({}, "torch", hp))
    switches = resolve(variant, "keras", hp)
    fast, plain = lockstep.KerasSide(weights, hp, switches), lockstep.KerasSide(weights, hp, switches)
    order = lockstep.batch_orders(len(dataset.X_train), 1, seed=1)[0][:32 * 5 + 7]
    for xs, ys in lockstep._epoch_batches(dataset, order, 32):
        losses, flat = fast.epoch(xs, ys)
        for i, (x, y) in enumerate(zip(xs, ys)):
            assert np.float32(plain.step(x, y)) == losses[i]
            assert lockstep._flat(plain.weights()).astype(np.float32).tobytes() == flat[i].tobytes()


def test_a_side_traced_in_its_own_process_is_the_side_traced_here(tmp_path, dataset, hp):
    """The workflow traces each side in a child (its own Keras); the child's trace is this process's."""
    from gapstudy.studies.seed.data import save_dataset

    npz, manifest = tmp_path / "d.npz", tmp_path / "m.json"
    save_dataset(dataset, npz, manifest, {})
    hp = dict(hp, epochs=1)
    switches = resolve({}, "keras", hp)
    weights = lockstep.initial_weights(0, 10, hp, switches)
    np.savez(tmp_path / "w.npz", *weights)
    orders = lockstep.batch_orders(len(dataset.X_train), 1, seed=0)[:, :32 * 4 + 5]
    np.save(tmp_path / "o.npy", orders)
    child = lockstep.trace_in_child("keras", switches, hp, tmp_path / "w.npz", tmp_path / "o.npy", npz, manifest, 1,
                                    tmp_path / "t.npz")
    here = lockstep.trace(dataset, orders, 32, lockstep.side("keras", weights, hp, switches))
    assert all(child[k].tobytes() == here[k].tobytes() for k in ("losses", "weights", "epochs", "val_predictions"))
    assert child["weights"].shape == (5, sum(w.size for w in weights))


def test_only_frameworks_with_a_lock_step_side_have_one(hp):
    with pytest.raises(ValueError, match="no lock-step side"):
        lockstep.side("keras_torch", [], hp, {})


def test_the_seed_lock_step_measures_a_difference_as_the_trace_engine_does():
    # One arithmetic for every lock-step: the seed study's per-step table and the engine's per-tensor rows.
    from gapstudy.trace import engine

    rng = np.random.default_rng(0)
    sizes = [12, 3, 4, 1]
    a = rng.normal(size=(5, sum(sizes))).astype(np.float32)
    b = a + rng.normal(scale=1e-3, size=a.shape).astype(np.float32)
    b[3, 13] += 1.0  # one step, one tensor far off
    steps = lockstep.compare({"losses": np.zeros(5), "weights": a, "epochs": np.ones(5, int)},
                             {"losses": np.zeros(5), "weights": b, "epochs": np.ones(5, int)}, sizes)
    cuts = np.cumsum([0, *sizes])
    for i, step in enumerate(steps):
        rows = engine.compare([(t, a[i, lo:hi]) for t, lo, hi in zip(lockstep.TENSORS, cuts, cuts[1:])],
                              [(t, b[i, lo:hi]) for t, lo, hi in zip(lockstep.TENSORS, cuts, cuts[1:])], 0.0, 0.0)
        assert [step[r["tensor"]] for r in rows] == [r["max_abs_difference"] for r in rows]
    assert steps[3]["hidden_bias"] > 0.9 and max(s["hidden_bias"] for i, s in enumerate(steps) if i != 3) < 0.01
