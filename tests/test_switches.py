"""Each switch does what it says, in each framework where it exists."""

import math
import warnings

import numpy as np
import pytest
import torch

from gapstudy.frameworks.runtime import limit_threads

limit_threads(1)
torch.set_num_threads(1)

from gapstudy.frameworks import torch_model, train_torch  # noqa: E402
from gapstudy import variants
from gapstudy.frameworks.torch_adam import FlatAdam  # noqa: E402

keras = pytest.importorskip("keras")

from gapstudy.frameworks import keras_model, train_keras  # noqa: E402

FAN_IN, FAN_OUT = 300, 200
XAVIER_STD = math.sqrt(2 / (FAN_IN + FAN_OUT))


def torch_weight(kind):
    torch.manual_seed(0)
    weight = torch.empty(FAN_OUT, FAN_IN)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # what nn.Linear draws first
    torch_model.init_weight_(weight, kind)
    return weight.numpy()


def keras_weight(kind):
    keras.utils.set_random_seed(0)
    init, _ = keras_model.initializers(kind, "zeros", FAN_IN)
    return np.asarray(init((FAN_IN, FAN_OUT)))


@pytest.mark.parametrize("draw", [torch_weight, keras_weight], ids=["torch", "keras"])
def test_truncated_glorot_normal_stays_within_two_std_with_glorot_variance(draw):
    w = draw("glorot_normal_truncated")
    truncation = 2 * XAVIER_STD / 0.87962566103423978
    assert np.abs(w).max() <= truncation + 1e-7
    assert np.abs(w).max() > 0.95 * truncation
    assert w.std() == pytest.approx(XAVIER_STD, rel=0.02)


@pytest.mark.parametrize("draw", [torch_weight, keras_weight], ids=["torch", "keras"])
def test_xavier_normal_is_untruncated_and_xavier_uniform_is_bounded(draw):
    normal = draw("xavier_normal")
    assert normal.std() == pytest.approx(XAVIER_STD, rel=0.02)
    assert np.abs(normal).max() > 3 * XAVIER_STD  # tails a truncated draw never has
    uniform = draw("xavier_uniform")
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert np.abs(uniform).max() <= bound and np.abs(uniform).max() > 0.99 * bound


@pytest.mark.parametrize("draw", [torch_weight, keras_weight], ids=["torch", "keras"])
def test_torch_default_weight_init_is_uniform_on_one_over_sqrt_fan_in(draw):
    w = draw("torch_default")
    assert np.abs(w).max() <= 1 / math.sqrt(FAN_IN) + 1e-7
    assert w.std() == pytest.approx(1 / math.sqrt(3 * FAN_IN), rel=0.02)


def test_bias_init_switch():
    zeros = torch_model.TorchLinearModel(10, 100, 0, bias_init="zeros")
    default = torch_model.TorchLinearModel(10, 100, 0, bias_init="torch_default")
    assert torch.count_nonzero(zeros.hidden_layer.bias) == 0
    assert torch.count_nonzero(default.hidden_layer.bias) == 100
    assert default.hidden_layer.bias.abs().max() <= 1 / math.sqrt(10)
    _, bias = keras_model.initializers("xavier_uniform", "torch_default", 10)
    drawn = np.asarray(bias((100,)))
    assert np.abs(drawn).max() <= 1 / math.sqrt(10) and np.count_nonzero(drawn) == 100


def test_framework_loss_warns_on_posted_shapes_and_equals_the_handwritten_one():
    y, y_pred = torch.rand(32), torch.rand(32, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        framework = train_torch.loss_fn("posted", "framework")(y, y_pred)
    assert any("target size" in str(w.message) for w in caught)
    assert framework.item() == pytest.approx(train_torch.loss_fn("posted", "handwritten")(y, y_pred).item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        matched = train_torch.loss_fn("matched", "framework")(y, y_pred)
    assert matched.item() == pytest.approx(train_torch.loss_fn("matched", "handwritten")(y, y_pred).item())


def gradients(steps=200, size=1201, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=1e-2, size=size).astype(np.float32) for _ in range(steps)]


def run_flat(rule, start, grads, eps=1e-7):
    flat = torch.tensor(start)
    adam = FlatAdam(flat, lr=1e-3, betas=(0.9, 0.9999), eps=eps, rule=rule)
    for g in grads:
        adam.step(torch.tensor(g))
    return flat.numpy()


def run_keras(optimizer, start, grads):
    variable = keras.Variable(start)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    return np.asarray(variable)


def run_torch(start, grads, eps=1e-7):
    param = torch.tensor(start).requires_grad_()
    adam = torch.optim.Adam([param], lr=1e-3, betas=(0.9, 0.9999), eps=eps)
    for g in grads:
        param.grad = torch.tensor(g)
        adam.step()
    return param.detach().numpy()


START = np.random.default_rng(1).normal(size=1201).astype(np.float32)
ADAM = dict(learning_rate=1e-3, beta_1=0.9, beta_2=0.9999, epsilon=1e-7)


def moved(a):
    return np.abs(a - START).max()


def test_keras_rule_in_torch_takes_keras_adams_steps():
    grads = gradients()
    ours = run_flat("keras", START, grads)
    theirs = run_keras(keras.optimizers.Adam(**ADAM), START, grads)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * moved(theirs) + 2e-7)


