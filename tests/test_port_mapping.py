"""gapstudy.trace.mapping: Keras 3 weights onto a user's torch module and back.

Each case builds a small Keras model and the torch module a user would write
for it, copies the Keras weights (set to random values first, so that no
bias is zero and no statistic is trivial) into torch, checks that both give
the same output on the same input, then copies torch into a freshly built
Keras model and that one into a fresh torch module, and checks every weight
on the way is bit for bit the original (the conversions are transposes,
permutations and, for an LSTM bias, b + 0).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from gapstudy.trace import mapping as M  # noqa: E402

ATOL = 1e-6


def _seed(s):
    keras.utils.set_random_seed(s)
    torch.manual_seed(s)


def _randomize(model, seed):
    """Every weight of the Keras model to N(0, 0.3²), moving variances to U(0.5, 2)."""
    rng = np.random.default_rng(seed)
    for layer in M.keras_layers(model):
        new = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if w.name == "moving_variance":
                new.append(rng.uniform(0.5, 2.0, shape).astype("float32"))
            else:
                new.append((0.3 * rng.standard_normal(shape)).astype("float32"))
        layer.set_weights(new)


def _keras_out(model, x):
    return np.asarray(model(x, training=False))


def _torch_out(module, x):
    module.eval()
    with torch.no_grad():
        return module(x).numpy()


# ---------------------------------------------------------------- the cases


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 12, bias=False)
        self.out = nn.Linear(12, 4)

    def forward(self, x):
        return self.out(torch.tanh(self.fc2(torch.relu(self.fc1(x)))))


def mlp_keras():
    return keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(12, activation="tanh", use_bias=False, name="nobias"),
        keras.layers.Dense(4, name="out"),
    ])


class Conv1DNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):  # x: (N, C, L)
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def conv1d_keras():  # functional
    inp = keras.Input((10, 3))
    h = keras.layers.Conv1D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(2, name="fc")(h))


class Conv2DNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4, eps=1e-3)  # Keras' default epsilon (a setting, not copied)
        self.fc = nn.Linear(64, 3)

    def forward(self, x):  # x: (N, C, H, W)
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


class Conv2DKerasSub(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3, name="conv")
        self.bn = keras.layers.BatchNormalization(name="bn")
        self.flat = keras.layers.Flatten()
        self.fc = keras.layers.Dense(3, name="fc")

    def call(self, x, training=False):
        return self.fc(self.flat(keras.ops.relu(self.bn(self.conv(x), training=training))))


def conv2d_keras(style="sequential"):
    if style == "subclassed":
        model = Conv2DKerasSub()
        model(np.zeros((1, 6, 6, 3), "float32"))
        return model
    layers = [keras.layers.Conv2D(4, 3, name="conv"), keras.layers.BatchNormalization(name="bn"),
              keras.layers.ReLU(), keras.layers.Flatten(), keras.layers.Dense(3, name="fc")]
    if style == "sequential":
        return keras.Sequential([keras.Input((6, 6, 3))] + layers)
    inp = keras.Input((6, 6, 3))
    h = inp
    for layer in layers:
        h = layer(h)
    return keras.Model(inp, h)


class RNNNet(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(3, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def rnn_keras(kind, **kw):
    cls = keras.layers.LSTM if kind == "LSTM" else keras.layers.GRU
    return keras.Sequential([keras.Input((5, 3)), cls(6, name="rnn", **kw), keras.layers.Dense(2, name="fc")])


class EmbedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.norm = nn.LayerNorm(8, eps=1e-3)  # Keras' default epsilon
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.norm(self.emb(x)).mean(1))


def embed_keras():  # functional
    inp = keras.Input((7,), dtype="int32")
    h = keras.layers.Embedding(20, 8, name="emb")(inp)
    h = keras.layers.LayerNormalization(name="norm")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(inp, keras.layers.Dense(3, name="fc")(h))


class EmbedFlatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 4)
        self.fc = nn.Linear(28, 3)

    def forward(self, x):
        return self.fc(self.emb(x).flatten(1))


def embed_flatten_keras():
    """A Flatten of an Embedding's (N, L, D): torch keeps that layout, so no row permutation."""
    return keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(20, 4, name="emb"),
                             keras.layers.Flatten(), keras.layers.Dense(3, name="fc")])


