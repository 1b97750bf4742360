"""A port's lock-step trace: the one engine for the catalogue's cases and users' ports.

``Setup`` builds both sides of a port from one seed (the user's entry points, or a catalogue case's,
``gapstudy.studies.catalogue.ports``) and copies Keras' initial weights into the module
(``gapstudy.trace.mapping``). ``traced_run`` runs the port's loop unchanged under an
``gapstudy.trace.observe.Observer``; ``control_run`` runs a control (the fixed port) on the same rows and
dropout masks; ``compare_runs`` replays Keras' own train step on those rows and masks
(``gapstudy.trace.engine.KerasReplay``) and compares every tensor (``engine.compare``); ``init_rows`` is
step 0, the initialisations as distributions. ``trace`` is all of it for a port given as entry points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gapstudy.config import ConfigError
from gapstudy.trace import engine, mapping
from gapstudy.studies.port import sides, spec
from gapstudy.trace.observe import Observer, StopTraining, loss_reads


class Setup:
    """Both sides of a port from one seed, with Keras' weights in the PyTorch module."""

    def __init__(self, config: dict, seed: int, data: dict | None = None, entries=None, copy_weights=True):
        port = config["port"]
        self.port, self.entries = port, entries or spec.Entries(port)
        self.data = data if data is not None else sides.load_data(port, self.entries)
        self.channels_first = port["data"]["torch_layout"] == "channels_first"
        self.layout = "channels_first" if self.channels_first else "channels_last"
        self.X_torch = sides.torch_layout(port, self.data["X_train"])
        self.keras = sides.build_keras(self.entries, seed, self.data["X_train"][:2])
        self.tp = sides.build_torch(self.entries, seed)
        self.example = _tensor(self.X_torch[:2])
        self.pairs = pair(self.keras, self.tp.model, self.example, port["mapping"])
        check_shapes(self)
        if copy_weights:
            try:
                mapping.keras_to_torch(self.pairs, self.layout)
            except mapping.MappingError as error:
                raise ConfigError(f"port.mapping: {error}") from None
        batch = port["keras"]["fit"]["batch_size"]
        self.tp.loader = sides.make_loader(self.entries, self.X_torch, self.data["y_train"], batch)
        self.tp.val_loader = sides.make_loader(self.entries, sides.torch_layout(port, self.data["X_val"]),
                                               self.data["y_val"], batch)


def _tensor(x):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x))


def pair(keras_model, module, example, overrides):
    try:
        return mapping.pair(keras_model, module, example, overrides)
    except mapping.MappingError as error:
        raise ConfigError(f"port.mapping: {error}") from None
    except Exception as error:
        raise ConfigError(f"port.torch.build: the module's forward on two training rows of shape "
                          f"{tuple(example.shape)} raised {type(error).__name__}: {error} "
                          "(port.data.torch_layout says which layout the module reads)") from None


def check_shapes(s: Setup) -> None:
    """Both models' outputs on two training rows: the same number of values per row."""
    import torch

    keras_out = np.asarray(s.keras(s.data["X_train"][:2], training=False))
    with torch.no_grad():
        was = s.tp.model.training
        s.tp.model.eval()
        torch_out = s.tp.model(s.example)
        s.tp.model.train(was)
    torch_out = (torch_out[0] if isinstance(torch_out, (tuple, list)) else torch_out).detach().numpy()
    if keras_out.size != torch_out.size:
        raise ConfigError(f"port.torch.build: the module's output on two rows has shape {torch_out.shape}, the "
                          f"Keras model's {keras_out.shape}; allowed: the same values per row")


