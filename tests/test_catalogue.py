"""The catalogue of porting pitfalls: its registry, data, ports, lock-step, statistics and front page."""

import json

import numpy as np
import pandas as pd
import pytest

from gapstudy.frameworks.runtime import limit_threads

limit_threads(1)
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from gapstudy.studies.catalogue import analysis, answer, cases, data, keras_ref, lockstep, scores, stories, torch_port  # noqa: E402
from gapstudy.studies.catalogue import run, torch_port_stacked  # noqa: E402
from gapstudy.studies.catalogue import config as catalogue_config  # noqa: E402
from gapstudy.config import ConfigError  # noqa: E402

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def datasets():
    return {}


def dataset_of(datasets, case):
    name = cases.CASES[case].dataset
    if name not in datasets:
        datasets[name] = data.make(name)
    return datasets[name]


# ------------------------------------------------------------------ the registry


def test_at_least_twelve_pitfalls_across_four_families_each_with_its_story():
    assert len(cases.PITFALLS) >= 12
    assert len({cases.CASES[p.case].family for p in cases.PITFALLS.values()}) >= 4
    assert set(stories.STORIES) == set(cases.PITFALLS)
    for p in cases.PITFALLS.values():
        story = stories.STORIES[p.name]
        assert story.source.startswith("https://") and " " not in story.source, p.name
        assert all(len(text) > 10 for text in (story.title, story.description, story.fix, story.symptom)), p.name
        switch = cases.SWITCHES[p.switch]
        assert {p.pitfall, p.fixed} <= set(switch.values) and p.pitfall != p.fixed
        assert torch_port.KERAS_MATCHING[p.switch] == p.fixed, p.name
    # The seed question is the first case, its pitfall the target broadcast.
    first = next(iter(cases.CASES.values()))
    assert first.name == "seed" and "target_broadcast" in first.pitfalls


def test_arms_set_one_pitfall_at_a_time_on_the_fixed_port():
    for case in cases.CASES.values():
        fixed = cases.arm_switches(case.name, cases.FIXED)
        port = cases.arm_switches(case.name, cases.PORT)
        assert set(fixed) == set(port) == {cases.PITFALLS[n].switch for n in case.pitfalls}
        for name in case.pitfalls:
            only = cases.arm_switches(case.name, name)
            changed = {k for k in only if only[k] != fixed[k]}
            assert changed == {cases.PITFALLS[name].switch}
            assert only[cases.PITFALLS[name].switch] == port[cases.PITFALLS[name].switch]
    with pytest.raises(KeyError, match="has no arm 'bn_momentum'"):
        cases.arm_switches("seed", "bn_momentum")


def test_a_switch_value_that_does_not_exist_is_refused_by_name():
    with pytest.raises(KeyError, match="unknown switch 'nope'"):
        torch_port.resolve({"nope": "x"})
    with pytest.raises(ValueError, match="switch reduction: 'median' is not one of sum, mean"):
        torch_port.resolve({"reduction": "median"})


# ------------------------------------------------------------------ data


def test_datasets_are_generated_or_bundled_and_fixed_by_their_split_seed(datasets):
    for name in data.DATASETS:
        arrays = data.make(name)
        again = data.make(name)
        assert all(arrays[k].tobytes() == again[k].tobytes() for k in data.ARRAYS), name
        assert len(arrays["X_train"]) == len(arrays["y_train"]) and len(arrays["X_val"]) == len(arrays["y_val"])
        assert arrays["X_train"].dtype == np.float32
    digits = data.make("digits_sorted")
    assert np.all(np.diff(digits["y_train"]) >= 0)  # stored sorted by class
    assert data.make("digits_images")["X_train"].shape[1:] == (8, 8, 1)
    # The seed case is the user's data set.
    from gapstudy.studies.seed.data import make_dataset

    np.testing.assert_array_equal(data.make("seed")["X_val"], make_dataset().X_val.astype(np.float32))


# ------------------------------------------------------------------ the ports against Keras