def _inputs(case, rng):
    """(Keras input, torch input): convs get the torch input channels-first (transposed)."""
    if case == "mlp":
        x = rng.standard_normal((4, 8)).astype("float32")
        return x, torch.from_numpy(x)
    if case == "conv1d":
        x = rng.standard_normal((4, 10, 3)).astype("float32")
        return x, torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
    if case.startswith("conv2d"):
        x = rng.standard_normal((4, 6, 6, 3)).astype("float32")
        return x, torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if case in ("lstm", "gru"):
        x = rng.standard_normal((4, 5, 3)).astype("float32")
        return x, torch.from_numpy(x)
    if case.startswith("embed"):
        x = rng.integers(0, 20, (4, 7)).astype("int32")
        return x, torch.from_numpy(x.astype("int64"))
    raise AssertionError(case)


BUILDERS = {
    "mlp": (mlp_keras, MLP),
    "conv1d": (conv1d_keras, Conv1DNet),
    "conv2d_sequential": (lambda: conv2d_keras("sequential"), Conv2DNet),
    "conv2d_functional": (lambda: conv2d_keras("functional"), Conv2DNet),
    "conv2d_subclassed": (lambda: conv2d_keras("subclassed"), Conv2DNet),
    "lstm": (lambda: rnn_keras("LSTM"), lambda: RNNNet(nn.LSTM)),
    "gru": (lambda: rnn_keras("GRU"), lambda: RNNNet(nn.GRU)),
    "embed": (embed_keras, EmbedNet),
    "embed_flatten": (embed_flatten_keras, EmbedFlatNet),
}


def _mapped(case, seed=0):
    """A randomised Keras model, its torch twin with the Keras weights, and the inputs."""
    build_keras, build_torch = BUILDERS[case]
    _seed(seed)
    km = build_keras()
    _randomize(km, seed)
    tm = build_torch()
    xk, xt = _inputs(case, np.random.default_rng(seed))
    pairs = M.pair(km, tm, xt)
    M.keras_to_torch(pairs)
    return km, tm, pairs, xk, xt


@pytest.mark.parametrize("case", list(BUILDERS))
def test_round_trip(case):
    build_keras, build_torch = BUILDERS[case]
    km, tm, pairs, xk, xt = _mapped(case)
    np.testing.assert_allclose(_torch_out(tm, xt), _keras_out(km, xk), rtol=0, atol=ATOL)

    _seed(1)
    km2 = build_keras()
    before = M.keras_named(km2)
    assert any(not np.array_equal(a, b) for (_, a), (_, b) in zip(before, M.keras_named(km)))
    M.torch_to_keras(M.pair(km2, tm, xt))
    for (name, a), (name2, b) in zip(M.keras_named(km), M.keras_named(km2)):
        assert name.split(".")[1] == name2.split(".")[1]
        np.testing.assert_array_equal(b, a, err_msg=name)

    _seed(2)
    tm2 = build_torch()
    M.keras_to_torch(M.pair(km2, tm2, xt))
    sd, sd2 = tm.state_dict(), tm2.state_dict()
    assert list(sd) == list(sd2)
    for key in sd:
        np.testing.assert_array_equal(sd2[key].numpy(), sd[key].numpy(), err_msg=key)