def test_torch_rule_in_keras_takes_torch_adams_steps():
    grads = gradients()
    ours = run_keras(keras_model.torch_rule_adam(**ADAM), START, grads)
    theirs = run_torch(START, grads)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * moved(theirs) + 2e-7)


def test_the_two_rules_differ_where_epsilon_matters():
    """With a large epsilon the placement shows: Keras' epsilon hat is not PyTorch's epsilon."""
    grads = gradients(steps=20)
    torch_rule = run_flat("torch", START, grads, eps=1e-2)
    keras_rule = run_flat("keras", START, grads, eps=1e-2)
    assert np.abs(torch_rule - keras_rule).max() > 100 * np.abs(torch_rule - START).max() * 1e-6


def train_short(switches, framework="torch", **hp):
    from gapstudy.studies.seed.data import make_dataset

    dataset = make_dataset(n_train=640, n_val=64)
    params = dict(epochs=2, batch_size=32, hidden_units=16, learning_rate=1e-3,
                  beta_1=0.9, beta_2=0.9999, epsilon=1e-7) | hp
    resolved = variants.resolve(switches, framework, params)
    trainer = train_torch.train if framework == "torch" else train_keras.train
    return trainer(dataset, 0, params, resolved)


def same_weights(a, b):
    return all(x.tobytes() == y.tobytes() for x, y in zip(a["weights"], b["weights"]))


@pytest.fixture(scope="module")
def posted_short():
    return train_short({})


@pytest.mark.parametrize("switch", [{"eval_mode": "off"}, {"graph": "retain_graph"},
                                    {"graph": "create_graph"}, {"val_loss": "full_set"}])
def test_validation_and_graph_switches_change_no_weight(posted_short, switch):
    other = train_short(switch)
    assert same_weights(posted_short, other)
    if switch == {"val_loss": "full_set"}:
        assert other["epochs"][-1]["val_loss_user"] != posted_short["epochs"][-1]["val_loss_user"]
    else:
        assert other["epochs"] == posted_short["epochs"]


@pytest.mark.parametrize("switch", [{"shuffle": "off"}, {"activation": "relu"}, {"activation": "tanh"},
                                    {"adam_rule": "keras"}, {"learning_rate": 1e-2},
                                    {"weight_init": "xavier_uniform"}, {"target_shape": "matched"}])
def test_training_switches_change_the_weights(posted_short, switch):
    assert not same_weights(posted_short, train_short(switch))


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_beta_2_switch_reaches_adam(framework):
    """Both frameworks' Adam take the switch's beta_2 instead of the config's training.beta_2."""
    params = dict(beta_1=0.9, beta_2=0.9999, learning_rate=1e-3, epsilon=1e-7, epochs=1, batch_size=32,
                  hidden_units=16)
    switches = variants.resolve({"beta_2": 0.999}, framework, params)
    assert switches["beta_2"] == 0.999 and variants.resolve({}, framework, params)["beta_2"] == 0.9999
    if framework == "torch":
        model = train_torch.FlatNet(torch_model.TorchLinearModel(10, 16, 0), "none")
        optimizer = train_torch.Stepper(model, params, switches).optimizer
        assert (optimizer.beta1, optimizer.beta2) == (0.9, 0.999)
    else:
        assert float(keras_model.build_model(10, params, switches).optimizer.beta_2) == 0.999
    posted = train_short({}, framework=framework)
    assert not same_weights(posted, train_short({"beta_2": 0.999}, framework=framework))
    with pytest.raises(ValueError, match="allowed: a number strictly between 0 and 1"):
        variants.check({"beta_2": 1.0}, (framework,))


def test_float64_trains_in_float64():
    result = train_short({"dtype": "float64"})
    assert all(w.dtype == np.float64 for w in result["weights"])
    result = train_short({"dtype": "float64"}, framework="keras")
    assert all(w.dtype == np.float64 for w in result["weights"])
    assert keras.config.floatx() == "float32"  # restored for whoever runs next


def test_epochs_switch_and_divergence_stop():
    assert len(train_short({"epochs": 3})["epochs"]) == 3
    diverged = train_short({"learning_rate": 1e6, "target_shape": "matched", "epochs": 5})
    last = diverged["epochs"][-1]["train_loss"]
    assert len(diverged["epochs"]) <= 5 and (not math.isfinite(last) or last > 1e6)


@pytest.mark.parametrize("switch", [{"activation": "relu"}, {"shuffle": "off"}, {"loss": "handwritten"},
                                    {"adam_rule": "torch"}, {"weight_init": "xavier_normal"},
                                    {"bias_init": "torch_default"}, {"target_shape": "matched"}])
def test_keras_switches_run(switch):
    result = train_short(switch, framework="keras")
    assert np.isfinite(result["predictions"]).all()


def test_switch_checks_name_the_problem():
    with pytest.raises(ValueError, match="exists only for torch, not for keras"):
        variants.check({"graph": "create_graph"}, ("torch", "keras"))
    with pytest.raises(ValueError, match="allowed: a positive number"):
        variants.check({"learning_rate": 0}, ("torch",))
    with pytest.raises(ValueError, match="allowed: a positive integer"):
        variants.check({"epochs": 2.5}, ("torch",))
    assert variants.resolve({}, "keras", {"learning_rate": 1e-3})["weight_init"] == "xavier_uniform"
    assert "graph" not in variants.resolve({}, "keras", {})