def test_keras_adam_in_torch_is_keras_adam():
    """The fixed ports' optimizer: Keras' update rule, checked against keras.optimizers.Adam itself."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(scale=1e-3, size=(5, 3)).astype(np.float32) for _ in range(5)]
    k_var = keras.Variable(w0)
    k_opt = keras.optimizers.Adam(learning_rate=1e-2, beta_2=0.999, epsilon=1e-7)
    t_var = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    t_opt = torch_port.make_keras_adam()([t_var], 1e-2, (0.9, 0.999), 1e-7)
    plain = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    p_opt = torch.optim.Adam([plain], lr=1e-2, betas=(0.9, 0.999), eps=1e-7)
    for g in grads:
        k_opt.apply([keras.ops.convert_to_tensor(g)], [k_var])
        t_var.grad = torch.from_numpy(g)
        t_opt.step()
        plain.grad = torch.from_numpy(g)
        p_opt.step()
    np.testing.assert_allclose(t_var.detach().numpy(), np.asarray(k_var), rtol=1e-6, atol=1e-7)
    # torch.optim.Adam (the pitfall) is not: the difference the adam_epsilon pitfall measures.
    assert np.max(np.abs(plain.detach().numpy() - np.asarray(k_var))) > 1e-6


def test_keras_adams_grouped_step_is_the_per_parameter_rule_bit_for_bit():
    """KerasAdam updates a group's tensors together (``torch._foreach_*``, one step size per step); each
    parameter gets the bits of the rule applied to it alone: shapes, two groups, weight decay, and a
    parameter without a gradient on some steps (its own step count)."""
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (5,), (3, 2, 3, 3), (1,)]
    start = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(scale=10.0 ** -k, size=s).astype(np.float32) for s in shapes] for k in range(1, 7)]

    def rule_alone(w, g, m, v, step, lr, decay, beta1=0.9, beta2=0.99, eps=1e-7):
        g = g.add(w, alpha=decay) if decay else g
        t = torch.tensor(float(step))
        alpha = torch.tensor(lr) * torch.sqrt(1 - torch.pow(torch.tensor(beta2), t)) / (
            1 - torch.pow(torch.tensor(beta1), t))
        m.add_((g - m) * (1 - beta1))
        v.add_((torch.square(g) - v) * (1 - beta2))
        w.sub_((m * alpha) / (torch.sqrt(v) + eps))

    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in start]
    opt = torch_port.make_keras_adam()(params[:2], 1e-2, (0.9, 0.99), 1e-7, weight_decay=1e-3)
    opt.add_param_group({"params": params[2:], "lr": 3e-3, "betas": (0.9, 0.99), "eps": 1e-7,
                         "weight_decay": 0.0})
    alone = [torch.from_numpy(w.copy()) for w in start]
    ms, vs, steps = [torch.zeros_like(w) for w in alone], [torch.zeros_like(w) for w in alone], [0] * 4
    for k, step_grads in enumerate(grads):
        for i, (p, g) in enumerate(zip(params, step_grads)):
            skipped = i == 3 and k % 2 == 1
            p.grad = None if skipped else torch.from_numpy(g)
            if not skipped:
                steps[i] += 1
                rule_alone(alone[i], torch.from_numpy(g), ms[i], vs[i], steps[i], 1e-2 if i < 2 else 3e-3,
                           1e-3 if i < 2 else 0.0, beta2=0.99)
        opt.step()
    for p, w in zip(params, alone):
        assert torch.equal(p.detach(), w)
    assert steps[3] == 3 and opt.state[params[3]]["step"] == 3
    # The step sizes are kept per process by every argument, the dtype included.
    single = torch_port.keras_step_size(1e-2, 0.9, 0.99, 3.0, torch.float32)
    double = torch_port.keras_step_size(1e-2, 0.9, 0.99, 3.0, torch.float64)
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    assert torch_port.keras_step_size(1e-2, 0.9, 0.99, 3.0, torch.float32) is single
    assert torch_port.keras_step_size(1e-2, 0.9, 0.99, 4.0, torch.float32) != single


def test_the_keras_trace_is_the_step_fit_takes(datasets):
    """The engine's replay of a case's Keras reference (one step, layer by layer) updates the weights as
    train_on_batch does (fit's step), with the L2 penalty in its loss."""
    from gapstudy.trace.engine import KerasReplay

    case = "digits_mlp"  # an L2 regulariser and clipnorm: both must be in the traced step
    d = dataset_of(datasets, case)
    shape, outputs = d["X_train"].shape[1:], scores.n_outputs("multiclass", d["y_train"])
    traced = KerasReplay(keras_ref.build(case, shape, outputs, 3), ["hidden", "output"], [])
    model = keras_ref.build(case, shape, outputs, 3)
    x, y = d["X_train"][:32], d["y_train"][:32]
    for _ in range(3):
        recorded = dict(traced.step(x, y, {}))
        loss = model.train_on_batch(x, y)
    for layer in model.layers:
        for w in layer.trainable_weights:
            np.testing.assert_allclose(recorded[f"{layer.name}.{w.name}"], w.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(recorded["loss"], loss, rtol=1e-5)


@pytest.mark.parametrize("case", list(cases.CASES))
def test_every_case_is_a_port_that_takes_keras_weights_unchanged(datasets, case):
    """Each case's port, built as the engine builds a user's, holds the Keras reference's weights bit for
    bit after the mapping (in Keras' names and layout); the fixed port then gives Keras' predictions."""
    import torch

    from gapstudy.studies.catalogue import ports
    from gapstudy.studies.port import lockstep as port_lockstep, sides
    from gapstudy.trace import mapping

    d = dataset_of(datasets, case)
    lock = {"seed": 1, "epochs": 1, "atol": 1e-6, "rtol": 1e-3}
    for arm in (cases.PORT, cases.FIXED):
        s = port_lockstep.Setup(ports.config(case, arm, lock), 1, d, ports.entries(case, arm, d))
        mine = mapping.keras_named([layer for layer, _, _ in s.pairs])
        theirs = mapping.torch_named(s.pairs, "param")
        assert [n for n, _ in mine] == [n for n, _ in theirs], (case, arm)
        for (name, a), (_, b) in zip(mine, theirs):
            assert a.tobytes() == b.astype(a.dtype).tobytes(), (case, arm, name)
    s.tp.model.eval()
    with torch.no_grad():
        out = s.tp.model(torch.from_numpy(s.X_torch[:8])).numpy()
    task = cases.CASES[case].task
    np.testing.assert_allclose(sides.as_probabilities(task, out).reshape(8, -1),
                               np.asarray(s.keras(d["X_train"][:8], training=False)).reshape(8, -1),
                               rtol=1e-4, atol=1e-5)


def _trace(datasets, case, arm):
    return lockstep.trace(case, arm, dataset_of(datasets, case), seed=0, epochs=1, atol=1e-6, rtol=1e-3,
                          log=lambda *a: None)


@pytest.mark.parametrize("case", ["seed", "digits_mlp", "cancer_mlp", "adding_lstm"])
def test_the_fixed_port_stays_with_keras_for_a_whole_epoch(datasets, case):
    steps, result = _trace(datasets, case, cases.FIXED)
    assert not result["diverges"], result
    assert result["steps"] == int(np.ceil(len(dataset_of(datasets, case)["X_train"]) / 32))
    # Every kind of tensor is compared, in the order a step computes it.
    step1 = steps[steps["step"] == 1]
    kinds = list(dict.fromkeys(step1["kind"]))
    assert kinds == ["input", "layer output", "loss input", "loss", "gradient", "Adam moment", "updated weight"]


def test_bessels_correction_is_named_in_the_trace_with_its_size(datasets):
    """Issue 25: PyTorch's running variance is the unbiased one, Keras' the biased one. In the fixed CNN
    port (momentum converted, Keras' epsilon) the running variances part by m·v/(n − 1) a step (n = 32 rows
    × 8 × 8 values per channel, m = 0.01), growing towards 1/(n − 1) relative at steady state, below the
    tolerance: measured 1.4e-4 after the epoch's 45 steps, where round-off alone stays near 1e-7. The
    trace names it and gives its size; a model without BatchNorm has none."""
    steps, result = _trace(datasets, "digits_cnn", cases.FIXED)
    steady = 1 / (32 * 8 * 8 - 1)
    size = result["bessel_last_relative_difference"]
    assert 1e-5 < size < steady, (size, steady)
    assert result["bessel_largest_relative_difference"] == size  # it accumulates step by step
    variances = steps[steps["tensor"].astype(str).str.endswith(".moving_variance") & (steps["step"] > 0)]
    assert not variances["differs"].any()
    _, mlp = _trace(datasets, "cancer_mlp", cases.FIXED)
    assert mlp["bessel_last_relative_difference"] is None


@pytest.mark.parametrize("case, arm, step, tensor", [
    ("seed", "target_broadcast", 1, "loss"),  # the seed question: step 1, the loss
    ("digits_mlp", "double_softmax", 1, "loss input"),  # probabilities where the loss reads logits
    ("digits_mlp", "sum_reduction", 1, "loss"),
    ("digits_mlp", "l2_weight_decay", 1, "loss"),  # Keras' loss holds the penalty, the port's does not
    ("cancer_mlp", "sigmoid_bce_logits", 1, "loss input"),
    ("cancer_mlp", "dense_init", 0, "initial hidden.kernel"),
    ("digits_mlp", "unshuffled", 1, "batch rows"),  # the rows in order, where fit shuffles
    ("digits_mlp", "clipnorm_global", 1, "adam m hidden.kernel"),
    ("digits_cnn", "bn_momentum", 1, "bn1.moving_mean"),
    ("digits_cnn", "bn_epsilon", 1, "bn1"),
    ("digits_cnn", "forgotten_eval", 45, "validation output"),
    ("adding_lstm", "lstm_two_biases", 1, "lstm.bias"),
    ("adding_lstm", "lr_schedule_per_epoch", 2, "output.bias"),
    ("adding_lstm", "lr_decay_rate_per_epoch", 2, "output.bias"),
    ("seed", "xavier_normal_init", 0, "initial hidden.kernel"),  # a normal where Keras draws a uniform
])
def test_each_pitfall_first_leaves_keras_with_its_own_signature(datasets, case, arm, step, tensor):
    from gapstudy.studies.port import probes

    _, result = _trace(datasets, case, arm)
    assert (result["first_step"], result["first_tensor"]) == (step, tensor), result
    # The signature a user's port is matched against is the one the engine measures on the catalogue's
    # (the port doctor has no probe of its own for the posted init or the second schedule variant).
    assert probes.SIGNATURES.get(arm, result["first_kind"]) == result["first_kind"], result
    if (case, arm) == ("seed", "target_broadcast"):
        assert result["forward_equal"] and result["equal_before_it"] > 0


def test_training_a_port_is_deterministic_and_pairs_by_seed(datasets):
    d = dataset_of(datasets, "cancer_mlp")
    a = torch_port.train("cancer_mlp", cases.arm_switches("cancer_mlp", cases.FIXED), d, seed=4, epochs=2)
    b = torch_port.train("cancer_mlp", cases.arm_switches("cancer_mlp", cases.FIXED), d, seed=4, epochs=2)
    c = torch_port.train("cancer_mlp", cases.arm_switches("cancer_mlp", cases.FIXED), d, seed=5, epochs=2)
    assert a["val_log_loss"] == b["val_log_loss"] and a["train_loss"] == b["train_loss"]
    assert a["val_log_loss"] != c["val_log_loss"]


STACKED_ARMS = [(case, arm) for case, c in cases.CASES.items() if c.family in torch_port_stacked.FAMILIES
                for arm in cases.arms(case) if arm != cases.KERAS]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= torch_port_stacked.TOLERANCE["rtol"] * abs(b)


@pytest.mark.parametrize("case, arm", STACKED_ARMS)
def test_stacked_port_seeds_are_each_seeds_own_run_within_the_stated_tolerance(datasets, case, arm):
    """The fast-path table's row for the catalogue's MLP and LSTM ports: every torch arm of every such case, its
    seeds stacked (``torch_port_stacked.train``) against each seed trained alone (``torch_port.train``):
    every score and every epoch's mean loss within ``TOLERANCE``; the seeds themselves differ by far more,
    so that a seed trained on another's order, weights or clipping fails."""
    d, switches, seeds = dataset_of(datasets, case), cases.arm_switches(case, arm), [3, 11, 0]
    stacked = torch_port_stacked.train(case, switches, d, seeds, epochs=2)
    for seed, got in zip(seeds, stacked):
        alone = torch_port.train(case, switches, d, seed, epochs=2)
        for key in [k for k in alone if k.startswith("val_")]:
            assert close(got[key], alone[key]), (seed, key, got[key], alone[key])
        assert len(got["train_loss"]) == 2 and all(map(close, got["train_loss"], alone["train_loss"])), seed
        assert got["stacked_seeds"] == 3
    metric = cases.CASES[case].metric
    assert not close(stacked[0][metric], stacked[1][metric]) or arm == "unshuffled"


def test_a_seed_in_another_stack_and_a_job_of_one_seed(datasets):
    """A seed's result does not depend on the seeds beside it; a job whose port is not stacked (the CNN)
    or has one seed trains seed by seed, and every row says how many seeds were stacked."""
    d, switches = dataset_of(datasets, "digits_mlp"), cases.arm_switches("digits_mlp", "clipnorm_global")
    a = torch_port_stacked.train("digits_mlp", switches, d, [2, 7], epochs=1)[0]
    b = torch_port_stacked.train("digits_mlp", switches, d, [5, 2, 9], epochs=1)[1]
    assert close(a["val_log_loss"], b["val_log_loss"]) and all(map(close, a["train_loss"], b["train_loss"]))
    assert not torch_port_stacked.supports("digits_cnn", {}) and torch_port_stacked.supports("adding_lstm", {})
    with pytest.raises(ValueError, match="family 'cnn' is not stacked"):
        torch_port_stacked.train("digits_cnn", {}, dataset_of(datasets, "digits_cnn"), [0, 1], epochs=1)
    rows = run.train_arm("cancer_mlp", cases.FIXED, dataset_of(datasets, "cancer_mlp"), [4], epochs=2,
                         log=lambda *_: None)
    alone = torch_port.train("cancer_mlp", cases.arm_switches("cancer_mlp", cases.FIXED),
                             dataset_of(datasets, "cancer_mlp"), 4, epochs=2)
    assert rows[0]["stacked_seeds"] == 1 and rows[0]["val_log_loss"] == alone["val_log_loss"]
    rows = run.train_arm("cancer_mlp", cases.FIXED, dataset_of(datasets, "cancer_mlp"), [4, 5], epochs=2,
                         log=lambda *_: None)
    assert [r["stacked_seeds"] for r in rows] == [2, 2] and [r["seed"] for r in rows] == [4, 5]


@pytest.mark.parametrize("how", ["per_variable", "global"])
def test_stacked_clipping_is_clip_grad_norm_seed_by_seed(how):
    """``torch_port_stacked.clip`` on (S, ...) gradients against ``clip_grad_norm_`` on each seed's own
    tensors, per tensor (Keras' clipnorm) or over all of them: seeds above and below the norm."""
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(4, 7, 5, generator=g) * torch.tensor([0.01, 1.0, 0.05, 3.0]).view(4, 1, 1),
             torch.randn(4, 5, generator=g) * 0.1]
    clipped = [x.clone() for x in grads]
    torch_port_stacked.clip(clipped, 1.0, how)
    for i in range(4):
        params = [torch.nn.Parameter(torch.zeros_like(x[i])) for x in grads]
        for p, x in zip(params, grads):
            p.grad = x[i].clone()
        for group in ([params] if how == "global" else [[p] for p in params]):
            torch.nn.utils.clip_grad_norm_(group, 1.0)
        for p, x in zip(params, clipped):
            torch.testing.assert_close(x[i], p.grad, rtol=1e-6, atol=0)
    assert not torch.equal(clipped[0][1], grads[0][1]) and torch.equal(clipped[0][0], grads[0][0])


@pytest.mark.parametrize("case", list(cases.CASES))
def test_the_keras_reference_fast_path_keeps_the_bits_of_the_users_compile(datasets, case):
    """``keras_ref.train`` compiles with steps_per_execution (several of fit's steps per call) and gives
    each later seed the previous seed's compiled model: every epoch's loss and every validation score
    are the bits of the user's compile (steps_per_execution=1) of a model of its own, for a first seed
    and a second, over two epochs whose steps are no multiple of it (a short last group)."""
    d = dataset_of(datasets, case)
    steps = -(-len(d["X_train"]) // cases.CASES[case].settings["batch_size"])
    assert keras_ref.FIT_STEPS_PER_EXECUTION > 1 and steps % keras_ref.FIT_STEPS_PER_EXECUTION
    timing = {"wall_seconds", "cpu_seconds"}
    keras_ref._LAST.clear()
    for seed in (3, 4):
        user = keras_ref.train(case, d, seed=seed, epochs=2, steps_per_execution=1, reuse=False)
        fast = keras_ref.train(case, d, seed=seed, epochs=2)
        assert {k: v for k, v in fast.items() if k not in timing} == {k: v for k, v in user.items() if k not in timing}
    assert len(keras_ref._LAST) == 1  # the second seed ran on the first seed's model


def test_the_seed_cases_references_stacked_are_each_seeds_user_compile_bit_for_bit(datasets):
    """``keras_ref.train_seeds`` trains the seed case's seeds at once (``keras_stacked``): each seed's
    validation score and every epoch's loss are those of the user's compile of a model of its own; the
    other cases train seed by seed."""
    d = dataset_of(datasets, "seed")
    stacked = keras_ref.train_seeds("seed", d, [5, 3, 4], epochs=2)
    timing = {"wall_seconds", "cpu_seconds", "stacked_seeds"}
    for seed, result in zip([5, 3, 4], stacked):
        user = keras_ref.train("seed", d, seed=seed, epochs=2, steps_per_execution=1, reuse=False)
        assert {k: v for k, v in result.items() if k not in timing} == {k: v for k, v in user.items() if k not in timing}
        assert result["stacked_seeds"] == 3
    assert [r["stacked_seeds"] for r in keras_ref.train_seeds("cancer_mlp", dataset_of(datasets, "cancer_mlp"),
                                                               [0, 1], epochs=1)] == [1, 1]


def test_the_seed_cases_port_is_the_posted_code_bit_for_bit(datasets):
    """Issue 25: the seed case's port is the user's PyTorch code as posted (``posted.torch_as_posted``: its
    xavier_normal_ init and zero biases drawn layer by layer, its broadcasting loss, torch's Adam, its
    shuffled training and validation DataLoaders on the global generator, its one-call prediction): every
    epoch's mean loss and the validation MSE bit for bit, at the same seed and epochs."""
    from types import SimpleNamespace

    from gapstudy.studies.catalogue.scores import scores
    from gapstudy.studies.seed import posted

    d = dataset_of(datasets, "seed")
    for seed in (0, 3):
        got = torch_port.train("seed", cases.arm_switches("seed", cases.PORT), d, seed, epochs=2)
        losses, _, predictions, _ = posted.torch_as_posted(SimpleNamespace(**d), seed=seed, epochs=2)
        assert got["train_loss"] == [float(x) for x in losses], seed
        assert got["val_mse"] == scores("regression", d["y_val"], predictions.reshape(-1, 1))["val_mse"], seed
    # The port's own generator: training another port in between changes nothing.
    torch_port.train("seed", cases.arm_switches("seed", cases.FIXED), d, 9, epochs=1)
    again = torch_port.train("seed", cases.arm_switches("seed", cases.PORT), d, 3, epochs=2)
    assert again["train_loss"] == got["train_loss"]


# ------------------------------------------------------------------ statistics


def _synthetic_runs(effects: dict, n=12, sd=0.05, gap=np.log(3.0)):
    """Runs of one case whose pitfalls multiply the fixed port's metric by known factors, paired by seed."""
    rng = np.random.default_rng(1)
    case = cases.CASES["digits_mlp"]
    base = rng.normal(np.log(0.2), sd, n)
    rows = [{"case": case.name, "arm": "keras", "seed": s, "val_log_loss": float(np.exp(v)),
             "val_accuracy": 0.9} for s, v in enumerate(rng.normal(np.log(0.2), sd, n))]
    rows += [{"case": case.name, "arm": "fixed", "seed": s, "val_log_loss": float(np.exp(v)), "val_accuracy": 0.9}
             for s, v in enumerate(base)]
    rows += [{"case": case.name, "arm": "port", "seed": s, "val_log_loss": float(np.exp(v + gap)),
              "val_accuracy": 0.8} for s, v in enumerate(base)]
    for name in case.pitfalls:
        noise = rng.normal(0, 0.01, n)
        noise -= noise.mean()  # centred: the paired effect is exactly the one built in
        rows += [{"case": case.name, "arm": name, "seed": s, "val_log_loss": float(np.exp(v + np.log(effects[name]) + e)),
                  "val_accuracy": 0.9} for s, (v, e) in enumerate(zip(base, noise))]
        # The port without it: the port less its effect (no interaction on removal).
        rows += [{"case": case.name, "arm": cases.removal_arm(case.name, name), "seed": s,
                  "val_log_loss": float(np.exp(v + gap - np.log(effects[name]) + e)), "val_accuracy": 0.85}
                 for s, (v, e) in enumerate(zip(base, noise))]
    return pd.DataFrame(rows)


def test_effects_shares_and_verdicts_recover_what_was_built_in():
    effects = {"double_softmax": 1.5, "sum_reduction": 1.0, "l2_weight_decay": 1.1, "clipnorm_global": 0.9,
               "unshuffled": 3.0}
    table = analysis.pitfall_table(_synthetic_runs(effects), {}, 0.95, 1.2, 0.05, 500, 0)
    rows = table.set_index("pitfall")
    for name, effect in effects.items():
        r = rows.loc[name]
        assert r["effect_ci_low"] < effect * 1.02 and r["effect_ci_high"] > effect / 1.02, name
        assert bool(r["effect_measured"]) == (effect != 1.0), name
    assert rows.loc["unshuffled", "share_of_gap"] == pytest.approx(1.0, abs=0.05)  # ×3 of a ×3 gap
    assert rows.loc["sum_reduction", "share_ci_low"] < 0 < rows.loc["sum_reduction", "share_ci_high"]
    assert list(table["pitfall"][:2]) == ["unshuffled", "double_softmax"]  # ranked by size
    assert table["fixed_equivalent"].all()  # the fixed port and Keras were drawn alike
    front = analysis.front_table(table)
    assert list(front.columns) == [
        "rank", "pitfall", "model", "what the user sees (measured)", "the source says", "effect (CI)",
        "share of gap: added to the fixed port", "removed from the port (share, interaction)",
        "fixed = Keras? (TOST, power)", "first divergence (step, tensor)", "source"]
    null = front[front["pitfall"] == stories.STORIES["sum_reduction"].title]["effect (CI)"].iloc[0]
    assert "no effect measured" in null
    # Removed from the port, each pitfall takes away the effect built in: its share by removal is its
    # log effect over the log gap, and the shares' sum is theirs (no interaction was built into removal).
    for name, effect in effects.items():
        assert rows.loc[name, "removal_ratio"] == pytest.approx(effect, rel=0.02), name
        assert rows.loc[name, "removal_share"] == pytest.approx(np.log(effect) / np.log(3.0), abs=0.02), name
    assert rows["case_removal_share_sum"].iloc[0] == pytest.approx(
        sum(np.log(e) for e in effects.values()) / np.log(3.0), abs=0.05)
    assert analysis.contradictions(table) == []


def _masking_case():
    """Two pitfalls of a case built so that ``b`` masks ``a``: alone ``a`` doubles the metric and ``b``
    triples it, and the port with both is ×3, as with ``b`` alone."""
    case = cases.Case("masking", "Synthetic: b masks a", "mlp_classifier", "digits_sorted", "multiclass",
                      "a reference", "a port", ("a", "b"))
    story = stories.Story("t", "d", "f", "the source's own words", "https://example.org")
    logs = {"keras": 0.0, "fixed": 0.0, "a": np.log(2.0), "b": np.log(3.0), "port": np.log(3.0)}
    rng = np.random.default_rng(3)
    base, keras = rng.normal(np.log(0.2), 0.05, 12), rng.normal(np.log(0.2), 0.05, 12)
    rows = []
    for arm, shift in logs.items():
        noise = rng.normal(0, 0.01, 12)
        noise -= noise.mean()
        values = (keras if arm == "keras" else base + noise) + shift
        rows += [{"case": "masking", "arm": arm, "seed": s, "val_log_loss": float(np.exp(v)), "val_accuracy": 0.9}
                 for s, v in enumerate(values)]
    return {"masking": case}, {"a": story, "b": story}, pd.DataFrame(rows)


def test_shares_by_removal_recover_a_masking_built_in_and_the_sentence_names_it():
    """Issue 25: a pitfall masked by another. Added to the fixed port ``a`` is ×2 (a share of log 2 / log 3
    of the ×3 gap), but removing it from the port changes nothing (share 0); ``b``'s removal takes the port
    from ×3 to ×2 (share log 1.5 / log 3). The shares by removal sum to 37 %, not 100 %, and the
    sentence says that ``b`` masks ``a``, with the numbers."""
    registry, story, runs = _masking_case()
    table = analysis.pitfall_table(runs, {}, 0.95, 1.2, 0.05, 500, 0, cases=registry, stories=story)
    rows = table.set_index("pitfall")
    assert rows.loc["a", "share_of_gap"] == pytest.approx(np.log(2) / np.log(3), abs=0.03)
    assert rows.loc["a", "removal_share"] == pytest.approx(0.0, abs=0.03)
    assert rows.loc["b", "removal_share"] == pytest.approx(np.log(1.5) / np.log(3), abs=0.03)
    assert rows.loc["a", "removal_arm"] == "b" and rows.loc["b", "removal_arm"] == "a"
    assert rows["case_removal_share_sum"].iloc[0] == pytest.approx(np.log(1.5) / np.log(3), abs=0.05)
    assert bool(rows.loc["a", "effect_measured"]) and not bool(rows.loc["a", "removal_measured"])
    assert rows.loc["a", "masked_by"] == "b" and rows.loc["b", "masked_by"] == ""
    note = rows.loc["a", "interaction_note"]
    assert note.startswith("Masked in this port") and "b hides it" in note and "×2" in note
    # The front table and its words carry it.
    removed = analysis.front_table(table)["removed from the port (share, interaction)"]
    assert sum("b hides it" in text for text in removed) == 1


@pytest.mark.parametrize("ratio, low, high, measured, says", [
    (0.073, 0.05, 0.1, True, "better"), (1.16, 1.1, 1.2, True, "worse"), (0.93, 0.9, 0.96, True, "better"),
    (0.96, 0.9, 1.03, False, "no change"), (1.02, 0.99, 1.05, False, "no change")])
def test_what_the_user_sees_follows_the_measured_sign(ratio, low, high, measured, says):
    """Issue 25: the sentence is written from the measured effect (the four rows whose prose said the
    opposite: a schedule ×0.073, momentum ×0.86, an init ×0.93, a log-loss ×0.96), and ``contradictions``
    finds a sentence that says the opposite of its row."""
    row = pd.Series({"pitfall": "p", "metric": "val_log_loss", "effect_ratio": ratio, "effect_ci_low": low,
                     "effect_ci_high": high, "effect_measured": measured, "accuracy_change": np.nan,
                     "diverged_seeds": 0})
    text = analysis.observed(row)
    assert text.startswith(says) if says == "no change" else says in text
    table = pd.DataFrame([{**row.to_dict(), "observed": text}])
    assert analysis.contradictions(table) == []
    flipped = text.replace("worse", "XX").replace("better", "worse").replace("XX", "better")
    if flipped != text:
        assert analysis.contradictions(pd.DataFrame([{**row.to_dict(), "observed": flipped}]))


def test_the_front_page_is_valid_rst_with_every_pitfall_and_its_source():
    from docutils.core import publish_doctree

    effects = {"double_softmax": 1.5, "sum_reduction": 1.0, "l2_weight_decay": 1.1, "clipnorm_global": 0.9,
               "unshuffled": 3.0}
    table = analysis.pitfall_table(_synthetic_runs(effects), {}, 0.95, 1.2, 0.05, 200, 0)
    config = catalogue_config.validate(__import__("yaml").safe_load((ROOT / "config/catalogue.yaml").read_text()))
    text = answer.front_page(table, config, {"torch": ["2.13.0"], "keras": ["3.x"]})
    doctree = publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5,
                                                          "warning_stream": False})
    messages = [m.astext() for m in doctree.findall() if m.tagname == "system_message"]
    assert messages == []
    for name in effects:
        assert stories.STORIES[name].source in text
    assert "clip_grad_norm_" in doctree.astext() and "torch 2.13.0" in doctree.astext()