def _dropout_pairs(s: Setup) -> tuple[list, dict]:
    """The dropout calls of the PyTorch forward (``nn.Dropout``'s and ``F.dropout``'s, in call order) against
    Keras' Dropout layers in model order; and the Dropout modules among them. Paired only where the counts
    agree (else no mask is carried over, and the trace after a dropout compares other draws)."""
    import keras
    import torch
    from torch.overrides import TorchFunctionMode

    calls, inside = [], []
    hooks = []
    for n, m in s.tp.model.named_modules():
        if isinstance(m, torch.nn.Dropout):
            hooks.append(m.register_forward_pre_hook(lambda mod, args, n=n: inside.append(n)))
            hooks.append(m.register_forward_hook(lambda mod, args, out: inside.pop() and None))

    class Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") == "dropout":
                calls.append(inside[-1] if inside else None)
            return func(*args, **(kwargs or {}))

    was = s.tp.model.training
    s.tp.model.eval()
    with torch.no_grad(), Count():
        s.tp.model(s.example)
    s.tp.model.train(was)
    for h in hooks:
        h.remove()
    keras_drops = [layer.name for layer in s.keras.layers if isinstance(layer, keras.layers.Dropout)]
    if len(calls) != len(keras_drops):
        return [], {}
    return keras_drops, {module: k for module, k in zip(calls, keras_drops) if module is not None}


def dropout_orders(s: Setup, keras_drops: list) -> dict:
    """``{Keras Dropout layer: index}`` such that Keras' Dropout input is the PyTorch one's ``[:, index]``.

    After a flatten of channels-first features (PyTorch's (C, H, W) order against Keras' (H, W, C)), a
    mask drawn for the PyTorch side is carried over through this index; None where no flatten of images
    comes before the Dropout (the layout conversion alone carries the mask over).
    """
    import keras

    out = {}
    layers = list(s.keras.layers)
    for keras_name in keras_drops:
        out[keras_name] = None
        if not s.channels_first:
            continue
        at = [layer.name for layer in layers].index(keras_name)
        for layer in reversed(layers[:at]):
            if isinstance(layer, keras.layers.Flatten):
                shape = tuple(layer.input.shape[1:])
                if len(shape) >= 2:
                    torch_order = np.arange(int(np.prod(shape))).reshape((shape[-1],) + shape[:-1])
                    out[keras_name] = np.moveaxis(torch_order, 0, -1).reshape(-1)
                break
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)):
                break
    return out


def init_rows(config: dict, s: Setup, draws: int = engine.INIT_DRAWS) -> list[dict]:
    """Step 0: Keras' and the port's initial weights over ``draws`` seeds, as distributions."""
    k_draws, p_draws = [], []
    seed = config["lockstep"]["seed"]
    for i in range(draws):
        keras_model = sides.build_keras(s.entries, seed + i, s.data["X_train"][:2])
        tp = sides.build_torch(s.entries, seed + i)
        pairs = pair(keras_model, tp.model, s.example, s.port["mapping"])
        # Keras names layers it was not given a name for anew in every model (dense, then dense_2, ...): each
        # draw's weights are named after the traced model's layers, pair by pair.
        rename = {layer.name: traced.name for (layer, _, _), (traced, _, _) in zip(pairs, s.pairs)}

        def named(items):
            return {rename[n.split(".", 1)[0]] + "." + n.split(".", 1)[1]: a for n, a in items}

        k_draws.append(named(mapping.keras_named([layer for layer, _, _ in pairs])))
        p_draws.append(named(mapping.torch_named(pairs, "param")))
    return engine.init_statistics(k_draws, p_draws)


@dataclass
class Plan:
    """What the trace pairs on both sides of a port: ``blocks`` ``{torch module: Keras layer}``; the dropout
    calls of a forward against Keras' Dropout layers (``calls``) and the Dropout modules among them
    (``drops``); each mapped layer's activation, for a port that applies it as a function in forward
    (``torch.relu(self.hidden(x))``); ``keras_order``: the index that carries a mask over a flatten."""

    blocks: dict
    calls: list
    drops: dict
    activations: dict
    keras_order: dict