def test_the_flatten_permutation_is_needed_and_applied():
    km, tm, pairs, xk, xt = _mapped("conv2d_functional")
    (fc,) = [l for l in M.keras_layers(km) if l.name == "fc"]
    kernel = np.asarray(fc.kernel)  # rows in Keras' (H, W, C) order
    # torch's Linear sees (C, H, W): its input column c*16 + h*4 + w is Keras row (h*4 + w)*4 + c
    expected = kernel.reshape(4, 4, 4, 3).transpose(2, 0, 1, 3).reshape(64, 3).T
    np.testing.assert_array_equal(tm.fc.weight.detach().numpy(), expected)
    assert not np.array_equal(expected, kernel.T)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_torch_init_with_both_recurrent_biases_maps_onto_keras(cell):
    """torch's own init has bias_hh != 0: Keras gets bias_ih + bias_hh (LSTM) or a second bias row (GRU)."""
    _seed(3)
    tm = RNNNet(getattr(nn, cell))
    assert tm.rnn.bias_hh_l0.detach().abs().sum() > 0
    km = rnn_keras(cell)
    xk, xt = _inputs(cell.lower(), np.random.default_rng(3))
    M.torch_to_keras(M.pair(km, tm, xt))
    np.testing.assert_allclose(_keras_out(km, xk), _torch_out(tm, xt), rtol=0, atol=ATOL)
    (rnn,) = [l for l in M.keras_layers(km) if l.name == "rnn"]
    bias = np.asarray(rnn.weights[2])
    if cell == "LSTM":
        np.testing.assert_array_equal(bias, (tm.rnn.bias_ih_l0 + tm.rnn.bias_hh_l0).detach().numpy())
    else:
        assert bias.shape == (2, 18)


def test_gru_reset_after_false_is_refused():
    km = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(6, reset_after=False, name="old_gru"),
                           keras.layers.Dense(2, name="fc")])
    tm = RNNNet(nn.GRU)
    pairs = M.pair(km, tm, torch.zeros(1, 5, 3))
    with pytest.raises(M.MappingError, match="old_gru.*reset_after=False"):
        M.keras_to_torch(pairs)


def test_layer_norm_over_another_axis_is_refused():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(7)

        def forward(self, x):
            return self.norm(x.transpose(1, 2))

    km = keras.Sequential([keras.Input((7, 8)), keras.layers.LayerNormalization(axis=1, name="ln1")])
    pairs = M.pair(km, Net(), torch.zeros(1, 7, 8))
    with pytest.raises(M.MappingError, match="ln1.*axis"):
        M.keras_to_torch(pairs)


def test_shape_mismatch_names_both_layers_and_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(8, 64)

        def forward(self, x):
            return self.hidden(x)

    km = keras.Sequential([keras.Input((8,)), keras.layers.Dense(100, name="wide")])
    tm = Net()
    before = tm.hidden.weight.detach().clone()
    with pytest.raises(M.MappingError) as err:
        M.keras_to_torch(M.pair(km, tm, torch.zeros(1, 8)))
    msg = str(err.value)
    for part in ("'wide' (Dense)", "'hidden' (Linear)", "(100, 8)", "(64, 8)"):
        assert part in msg, msg
    assert torch.equal(tm.hidden.weight, before)  # nothing written
    with pytest.raises(M.MappingError, match="'wide'.*'hidden'|'hidden'.*'wide'"):
        M.torch_to_keras(M.pair(km, tm, torch.zeros(1, 8)))


# ---------------------------------------------------------------- pairing


class ThreeWay(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.conv = nn.Conv1d(1, 1, 1)
        self.fc2 = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc2(self.conv(self.fc1(x).unsqueeze(1)).squeeze(1))


def test_unmapped_layers_are_named_on_both_sides():
    km = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="d1"),
                           keras.layers.Dense(8, name="d2"), keras.layers.Dense(8, name="extra")])
    with pytest.raises(M.MappingError) as err:
        M.pair(km, ThreeWay(), torch.zeros(1, 8))
    msg = str(err.value)
    unmapped_k = [l for l in msg.splitlines() if l.startswith("Keras layers left unmapped")][0]
    unmapped_t = [l for l in msg.splitlines() if l.startswith("torch modules left unmapped")][0]
    assert "'extra' (Dense)" in unmapped_k and "d1" not in unmapped_k
    assert "'conv' (Conv1d)" in unmapped_t and "fc" not in unmapped_t
    assert "port.mapping" in msg


class TwoLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Linear(8, 8)  # assigned first, called second: the forward order counts
        self.a = nn.Linear(8, 8)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def _two_dense():
    _seed(4)
    km = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu", name="d1"),
                           keras.layers.Dense(8, name="d2")])
    _randomize(km, 4)
    return km