# ------------------------------------------------------------------ config


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["catalogue"].update(cases=["seed", "mnist"]), "catalogue.cases: 'mnist' is not a case; allowed: seed"),
    (lambda c: c["catalogue"].update(seeds=[0]), "catalogue.seeds: [0] is not allowed"),
    (lambda c: c["lockstep"].update(rtol=-1), "lockstep.rtol: -1 is not allowed; allowed: a number ≥ 0"),
    (lambda c: c["statistics"].update(equivalence_margin=0.9), "statistics.equivalence_margin: 0.9"),
    (lambda c: c.update(variants={}), "variants: unknown key of the catalogue config"),
    (lambda c: c["catalogue"].update(epoch=3), "catalogue.epoch: unknown key"),
])
def test_bad_catalogue_config_is_refused_naming_key_value_and_what_is_allowed(edit, message):
    import yaml

    config = yaml.safe_load((ROOT / "config/catalogue.yaml").read_text())
    catalogue_config.validate(json.loads(json.dumps(config)))
    edit(config)
    with pytest.raises(ConfigError) as error:
        catalogue_config.validate(config)
    assert message in str(error.value)


def test_a_trainer_hashes_its_own_code_and_no_prose():
    """A Keras job's code hash holds no PyTorch port and a port's no Keras reference; neither holds the
    pitfalls' prose (gapstudy.studies.catalogue.stories), so a corrected sentence retrains nothing."""
    from gapstudy import sources
    from gapstudy.studies.catalogue import run

    script = str(ROOT / "workflow/scripts/catalogue/train.py")
    keras_side, torch_side = (set(sources.closure((script, run.trainer(arm)))) for arm in (cases.KERAS, "fixed"))
    assert "gapstudy.studies.catalogue.keras_ref" in keras_side and "gapstudy.studies.catalogue.torch_port" not in keras_side
    assert "gapstudy.studies.catalogue.torch_port" in torch_side and "gapstudy.studies.catalogue.keras_ref" not in torch_side
    assert "gapstudy.studies.catalogue.stories" not in keras_side | torch_side
    lock = set(sources.closure((str(ROOT / "workflow/scripts/catalogue/lockstep.py"),)))
    assert "gapstudy.studies.catalogue.stories" not in lock
    # The catalogue's traces run on the engine that traces a user's port: an edit of it reruns them.
    assert {"gapstudy.studies.port.lockstep", "gapstudy.trace.engine", "gapstudy.trace.observe",
            "gapstudy.trace.mapping"} <= lock