def plan(s: Setup) -> Plan:
    calls, drops = _dropout_pairs(s)
    activations = {layer.name: layer.activation for layer, _, _ in s.pairs
                   if getattr(getattr(layer, "activation", None), "__name__", "linear") != "linear"}
    keras_order = {name: index for name, index in dropout_orders(s, calls).items() if index is not None}
    return Plan(blocks={name: layer.name for layer, name, _ in s.pairs}, calls=calls, drops=drops,
                activations=activations, keras_order=keras_order)


def check_start(s: Setup, lock: dict) -> None:
    """Both sides hold the same weights before the first step (Keras' copied into the module)."""
    start = engine.compare(mapping.keras_named([layer for layer, _, _ in s.pairs]),
                           mapping.torch_named(s.pairs, "param"), lock["atol"], lock["rtol"])
    if any(r["differs"] for r in start):
        raise RuntimeError(f"the port {s.port['name']} did not take Keras' initial weights: "
                           + ", ".join(r["tensor"] for r in start if r["differs"]))


def trace(config: dict, data: dict, entries: spec.Entries, control: spec.Entries | None = None, log=print,
          **labels) -> tuple[pd.DataFrame, dict]:
    """Trace a port given as loaded entry points against its Keras model, with ``control`` (another port
    of the same model: the fixed one) as the control where given; (every traced row, the summary)."""
    lock = config["lockstep"]
    seed, epochs = lock["seed"], lock["epochs"]
    s = Setup(config, seed, data, entries)
    check_start(s, lock)
    init = init_rows(config, s)
    p = plan(s)
    run = traced_run(s, p, lock, epochs, seed, log)
    ctrl = None
    if control is not None:
        ctrl = control_run(s, Setup({**config, "port": control.port}, seed, s.data, control), p, run, lock,
                           epochs, seed, log)
    return compare_runs(s, p, run, ctrl, init, lock, epochs, **labels)


def compare_runs(s: Setup, p: Plan, run: dict, control: dict | None, init: list[dict], lock: dict, epochs: int,
                 **labels) -> tuple[pd.DataFrame, dict]:
    """Keras' train step replayed on the rows (and with the dropout masks) of each traced step, compared
    tensor by tensor with the port's and the control's; (every row, ``engine.summarise`` and where the
    port leaves Keras from the same weights, and where a difference the control shares first appears)."""
    observer, epoch_rows = run["observer"], run["epoch_rows"]
    replay = engine.KerasReplay(s.keras, list(p.blocks.values()), p.calls)
    X, y = s.data["X_train"], s.data["y_train"]
    rows, v = [], 0
    keras_shuffles = s.port["keras"]["fit"]["shuffle"]
    epoch_of = np.repeat(np.arange(1, len(epoch_rows) + 1), [len(e) for e in epoch_rows])
    tol = lock["atol"], lock["rtol"]
    calls, keras_order = p.calls, p.keras_order
    for i, rec in enumerate(observer.steps):
        step = i + 1
        idx = rec["rows"]
        masks = {calls[k]: (m[:, keras_order[calls[k]]] if calls[k] in keras_order else
                            _keras_mask(m, s.channels_first)) for k, m in rec["masks"].items()}
        keras = _as_the_loss_reads(replay.step(X[idx], y[idx], masks), loss_reads(rec["loss_calls"]))
        a, b = engine.align(keras, _tensors(rec, X[idx], p.activations, keras_order))
        c = None
        if control is not None and i < len(control["observer"].steps):
            c = engine.align(a, _tensors(control["observer"].steps[i], X[idx], p.activations, keras_order))[1]
        epoch = int(epoch_of[i]) if i < len(epoch_of) else len(epoch_rows)
        ordered = epoch_rows[epoch - 1] if epoch_rows else []
        if sum(len(e) for e in epoch_rows[:epoch - 1]) == i:
            in_order = np.array_equal(np.concatenate(ordered), np.arange(sum(len(r) for r in ordered)))
            rows.append({"step": step, "epoch": epoch, "position": -1, "tensor": engine.BATCH_ROWS,
                         "kind": "input", "max_abs_difference": float(in_order == keras_shuffles),
                         "keras_scale": 1.0, "relative_difference": float(in_order == keras_shuffles),
                         "differs": bool(in_order and keras_shuffles)})
        rows += [r | {"step": step, "epoch": epoch} for r in engine.compare(a, b, *tol, c, missing_differs=False)]
        while v < len(run["validations"]) and run["validations"][v][0] == step:
            k_eval = replay.evaluate(s.data["X_val"])
            k_eval[0] = ("validation output", sides.as_probabilities(s.port["task"], k_eval[0][1]))
            t_eval, c_eval = (_validation(s, r["validations"][v]) if r is not None and v < len(r["validations"])
                              else None for r in (run, control))
            rows += [r | {"step": step, "epoch": epoch}
                     for r in engine.compare(k_eval, t_eval, *tol, c_eval, missing_differs=False)]
            v += 1
    init_frame = [r | {"step": 0, "epoch": 0} for r in init]
    steps = pd.DataFrame(init_frame + rows, columns=engine.STEP_COLUMNS)
    result = engine.summarise(steps, lock["atol"], lock["rtol"], epochs, **labels)
    # From the same weights (steps after 0): where the port first leaves Keras, and where it leaves Keras
    # with the control (the fixed port) beside it, a difference no fix here addresses (or round-off).
    later = steps[steps["step"] > 0]
    same = engine.summarise(later, lock["atol"], lock["rtol"], epochs) if len(later) else {}
    result |= {f"traced_{k}": same.get(k) for k in ("first_step", "first_tensor", "first_kind")}
    beyond = later["max_abs_difference"] > lock["atol"] + lock["rtol"] * later["keras_scale"]
    shared = later[beyond & ~later["differs"] & later["from_fixed_port"].notna()]
    first = shared.iloc[0] if len(shared) else None
    result |= {"unexplained_step": None if first is None else int(first["step"]),
               "unexplained_tensor": None if first is None else first["tensor"]}
    return steps, result