def test_pairs_follow_the_forward_order_and_overrides_pin_pairs():
    km, tm = _two_dense(), TwoLinear()
    x = torch.zeros(1, 8)
    assert [(l.name, n) for l, n, _ in M.pair(km, tm, x)] == [("d1", "a"), ("d2", "b")]

    pairs = M.pair(km, tm, x, overrides={"d2": "a"})
    assert [(l.name, n) for l, n, _ in pairs] == [("d1", "b"), ("d2", "a")]
    assert all(m is getattr(tm, n) for _, n, m in pairs)
    M.keras_to_torch(pairs)
    d1 = km.get_layer("d1")
    np.testing.assert_array_equal(tm.b.weight.detach().numpy(), np.asarray(d1.kernel).T)

    with pytest.raises(M.MappingError, match="'nope'"):
        M.pair(km, tm, x, overrides={"nope": "a"})
    with pytest.raises(M.MappingError, match="'zz'"):
        M.pair(km, tm, x, overrides={"d1": "zz"})


def test_torch_modules_order_first_call_and_state_restored():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.late = nn.Linear(4, 4)
            self.bn = nn.BatchNorm1d(4)
            self.early = nn.Linear(4, 4)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.late(self.early(self.drop(self.bn(self.early(x)))))

    net = Shared()
    net.train()
    net.early.eval()  # a mixed state must come back as it was
    stats = net.bn.running_mean.clone()
    x = torch.randn(3, 4)
    rng_state = torch.get_rng_state()
    got = M.torch_modules(net, x)
    assert [n for n, _ in got] == ["early", "bn", "late"]
    assert net.training and net.bn.training and not net.early.training
    assert torch.equal(net.bn.running_mean, stats)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert not any(m._forward_pre_hooks for m in net.modules())


# ---------------------------------------------------------------- named views


NAMED_CASES = ["conv2d_functional", "lstm", "gru", "embed"]


@pytest.mark.parametrize("case", NAMED_CASES)
def test_torch_named_matches_keras_named(case):
    km, tm, pairs, xk, xt = _mapped(case)
    k, t = M.keras_named(km), M.torch_named(pairs, "param")
    assert [n for n, _ in t] == [n for n, _ in k]
    assert len({n for n, _ in k}) == len(k)
    for (name, a), (_, b) in zip(k, t):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=0, atol=0, err_msg=name)
    assert [n for n, _ in M.keras_named(pairs)] == [n for n, _ in k]  # pairs work as input too


@pytest.mark.parametrize("case", ["conv2d_functional", "lstm", "gru"])
def test_gradients_and_adam_moments_match_in_keras_names(case):
    import tensorflow as tf

    km, tm, pairs, xk, xt = _mapped(case)
    assert all(v is None for _, v in M.torch_named(pairs, "gradient"))  # no backward yet

    tm.eval()
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    assert all(v is None for _, v in M.torch_named(pairs, "adam m", opt))  # no step yet
    loss = (tm(xt) ** 2).sum()
    loss.backward()
    opt.step()

    by_name = {f"{l.name}.{w.name}": w for l in M.keras_layers(km) for w in l.weights}
    names = [n for n, _ in M.keras_named(km, "gradient")]
    assert all(n.startswith("gradient ") for n in names)
    assert not any("moving" in n for n in names)
    variables = [by_name[n[len("gradient "):]] for n in names]
    with tf.GradientTape() as tape:
        kloss = tf.reduce_sum(km(xk, training=False) ** 2)
    grads = tape.gradient(kloss, variables)

    t_grads = M.torch_named(pairs, "gradient")
    assert [n for n, _ in t_grads] == names
    # float32 gradients of a squared output summed over a batch: both frameworks
    # sum the same terms in different orders, so exact agreement is impossible.
    for (name, g), kg in zip(t_grads, grads):
        np.testing.assert_allclose(g, np.asarray(kg), rtol=1e-4, atol=1e-5, err_msg=name)

    km.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    km.optimizer.apply_gradients(zip(grads, variables))
    for kind in ("adam m", "adam v"):
        k, t = M.keras_named(km, kind), M.torch_named(pairs, kind, opt)
        assert [n for n, _ in k] == [n for n, _ in t] == [kind + n[len("gradient"):] for n in names]
        for (name, a), (_, b) in zip(k, t):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-9, err_msg=name)
    with pytest.raises(ValueError, match="optimizer"):
        M.torch_named(pairs, "adam m")
