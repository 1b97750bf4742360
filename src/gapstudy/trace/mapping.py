"""Map a Keras 3 model's weights onto a user's PyTorch module and back.

A port of a Keras model to PyTorch can only be compared with the original
when both start from the very same weights. This module pairs the Keras
layers that hold weights with the torch modules that hold parameters, layer by
layer, and converts each weight between the two frameworks' layouts:

- Dense kernel (in, out) <-> Linear weight (out, in): transpose; when the
  Dense is fed by a Flatten of a (N, H, W, C) / (N, L, C) tensor and the
  torch port is channels-first, also a permutation of the kernel's rows
  ((H, W, C) order in Keras, (C, H, W) in torch).
- Conv1D kernel (k, in, out) <-> Conv1d weight (out, in, k); Conv2D kernel
  (kh, kw, in, out) <-> Conv2d weight (out, in, kh, kw): axis permutations.
- BatchNormalization gamma, beta, moving_mean, moving_variance (C,) <->
  BatchNorm1d/2d weight, bias, running_mean, running_var (C,).
- LSTM kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,) <-> weight_ih_l0
  (4u, in), weight_hh_l0 (4u, u), bias_ih_l0 and bias_hh_l0 (4u,):
  transposes; Keras' gate order i, f, c, o is torch's i, f, g, o; Keras'
  single bias is bias_ih + bias_hh (to torch: bias_ih = bias, bias_hh = 0).
- GRU (reset_after=True) kernel (in, 3u), recurrent_kernel (u, 3u), bias
  (2, 3u) <-> weight_ih_l0 (3u, in), weight_hh_l0 (3u, u), bias_ih_l0,
  bias_hh_l0 (3u,): transposes and gate blocks z, r, h <-> r, z, n; bias row 0
  is the input bias, row 1 the recurrent one.
- Embedding embeddings (V, D) <-> weight (V, D); LayerNormalization (last
  axis only) gamma, beta (D,) <-> weight, bias (D,): unchanged.

Only weights are copied. Settings (BatchNorm momentum and epsilon,
LayerNorm epsilon, activations, strides, padding, ...) are left alone: they
are part of the model's definition, and a separate probe compares them.

Everything here is a pure function of its arguments, except two small caches
keyed weakly by Keras layer: the layer that precedes a ``Dense`` in its
model's ``layers`` list (recorded by :func:`keras_layers`, used only when the
Keras graph holds no node to read the ``Flatten`` from) and the
``torch_layout`` the pairs were last copied with (used by
:func:`torch_named`, whose signature has no layout). ``torch`` and ``keras``
are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import weakref
from collections import Counter

import numpy as np

KINDS: dict = {
    "Linear": "Dense",
    "Conv1d": "Conv1D",
    "Conv2d": "Conv2D",
    "BatchNorm1d": "BatchNormalization",
    "BatchNorm2d": "BatchNormalization",
    "LSTM": "LSTM",
    "GRU": "GRU",
    "Embedding": "Embedding",
    "LayerNorm": "LayerNormalization",
}
"""torch module class name -> the Keras layer class name it maps to."""

_KERAS_KINDS = frozenset(KINDS.values())
_LAYOUTS = ("channels_first", "channels_last")
_NAMED_KINDS = {"param": "", "gradient": "gradient ", "adam m": "adam m ", "adam v": "adam v "}
_ADAM_KEYS = {"adam m": "exp_avg", "adam v": "exp_avg_sq"}
# Keras weights whose torch counterparts are buffers, not parameters: they
# have neither gradients nor Adam moments, so only kind "param" lists them.
_STATS = {"BatchNormalization": frozenset({"moving_mean", "moving_variance"})}
# Layers whose output is a (N, L, D) sequence of feature vectors, laid out
# the same way in a torch port: a Flatten of it needs no permutation.
_FEATURES_LAST = frozenset({
    "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "Dense", "EinsumDense",
    "MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention",
    "TimeDistributed",
})

_PREVIOUS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LAYOUT_USED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class MappingError(ValueError):
    """The two models' layers cannot be paired, or a pair's weights cannot be copied.

    The message names the layers concerned on each side (Keras name and
    class, torch qualified name and class).
    """


# ---------------------------------------------------------------- kinds, names


def _keras_kind(layer) -> str:
    """The KINDS value ``layer`` is an instance of (subclasses included), else its class name."""
    for cls in type(layer).__mro__:
        if cls.__name__ in _KERAS_KINDS:
            return cls.__name__
    return type(layer).__name__


def _torch_kind(module) -> str | None:
    """The Keras kind of a torch module (via its class or a base class in KINDS), else None."""
    for cls in type(module).__mro__:
        if cls.__name__ in KINDS:
            return KINDS[cls.__name__]
    return None


def _kdesc(layer) -> str:
    return f"{layer.name!r} ({type(layer).__name__})"


def _tdesc(name: str, module) -> str:
    return f"{name!r} ({type(module).__name__})"


def _np(value) -> np.ndarray:
    """A Keras variable or tensor as a NumPy array (a copy)."""
    if hasattr(value, "numpy"):  # a Keras Variable on any backend, an eager TF tensor
        return np.array(value.numpy())
    import keras

    return np.array(keras.ops.convert_to_numpy(value))


def _check_layout(torch_layout: str) -> None:
    if torch_layout not in _LAYOUTS:
        raise ValueError(f"unknown torch_layout {torch_layout!r}; allowed: {', '.join(_LAYOUTS)}")


# ---------------------------------------------------------------- the two sides


def keras_layers(model) -> list:
    """The layers of a Keras model that hold weights, in model order.

    Walks ``model.layers`` and recurses into nested ``Sequential`` or
    ``Model`` layers (their own weights are their sub-layers'), keeping every
    layer with at least one weight, trainable or not (a BatchNormalization's
    moving statistics count). A layer shared by several places is listed
    once, at its first place. A bare layer (not a model) gives ``[layer]``
    when it holds weights.

    As a side effect the layer preceding each layer in its model's
    ``layers`` list is remembered (weakly), so that a ``Dense`` fed by a
    ``Flatten`` can be found in a model whose graph records no nodes (a
    subclassed model); a functional or Sequential model's graph is read
    directly.
    """
    import keras

    out, seen = [], set()

    def walk(container):
        previous = None
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                walk(layer)
            else:
                if previous is not None:
                    try:
                        _PREVIOUS[layer] = previous
                    except TypeError:  # not weak-referenceable: the fallback just won't apply
                        pass
                if layer.weights and id(layer) not in seen:
                    seen.add(id(layer))
                    out.append(layer)
            previous = layer

    if isinstance(model, keras.Model):
        walk(model)
    elif model.weights:
        out.append(model)
    return out


def _own_tensors(module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(
        True for _ in module.buffers(recurse=False))


def _call(module, example_input):
    if isinstance(example_input, dict):
        return module(**example_input)
    if isinstance(example_input, (tuple, list)):
        return module(*example_input)
    return module(example_input)


def torch_modules(module, example_input) -> list[tuple[str, "nn.Module"]]:
    """(qualified name, module) of each mappable torch module, in forward-call order.

    A module is listed when its class (or a base class) is in ``KINDS`` and it
    holds parameters or buffers of its own (``recurse=False``). The order is
    the order in which one forward pass on ``example_input`` calls them
    (forward pre-hooks, removed afterwards), because the order of
    ``named_modules()`` is the order of attribute assignment in ``__init__``,
    which need not be the order of the computation; a module called twice
    keeps its first position. Modules the forward pass never calls are left
    out (they cannot influence the output).

    ``example_input`` is a tensor (a tuple/list is passed as positional
    arguments, a dict as keyword arguments), with the torch module's shapes,
    e.g. (N, C, H, W) for a Conv2d. The pass runs under ``torch.no_grad()``
    in eval mode (so BatchNorm running statistics are not updated and
    dropout draws nothing) inside ``torch.random.fork_rng`` (so the caller's
    random stream is untouched); every module's ``training`` flag is
    restored afterwards.
    """
    import torch

    names = {}
    for name, m in module.named_modules():
        if _torch_kind(m) is not None and _own_tensors(m):
            names[id(m)] = (name, m)
    order, seen = [], set()

    def hook(m, args, kwargs=None):
        if id(m) not in seen:
            seen.add(id(m))
            order.append(names[id(m)])

    handles = [m.register_forward_pre_hook(hook) for _, m in names.values()]
    training = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            _call(module, example_input)
    finally:
        for h in handles:
            h.remove()
        for m, flag in training:
            m.training = flag
    return order


# ---------------------------------------------------------------- pairing


def _surplus(a: list[str], b: list[str]) -> tuple[list[int], list[int]]:
    """Indices of a and b left over when the i-th of each kind in a pairs with the i-th in b.

    The same rule as the pairing itself: per kind, the first min(count in a,
    count in b) pair up and the later ones are left over.
    """
    ca, cb = Counter(a), Counter(b)
    seen_a, seen_b = Counter(), Counter()
    left_a, left_b = [], []
    for i, kind in enumerate(a):
        seen_a[kind] += 1
        if seen_a[kind] > cb[kind]:
            left_a.append(i)
    for j, kind in enumerate(b):
        seen_b[kind] += 1
        if seen_b[kind] > ca[kind]:
            left_b.append(j)
    return left_a, left_b


def pair(keras_model, torch_module, example_input,
         overrides: dict | None = None) -> list[tuple["keras.Layer", str, "nn.Module"]]:
    """Pair each weight-holding Keras layer with the torch module that plays its part.

    Returns ``[(keras_layer, torch_qualified_name, torch_module), ...]`` in
    Keras model order. ``overrides`` ({keras layer name: torch qualified
    name}, the config's ``port.mapping``) are pinned first; the remaining
    Keras layers (:func:`keras_layers`) and torch modules
    (:func:`torch_modules`, forward-call order) are then paired in order
    by kind: the i-th remaining Keras ``Dense`` with the i-th remaining torch
    ``Linear``, and so on. Kinds may interleave differently on the two sides
    (a functional model lists branches in topological order, a torch forward
    in call order); what must match is the number of layers of each kind.

    Raises MappingError when an override names a layer that does not exist or
    pairs different kinds, or when the remaining layers do not match one to
    one by kind; the message names, for each side, the layers left unmapped
    (per kind, those after the last one the other side can match), lists both
    orders, and says that ``port.mapping`` in the config can pin pairs.
    Weight shapes are checked when copying, not here.
    """
    ks = keras_layers(keras_model)
    ts = torch_modules(torch_module, example_input)
    all_torch = dict(torch_module.named_modules())
    by_kname = {}
    for layer in ks:
        by_kname.setdefault(layer.name, layer)

    pinned: dict[int, tuple] = {}
    pinned_torch: set[int] = set()
    for kname, tname in (overrides or {}).items():
        if kname not in by_kname:
            raise MappingError(
                f"port.mapping pins Keras layer {kname!r}, but the Keras model has no weight-holding "
                f"layer of that name; it has: {', '.join(_kdesc(l) for l in ks) or 'none'}")
        if tname not in all_torch:
            raise MappingError(
                f"port.mapping pins Keras layer {kname!r} to torch module {tname!r}, but the torch "
                f"module has no submodule of that name; mappable ones: "
                f"{', '.join(_tdesc(n, m) for n, m in ts) or 'none'}")
        layer, module = by_kname[kname], all_torch[tname]
        if _torch_kind(module) != _keras_kind(layer):
            raise MappingError(
                f"port.mapping pins Keras layer {_kdesc(layer)} to torch module {_tdesc(tname, module)}, "
                f"which is not of a kind that maps to {_keras_kind(layer)} (KINDS: {KINDS})")
        if id(layer) in pinned or id(module) in pinned_torch:
            raise MappingError(
                f"port.mapping pins Keras layer {kname!r} or torch module {tname!r} twice")
        pinned[id(layer)] = (layer, tname, module)
        pinned_torch.add(id(module))

    rest_k = [l for l in ks if id(l) not in pinned]
    rest_t = [(n, m) for n, m in ts if id(m) not in pinned_torch]
    kk = [_keras_kind(l) for l in rest_k]
    tk = [_torch_kind(m) for _, m in rest_t]

    if Counter(kk) != Counter(tk):
        left_k, left_t = _surplus(kk, tk)
        called = {id(m) for _, m in ts}
        uncalled = [_tdesc(n, m) for n, m in torch_module.named_modules()
                    if _own_tensors(m) and id(m) not in called and id(m) not in pinned_torch]
        lines = [
            "cannot pair the Keras model's layers with the torch module's: their kinds do not "
            "match one to one.",
            "Keras layers left unmapped: "
            + (", ".join(_kdesc(rest_k[i]) for i in left_k) or "none"),
            "torch modules left unmapped: "
            + (", ".join(_tdesc(*rest_t[j]) for j in left_t) or "none"),
            "Keras order: " + (", ".join(_kdesc(l) for l in rest_k) or "none"),
            "torch order (forward calls): " + (", ".join(_tdesc(n, m) for n, m in rest_t) or "none"),
        ]
        if uncalled:
            lines.append("torch modules with weights that this mapping does not cover (not called "
                         "by the forward pass, or of a kind not in KINDS): " + ", ".join(uncalled))
        lines.append("Pin pairs with `port.mapping` in the config: "
                     "{keras layer name: torch module qualified name}.")
        raise MappingError("\n".join(lines))

    queues: dict[str, list] = {}
    for (n, m), kind in zip(rest_t, tk):
        queues.setdefault(kind, []).append((n, m))
    auto = {}
    for layer, kind in zip(rest_k, kk):
        n, m = queues[kind].pop(0)
        auto[id(layer)] = (layer, n, m)
    return [pinned.get(id(l)) or auto[id(l)] for l in ks]


# ---------------------------------------------------------------- Flatten order


def _history(tensor):
    return getattr(tensor, "_keras_history", None)


def _node_inputs(op, node_index: int = 0) -> list:
    nodes = getattr(op, "_inbound_nodes", None) or []
    if node_index >= len(nodes):
        return []
    return list(nodes[node_index].input_tensors)


def _tensor_layout(tensor) -> str:
    """How the Keras tensor fed to a Flatten is laid out.

    Walks the Keras graph back from ``tensor`` through layers that keep the
    layout (BatchNormalization, Activation, Dropout, ...) to the first layer
    that decides it: one with a ``data_format`` (convolutions, pooling,
    padding, ...) gives that format; an Embedding, a recurrent layer, a
    Dense or an attention layer gives ``"features_last"`` (a (N, L, D)
    sequence that a torch port holds in the same layout). An input, or a
    graph that cannot be followed, counts as ``"channels_last"`` (Keras'
    default image format).
    """
    import keras

    for _ in range(10_000):
        hist = _history(tensor)
        if hist is None:
            return "channels_last"
        op = hist.operation
        if isinstance(op, keras.Model):
            outs = getattr(op, "outputs", None) or []
            if hist.tensor_index >= len(outs):
                return "channels_last"
            tensor = outs[hist.tensor_index]
            continue
        cls = type(op).__name__
        if cls == "InputLayer":
            return "channels_last"
        fmt = getattr(op, "data_format", None)
        if fmt in _LAYOUTS:
            return fmt
        if _keras_kind(op) in _FEATURES_LAST or cls in _FEATURES_LAST:
            return "features_last"
        inputs = _node_inputs(op, hist.node_index)
        if not inputs:
            return "channels_last"
        tensor = inputs[0]
    return "channels_last"


_ELEMENTWISE = {"Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "Activation", "ReLU", "LeakyReLU",
                "ELU", "PReLU", "Softmax", "ActivityRegularization", "Identity"}


def _flatten_feeding(layer):
    """(flatten layer, its input shape without the batch axis, layout) when a Flatten feeds ``layer``.

    Read from the Keras graph (``layer._inbound_nodes[0].input_tensors``,
    stepping out of a nested model whose output feeds ``layer``); when the
    layer has no node (a subclassed model), from the layer that precedes it
    in its model's ``layers`` list, as recorded by :func:`keras_layers`. None
    when no Flatten feeds it.
    """
    import keras

    inputs = _node_inputs(layer, 0)
    if inputs:
        tensor = inputs[0]
        for _ in range(1000):
            hist = _history(tensor)
            if hist is None:
                return None
            op = hist.operation
            if isinstance(op, keras.Model):
                outs = getattr(op, "outputs", None) or []
                if hist.tensor_index >= len(outs):
                    return None
                tensor = outs[hist.tensor_index]
                continue
            # Layers that keep each feature where it is (a Dropout between Flatten and Dense) are stepped over.
            if type(op).__name__ in _ELEMENTWISE:
                before = _node_inputs(op, hist.node_index)
                if not before:
                    return None
                tensor = before[0]
                continue
            break
        else:
            return None
        if _keras_kind(op) != "Flatten":
            return None
        flat_in = _node_inputs(op, hist.node_index)
        if not flat_in:
            return None
        shape = tuple(flat_in[0].shape)[1:]
        return op, shape, _tensor_layout(flat_in[0])
    previous = _PREVIOUS.get(layer)
    if previous is None or _keras_kind(previous) != "Flatten":
        return None
    build = getattr(previous, "_build_shapes_dict", None) or {}
    shape = next(iter(build.values()), None)
    if shape is None:
        return None
    return previous, tuple(shape)[1:], "channels_last"


def _flatten_perm(layer, torch_layout: str, rows: int, tname: str, module):
    """Row permutation of a Dense kernel fed by a Flatten, or None when the orders agree.

    Keras flattens its (N, H, W, C) or (N, L, C) tensor in (H, W, C) /
    (L, C) order; a torch port, whose tensors are channels-first
    (``torch_layout="channels_first"``), flattens (N, C, H, W) / (N, C, L)
    in (C, H, W) / (C, L) order, so the same feature sits at different
    rows of the Keras kernel and columns of the torch weight. Returns
    ``perm`` with ``perm[j]`` = the Keras kernel row of torch input feature
    ``j``: torch ``weight = kernel[perm].T``. Handles a Keras
    ``Flatten(data_format="channels_first")`` and Keras channels-first
    convolutions the same way (by following every element).
    """
    found = _flatten_feeding(layer)
    if found is None:
        return None
    flat, shape, layout = found
    if len(shape) < 2:
        return None
    if any(d is None for d in shape):
        raise MappingError(
            f"Keras layer {_kdesc(layer)} is fed by Flatten {flat.name!r} whose input shape "
            f"{shape} is not fully known, so the torch feature order cannot be derived")
    size = int(np.prod(shape))
    if size != rows:
        raise MappingError(
            f"Keras layer {_kdesc(layer)} has a kernel with {rows} rows but its Flatten "
            f"{flat.name!r} gives {size} features (input shape {shape}); torch module "
            f"{_tdesc(tname, module)}")
    idx = np.arange(size).reshape(shape)
    keras_view = np.moveaxis(idx, 0, -1) if getattr(flat, "data_format", None) == "channels_first" else idx
    torch_view = np.moveaxis(idx, -1, 0) if (
        layout == "channels_last" and torch_layout == "channels_first") else idx
    keras_row_of_element = np.argsort(keras_view.ravel())
    perm = keras_row_of_element[torch_view.ravel()]
    if np.array_equal(perm, np.arange(size)):
        return None
    return perm


# ---------------------------------------------------------------- converters
#
# Each kind has to_torch(layer, name, module, kw, layout) -> {torch attr: array}
# from kw = {keras weight name: array}, and to_keras(layer, name, module, tw,
# layout, kind) -> {keras weight name: array or None} from tw = {torch attr:
# array or None}. to_keras is linear in tw (a layout change), except an LSTM's
# parameter bias, the sum bias_ih + bias_hh; with kind != "param" it takes
# bias_ih alone (the gradient, and so the Adam moments, of the two are equal).


def _nn(*arrays):
    return any(a is None for a in arrays)


def _missing(layer, wname, tname, module, attr, why=""):
    return MappingError(
        f"Keras layer {_kdesc(layer)} has weight {wname!r} but torch module "
        f"{_tdesc(tname, module)} has no {attr}{why}")


def _bias_to_torch(layer, tname, module, kw, out, attr="bias"):
    """Keras 'bias' -> torch ``attr``; a torch bias Keras lacks (use_bias=False) is set to zero."""
    tensor = getattr(module, attr, None)
    if "bias" in kw:
        if tensor is None:
            raise _missing(layer, "bias", tname, module, attr, " (use_bias differs)")
        out[attr] = kw["bias"]
    elif tensor is not None:
        out[attr] = np.zeros(tuple(tensor.shape), np.float32)


def _dense_to_torch(layer, tname, module, kw, layout):
    kernel = kw["kernel"]
    perm = _flatten_perm(layer, layout, kernel.shape[0], tname, module)
    out = {"weight": (kernel if perm is None else kernel[perm]).T}
    _bias_to_torch(layer, tname, module, kw, out)
    return out


def _dense_to_keras(layer, tname, module, tw, layout, kind):
    w = tw.get("weight")
    out = {}
    if w is None:
        out["kernel"] = None
    else:
        kernel = w.T
        perm = _flatten_perm(layer, layout, kernel.shape[0], tname, module)
        out["kernel"] = kernel if perm is None else kernel[np.argsort(perm)]
    out["bias"] = tw.get("bias")
    return out


def _conv_to_torch(layer, tname, module, kw, layout):
    k = kw["kernel"]  # (k..., in/groups, out)
    n = k.ndim
    out = {"weight": np.transpose(k, (n - 1, n - 2, *range(n - 2)))}  # (out, in/groups, k...)
    _bias_to_torch(layer, tname, module, kw, out)
    return out


def _conv_to_keras(layer, tname, module, tw, layout, kind):
    w = tw.get("weight")
    out = {"bias": tw.get("bias")}
    if w is None:
        out["kernel"] = None
    else:
        n = w.ndim
        out["kernel"] = np.transpose(w, (*range(2, n), 1, 0))
    return out


def _renaming(names: dict, implied: dict | None = None, check=None):
    """Converters for kinds whose weights only change name ({keras name: torch attr}).

    ``implied``: {torch attr: fill value} for a torch tensor whose Keras
    weight is absent (BatchNormalization center/scale=False): it is set to the
    value Keras uses in its place (beta 0, gamma 1).
    """
    implied = implied or {}

    def to_torch(layer, tname, module, kw, layout):
        if check is not None:
            check(layer, tname, module)
        out = {}
        for kname, attr in names.items():
            tensor = getattr(module, attr, None)
            if kname in kw:
                if tensor is None:
                    raise _missing(layer, kname, tname, module, attr)
                out[attr] = kw[kname]
            elif tensor is not None and attr in implied:
                out[attr] = np.full(tuple(tensor.shape), implied[attr], np.float32)
        return out

    def to_keras(layer, tname, module, tw, layout, kind):
        if check is not None:
            check(layer, tname, module)
        return {kname: tw.get(attr) for kname, attr in names.items()}

    return to_torch, to_keras


def _check_bn(layer, tname, module):
    names = {w.name for w in layer.weights}
    if {"moving_mean", "moving_variance"} & names and getattr(module, "running_mean", None) is None:
        raise MappingError(
            f"Keras layer {_kdesc(layer)} has moving statistics but torch module "
            f"{_tdesc(tname, module)} keeps none (track_running_stats=False)")


def _check_ln(layer, tname, module):
    if getattr(layer, "rms_scaling", False):
        raise MappingError(
            f"Keras layer {_kdesc(layer)} uses rms_scaling=True, which torch module "
            f"{_tdesc(tname, module)} (LayerNorm) does not compute")
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rank = None
    inputs = _node_inputs(layer, 0)
    if inputs:
        rank = len(inputs[0].shape)
    else:
        build = getattr(layer, "_build_shapes_dict", None) or {}
        shape = next(iter(build.values()), None)
        rank = None if shape is None else len(shape)
    last_only = len(axis) == 1 and (axis[0] == -1 or (rank is not None and axis[0] == rank - 1))
    if not last_only or len(tuple(module.normalized_shape)) != 1:
        raise MappingError(
            f"Keras layer {_kdesc(layer)} normalises over axis {list(axis)} and torch module "
            f"{_tdesc(tname, module)} over normalized_shape {tuple(module.normalized_shape)}; only "
            f"normalisation over the last axis alone is mapped")


def _check_rnn(layer, tname, module):
    problems = []
    if getattr(module, "num_layers", 1) != 1:
        problems.append(f"num_layers={module.num_layers}")
    if getattr(module, "bidirectional", False):
        problems.append("bidirectional=True")
    if getattr(module, "proj_size", 0):
        problems.append(f"proj_size={module.proj_size}")
    if problems:
        raise MappingError(
            f"torch module {_tdesc(tname, module)} has {', '.join(problems)}; only a single-layer, "
            f"unidirectional recurrent module maps onto Keras layer {_kdesc(layer)}")
    if _keras_kind(layer) == "GRU" and not getattr(layer, "reset_after", True):
        raise MappingError(
            f"Keras layer {_kdesc(layer)} is a GRU with reset_after=False, which applies the reset "
            f"gate before the recurrent matrix; torch module {_tdesc(tname, module)} (nn.GRU) "
            f"always applies it after (reset_after=True), so no weights make them equal")


def _lstm_to_torch(layer, tname, module, kw, layout):
    _check_rnn(layer, tname, module)
    out = {"weight_ih_l0": kw["kernel"].T, "weight_hh_l0": kw["recurrent_kernel"].T}
    if "bias" in kw:
        if not module.bias:
            raise _missing(layer, "bias", tname, module, "bias_ih_l0", " (bias=False)")
        out["bias_ih_l0"] = kw["bias"]
        out["bias_hh_l0"] = np.zeros_like(kw["bias"])
    elif module.bias:
        for attr in ("bias_ih_l0", "bias_hh_l0"):
            out[attr] = np.zeros(tuple(getattr(module, attr).shape), np.float32)
    return out


def _lstm_to_keras(layer, tname, module, tw, layout, kind):
    _check_rnn(layer, tname, module)
    w_ih, w_hh = tw.get("weight_ih_l0"), tw.get("weight_hh_l0")
    out = {"kernel": None if w_ih is None else w_ih.T,
           "recurrent_kernel": None if w_hh is None else w_hh.T}
    b_ih, b_hh = tw.get("bias_ih_l0"), tw.get("bias_hh_l0")
    if kind == "param":
        out["bias"] = None if _nn(b_ih, b_hh) else b_ih + b_hh
    else:
        out["bias"] = b_ih
    return out


def _gru_swap(x, axis):
    """Swap the first two of three equal gate blocks along ``axis``: Keras z,r,h <-> torch r,z,n."""
    z, r, h = np.split(x, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def _gru_to_torch(layer, tname, module, kw, layout):
    _check_rnn(layer, tname, module)
    out = {"weight_ih_l0": _gru_swap(kw["kernel"], 1).T,
           "weight_hh_l0": _gru_swap(kw["recurrent_kernel"], 1).T}
    if "bias" in kw:
        if not module.bias:
            raise _missing(layer, "bias", tname, module, "bias_ih_l0", " (bias=False)")
        bias = kw["bias"]  # (2, 3u): [input bias; recurrent bias]
        if bias.ndim != 2 or bias.shape[0] != 2:
            raise MappingError(
                f"Keras layer {_kdesc(layer)} has a GRU bias of shape {bias.shape}, expected (2, 3u); "
                f"torch module {_tdesc(tname, module)}")
        out["bias_ih_l0"] = _gru_swap(bias[0], 0)
        out["bias_hh_l0"] = _gru_swap(bias[1], 0)
    elif module.bias:
        for attr in ("bias_ih_l0", "bias_hh_l0"):
            out[attr] = np.zeros(tuple(getattr(module, attr).shape), np.float32)
    return out


def _gru_to_keras(layer, tname, module, tw, layout, kind):
    _check_rnn(layer, tname, module)
    w_ih, w_hh = tw.get("weight_ih_l0"), tw.get("weight_hh_l0")
    b_ih, b_hh = tw.get("bias_ih_l0"), tw.get("bias_hh_l0")
    return {
        "kernel": None if w_ih is None else _gru_swap(w_ih.T, 1),
        "recurrent_kernel": None if w_hh is None else _gru_swap(w_hh.T, 1),
        "bias": None if _nn(b_ih, b_hh) else np.stack([_gru_swap(b_ih, 0), _gru_swap(b_hh, 0)]),
    }


_BN = _renaming({"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                 "moving_variance": "running_var"},
                implied={"weight": 1.0, "bias": 0.0}, check=_check_bn)
_LN = _renaming({"gamma": "weight", "beta": "bias"}, implied={"weight": 1.0, "bias": 0.0},
                check=_check_ln)
_EMB = _renaming({"embeddings": "weight"})

_CONVERTERS = {
    "Dense": (_dense_to_torch, _dense_to_keras),
    "Conv1D": (_conv_to_torch, _conv_to_keras),
    "Conv2D": (_conv_to_torch, _conv_to_keras),
    "BatchNormalization": _BN,
    "LSTM": (_lstm_to_torch, _lstm_to_keras),
    "GRU": (_gru_to_torch, _gru_to_keras),
    "Embedding": _EMB,
    "LayerNormalization": _LN,
}
_TORCH_ATTRS = {
    "Dense": ("weight", "bias"),
    "Conv1D": ("weight", "bias"),
    "Conv2D": ("weight", "bias"),
    "BatchNormalization": ("weight", "bias", "running_mean", "running_var"),
    "LSTM": ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
    "GRU": ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
    "Embedding": ("weight",),
    "LayerNormalization": ("weight", "bias"),
}


def _converter(layer, tname, module):
    kind = _keras_kind(layer)
    if kind not in _CONVERTERS or _torch_kind(module) != kind:
        raise MappingError(
            f"no conversion from Keras layer {_kdesc(layer)} to torch module {_tdesc(tname, module)}")
    return kind, _CONVERTERS[kind]


def _torch_values(module, attrs, kind: str, optimizer, gradients=None) -> dict:
    """{attr: NumPy array or None} of a torch module's tensors, for one torch_named kind (a gradient from
    ``gradients``, ``{parameter: tensor}``, where it holds one, else the parameter's ``.grad``)."""
    import torch

    out = {}
    for attr in attrs:
        t = getattr(module, attr, None)
        if t is None:
            out[attr] = None
            continue
        if kind == "param":
            v = t
        elif not isinstance(t, torch.nn.Parameter):
            v = None
        elif kind == "gradient":
            v = t.grad if gradients is None else gradients.get(t, t.grad)
        else:
            state = optimizer.state.get(t) if optimizer is not None else None
            v = state.get(_ADAM_KEYS[kind]) if state else None
        out[attr] = None if v is None else v.detach().cpu().numpy().copy()
    return out


# ---------------------------------------------------------------- copying


def keras_to_torch(pairs, torch_layout: str = "channels_first") -> None:
    """Copy every Keras weight of ``pairs`` into its torch module, in place.

    ``torch_layout`` is the layout of the torch port's activations
    (``"channels_first"``: (N, C, L) / (N, C, H, W), torch's convention;
    ``"channels_last"``: a port that keeps Keras' layout); it only matters for
    a Dense fed by a Flatten of a conv tensor. All conversions and shape
    checks run before anything is written, so a MappingError leaves the
    torch module untouched. Values are cast to each torch tensor's dtype and
    device and written with ``copy_`` under ``torch.no_grad()``. A torch
    tensor that Keras has no weight for is set to the value Keras implies:
    a torch bias of a Keras layer with use_bias=False (or center=False) is
    zeroed, a LayerNorm/BatchNorm weight of a Keras layer with scale=False is
    set to one, and an LSTM's ``bias_hh_l0`` is zeroed (Keras' single bias
    goes to ``bias_ih_l0``).

    Raises MappingError when a Keras weight has no torch counterpart or the
    shapes differ (naming both layers and both shapes).
    """
    import torch

    _check_layout(torch_layout)
    plan = []
    for layer, tname, module in pairs:
        kind, (to_torch, _) = _converter(layer, tname, module)
        kw = {w.name: _np(w) for w in layer.weights}
        unknown = set(kw) - set(_keras_weight_names(kind))
        if unknown:
            raise MappingError(
                f"Keras layer {_kdesc(layer)} has weights {sorted(unknown)} that have no "
                f"counterpart in torch module {_tdesc(tname, module)}")
        for attr, value in to_torch(layer, tname, module, kw, torch_layout).items():
            target = getattr(module, attr)
            if tuple(target.shape) != tuple(value.shape):
                raise MappingError(
                    f"shape mismatch: Keras layer {_kdesc(layer)} gives torch {attr} of shape "
                    f"{tuple(value.shape)}, but torch module {_tdesc(tname, module)} has {attr} of "
                    f"shape {tuple(target.shape)} (Keras weights: "
                    f"{ {k: tuple(v.shape) for k, v in kw.items()} })")
            plan.append((target, value))
    with torch.no_grad():
        for target, value in plan:
            target.copy_(torch.as_tensor(np.ascontiguousarray(value)).to(
                dtype=target.dtype, device=target.device))
    for layer, _, _ in pairs:
        _remember_layout(layer, torch_layout)


def _keras_weight_names(kind: str) -> tuple:
    return {
        "Dense": ("kernel", "bias"), "Conv1D": ("kernel", "bias"), "Conv2D": ("kernel", "bias"),
        "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
        "LSTM": ("kernel", "recurrent_kernel", "bias"), "GRU": ("kernel", "recurrent_kernel", "bias"),
        "Embedding": ("embeddings",), "LayerNormalization": ("gamma", "beta"),
    }[kind]


def _remember_layout(layer, torch_layout):
    try:
        _LAYOUT_USED[layer] = torch_layout
    except TypeError:
        pass


def _keras_side(layer, tname, module, kind_named: str, torch_layout: str, optimizer=None, gradients=None) -> dict:
    """{keras weight name: array or None} of the torch module's tensors, converted to Keras layout."""
    kind, (_, to_keras) = _converter(layer, tname, module)
    tw = _torch_values(module, _TORCH_ATTRS[kind], kind_named, optimizer, gradients)
    return to_keras(layer, tname, module, tw, torch_layout, kind_named)


def torch_to_keras(pairs, torch_layout: str = "channels_first") -> None:
    """Copy every pair's torch tensors into its Keras layer (``layer.set_weights``).

    The inverse of :func:`keras_to_torch`: each Keras weight (in the order of
    ``layer.weights``) is built from the torch tensors, an LSTM's bias as
    ``bias_ih_l0 + bias_hh_l0`` (the cell adds both, so Keras' single bias
    carries their sum), cast to the Keras weight's dtype. Torch tensors
    without a Keras counterpart are ignored. All conversions and shape
    checks run before any layer is written. Raises MappingError on a
    missing counterpart or a shape mismatch (naming both layers and shapes).
    """
    _check_layout(torch_layout)
    plan = []
    for layer, tname, module in pairs:
        values = _keras_side(layer, tname, module, "param", torch_layout)
        new = []
        for w in layer.weights:
            value = values.get(w.name)
            if value is None:
                raise MappingError(
                    f"Keras layer {_kdesc(layer)} has weight {w.name!r} of shape {tuple(w.shape)} "
                    f"that torch module {_tdesc(tname, module)} has no tensor for")
            if tuple(value.shape) != tuple(w.shape):
                raise MappingError(
                    f"shape mismatch: torch module {_tdesc(tname, module)} gives Keras {w.name} of "
                    f"shape {tuple(value.shape)}, but Keras layer {_kdesc(layer)} has {w.name} of "
                    f"shape {tuple(w.shape)}")
            new.append(value.astype(np.dtype(str(w.dtype)), copy=False))
        plan.append((layer, new))
    for layer, new in plan:
        layer.set_weights(new)
    for layer, _, _ in pairs:
        _remember_layout(layer, torch_layout)


# ---------------------------------------------------------------- named views


def _check_kind(kind: str) -> None:
    if kind not in _NAMED_KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(_NAMED_KINDS)}")


def _listed(layer, w, kind: str) -> bool:
    return kind == "param" or w.name not in _STATS.get(_keras_kind(layer), ())


def torch_named(pairs, kind: str, optimizer=None, gradients=None) -> list[tuple[str, np.ndarray]]:
    """The torch side's tensors under Keras names, in Keras order and layout.

    Returns ``[("<prefix><keras layer name>.<keras weight name>", array), ...]``
    in the order of :func:`keras_named`, so the two lists can be compared
    entry by entry. ``kind``:

    - ``"param"``: the weights, including BatchNorm running statistics (as
      moving_mean / moving_variance); an LSTM's bias is bias_ih + bias_hh.
    - ``"gradient"``: each parameter's ``.grad`` converted the same way
      (None stays None); prefix ``"gradient "``; or, with ``gradients``
      (``{parameter: tensor}``), those: the gradients as backward left them,
      where the loop clipped ``.grad`` before its step.
    - ``"adam m"`` / ``"adam v"``: ``optimizer.state[p]["exp_avg"]`` /
      ``["exp_avg_sq"]`` converted (missing -> None); prefix ``"adam m "`` /
      ``"adam v "``; ``optimizer`` is required.

    For kinds other than "param" the BatchNorm statistics are left out (they
    are buffers: no gradient, no moments) and an LSTM's bias is bias_ih's
    (its gradient equals bias_hh's). A Dense fed by a Flatten is converted
    with the ``torch_layout`` these pairs were last copied with
    (``"channels_first"`` if never).
    """
    _check_kind(kind)
    if kind in _ADAM_KEYS and optimizer is None:
        raise ValueError(f"torch_named(kind={kind!r}) needs the torch optimizer")
    prefix = _NAMED_KINDS[kind]
    out = []
    for layer, tname, module in pairs:
        layout = _LAYOUT_USED.get(layer, "channels_first")
        values = _keras_side(layer, tname, module, kind, layout, optimizer, gradients)
        for w in layer.weights:
            if _listed(layer, w, kind):
                out.append((f"{prefix}{layer.name}.{w.name}", values.get(w.name)))
    return out


def keras_named(keras_model_or_layers, kind="param") -> list[tuple[str, np.ndarray]]:
    """The Keras side's weights as ``[("<prefix><layer name>.<weight name>", array), ...]``.

    ``keras_model_or_layers``: a Keras model (its :func:`keras_layers`), a
    list of layers, or the list returned by :func:`pair`. Per layer, the
    weights come in ``layer.weights`` order (trainable, then non-trainable,
    as Keras lists them). ``kind`` as in :func:`torch_named`:

    - ``"param"``: the weights' values.
    - ``"adam m"`` / ``"adam v"``: the model's optimizer's (``model.optimizer``,
      set by ``compile``) first / second moment slot of each weight; None when
      there is no optimizer, it is not built, or the weight has no slot.
    - ``"gradient"``: Keras keeps no gradients, so the values are None; the
      names give the order in which to list gradients taken with a tape.

    BatchNorm moving statistics are listed for ``"param"`` only.
    """
    import keras

    _check_kind(kind)
    optimizer = None
    if isinstance(keras_model_or_layers, (list, tuple)):
        layers = [item[0] if isinstance(item, tuple) else item for item in keras_model_or_layers]
    else:
        layers = keras_layers(keras_model_or_layers)
        optimizer = getattr(keras_model_or_layers, "optimizer", None) if isinstance(
            keras_model_or_layers, keras.Model) else None
    prefix = _NAMED_KINDS[kind]
    out = []
    for layer in layers:
        for w in layer.weights:
            if not _listed(layer, w, kind):
                continue
            if kind == "param":
                value = _np(w)
            elif kind == "gradient":
                value = None
            else:
                value = _adam_slot(optimizer, w, kind)
            out.append((f"{prefix}{layer.name}.{w.name}", value))
    return out


def _adam_slot(optimizer, variable, kind: str):
    """A Keras Adam's first ("adam m") or second ("adam v") moment of ``variable``, or None."""
    if optimizer is None:
        return None
    slots = getattr(optimizer, "_momentums" if kind == "adam m" else "_velocities", None)
    if not slots:
        return None
    try:
        return _np(slots[optimizer._get_variable_index(variable)])
    except (KeyError, IndexError, AttributeError):
        return None