def _snapshot(s: Setup):
    """What a step leaves, in Keras' names: gradients (as backward left them, before any clipping the loop
    applies, as Keras' tape gives them: a step's clipping shows in its moments and weights, as in Keras'
    ``optimizer.apply``), Adam's moments, the weights and statistics."""
    def snapshot(obs):
        raw = {obs.params[name]: grad for name, grad in obs.current["raw_grads"].items()}
        return (mapping.torch_named(s.pairs, "gradient", gradients=raw)
                + mapping.torch_named(s.pairs, "adam m", s.tp.optimizer)
                + mapping.torch_named(s.pairs, "adam v", s.tp.optimizer) + mapping.torch_named(s.pairs, "param"))
    return snapshot


def traced_run(s: Setup, p: Plan, lock: dict, epochs: int, seed: int, log, replay_masks=None) -> dict:
    """The user's loop under an ``Observer`` for ``epochs`` (or ``lockstep.max_steps``): every step's record,
    the rows of each epoch, and the validation output and weights after each."""
    import torch

    observer = Observer(s.tp, s.X_torch, s.channels_first, blocks=p.blocks, dropouts=p.drops,
                        mask_seed=None if replay_masks is not None else seed, snapshot=_snapshot(s),
                        dropout_calls=p.calls, stop_after=lock.get("max_steps"), replay_masks=replay_masks)
    X_val_torch = sides.torch_layout(s.port, s.data["X_val"])
    epoch_rows, validations = [], []

    def on_epoch(epoch):
        done = sum(len(e) for e in epoch_rows)
        epoch_rows.append([st["rows"] for st in observer.steps[done:]])
        with torch.no_grad():
            observer.eval_calls, saved = [], observer.eval_calls
            out = sides.predict_torch(s.entries, s.tp, X_val_torch)
            observer.eval_calls = saved
        validations.append((len(observer.steps), out, mapping.torch_named(s.pairs, "param")))
        log(f"{'control' if replay_masks is not None else 'port'}: epoch {epoch + 1} traced, "
            f"{len(observer.steps)} steps ({done} before)")

    stopped = False
    try:
        with observer.function_mode():
            sides.run_loop(s.entries, s.tp, epochs, on_epoch if s.entries.per_epoch else None)
    except StopTraining:  # lockstep.max_steps reached: the trace ends there, validation after it
        stopped = True
    if stopped or not s.entries.per_epoch:
        on_epoch(len(epoch_rows))
    observer.detach()
    return {"observer": observer, "epoch_rows": epoch_rows, "validations": validations}


class _EpochReplay:
    """A batch sampler that yields, at its e-th pass, the rows the port's loader drew in epoch e."""

    def __init__(self, epochs: list):
        self.epochs, self.pass_ = [[list(map(int, r)) for r in e] for e in epochs], 0

    def __iter__(self):
        batches = self.epochs[min(self.pass_, len(self.epochs) - 1)]
        self.pass_ += 1
        return iter(batches)

    def __len__(self):
        return len(self.epochs[min(self.pass_, len(self.epochs) - 1)])


def control_run(s: Setup, c: Setup, p: Plan, run: dict, lock: dict, epochs: int, seed: int, log) -> dict | None:
    """The control ``c`` (the fixed port, from the same weights) traced on the port's rows and masks; None
    where the loader cannot replay them (not a DataLoader over the training rows in their order)."""
    from torch.utils.data import DataLoader

    if not isinstance(s.tp.loader, DataLoader):
        return None
    c.tp.loader = DataLoader(s.tp.loader.dataset, batch_sampler=_EpochReplay(run["epoch_rows"]),
                             collate_fn=s.tp.loader.collate_fn)
    masks = [rec["masks"] for rec in run["observer"].steps]
    out = traced_run(c, p, lock, epochs, seed, log, replay_masks=masks)
    ours = [st["rows"] for st in run["observer"].steps]
    theirs = [st["rows"] for st in out["observer"].steps]
    if len(theirs) != len(ours) or any(a is None or b is None or not np.array_equal(a, b) for a, b in zip(ours, theirs)):
        log("control: its loader did not replay the port's rows; no control")
        return None
    return out


def _tensors(rec, x, activations, keras_order) -> list:
    """One traced step of a PyTorch side as ``[(name, array or alternatives)]``, in Keras' names and layout."""
    return ([("input", x)] + [(name, _with_activation(activations.get(name),
                                                      [t[:, keras_order[name]] for t in alts]
                                                      if name in keras_order else alts))
                              for name, alts in rec["order"]]
            + [("loss input", rec.get("loss_input")), ("loss", rec["loss"].numpy() if rec["loss"] is not None else None)]
            + rec["snapshot"])


def _as_the_loss_reads(keras: list, reads: str | None) -> list:
    """Keras' step with "loss input" as the port's loss reads it: Keras' losses read the logits of a softmax
    or sigmoid output; a port whose loss applies its own (``cross_entropy``) must hand it the logits too,
    one whose loss reads probabilities (``BCELoss`` after ``Sigmoid``) the output, and ``NLLLoss`` the
    log-probabilities. A hand-written loss is compared with the closer of logits and output."""
    out = []
    for name, value in keras:
        if name == "loss input" and reads is not None:
            logits, y_pred = value
            value = (logits if reads == "logits" else
                     np.log(np.clip(y_pred, 1e-30, None)) if reads == "log-probabilities" else y_pred)
        out.append((name, value))
    return out


def _validation(s: Setup, validation) -> list:
    return [("validation output", sides.as_probabilities(s.port["task"], validation[1]))] + validation[2]


def _with_activation(activation, alternatives: list) -> list:
    """The PyTorch side's alternatives of a layer's output, and each with the Keras layer's activation applied."""
    if activation is None:
        return alternatives
    return alternatives + [np.asarray(activation(x)) for x in alternatives]


def _keras_mask(mask, channels_first):
    from gapstudy.trace.observe import to_keras_layout

    return to_keras_layout(mask, channels_first)
