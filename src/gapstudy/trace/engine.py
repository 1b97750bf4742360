"""The per-tensor lock-step trace: where a PyTorch port first leaves its Keras model.

One engine for the catalogue's cases (``gapstudy.studies.catalogue.lockstep``) and users' ports (``trace_port``):

- ``compare`` rows one step's tensors, Keras' against the port's, in Keras' compute order, with the
  fixed port's as the control where there is one;
- ``init_statistics`` compares two initialisations as distributions (step 0);
- ``summarise`` names the first differing (step, tensor).

For a user's port, ``trace_port`` runs the user's loop unchanged under an ``observe.Observer`` from
Keras' initial weights (``mapping``), then ``KerasReplay`` runs Keras' own train step (the one ``fit``
runs: forward, ``compute_loss`` with regularisers, the tape's gradients, ``optimizer.apply`` with its
clipping and schedule) on the rows the port's loader drew, with the port's dropout masks.

A tensor differs where ``max|keras − port| > atol + rtol · max|keras|`` (NumPy's ``allclose`` rule, on
the largest element), and, with a control, where the control does not share the difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("initial weights", "input", "layer output", "loss input", "loss", "gradient", "Adam moment",
         "updated weight", "BatchNorm statistic", "validation output")
STEP_COLUMNS = ["step", "epoch", "position", "tensor", "kind", "max_abs_difference", "keras_scale",
                "relative_difference", "fixed_port_difference", "from_fixed_port", "differs"]
INIT_DRAWS = 10
INIT_TOLERANCE = 0.1
INIT_ALPHA = 1e-3
# The largest distance between the two distribution functions that is not a finding (Kolmogorov-Smirnov):
# xavier_normal_ against glorot_uniform, the same spread, are 0.058 apart.
INIT_SHAPE_TOLERANCE = 0.03
BATCH_ROWS = "batch rows"
# Differences every port of a kind of layer has by design, below any pitfall's, named with their size in
# every trace: {result key: (the traced tensors' name suffix, what it is)}.
NAMED_DIFFERENCES = {
    "bessel": (".moving_variance",
               "Bessel's correction: PyTorch's BatchNorm keeps the unbiased running variance (n/(n − 1) times "
               "the batch's, n values per channel), Keras' BatchNormalization the biased one"),
}


def kind(name: str) -> str:
    """The kind of a traced tensor, from its name (``KINDS``)."""
    if name.startswith("initial "):
        return "initial weights"
    if name in ("input", BATCH_ROWS):
        return "input"
    if name == "loss input":
        return "loss input"
    if name in ("loss", "L2 penalty"):
        return "loss"
    if name.startswith("gradient "):
        return "gradient"
    if name.startswith("adam "):
        return "Adam moment"
    if name == "validation output":
        return "validation output"
    if name.endswith((".moving_mean", ".moving_variance")):
        return "BatchNorm statistic"
    if "." in name:
        return "updated weight"
    return "layer output"


def _largest(a: np.ndarray, b) -> float:
    if b is None or np.asarray(b).size != a.size:
        return float("inf")
    return float(np.max(np.abs(a - np.asarray(b, dtype=np.float64).reshape(a.shape)))) if a.size else 0.0


def largest_by_tensor(a: np.ndarray, b: np.ndarray, sizes) -> np.ndarray:
    """Per step, each tensor's largest absolute difference (in float64): ``(steps, len(sizes))``.

    ``a``, ``b``: ``(steps, P)``, every step's tensors flattened and concatenated in one order, of
    ``sizes`` elements each. The arithmetic of ``compare``'s, over many steps at once (the seed study's
    lock-step traces every weight at every step of 100 epochs).
    """
    bounds = np.cumsum([0, *sizes])
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return np.stack([diff[:, lo:hi].max(axis=1) for lo, hi in zip(bounds[:-1], bounds[1:])], axis=1)


def align(keras: list, port: list) -> tuple[list, list]:
    """Both sides' tensors with every list of alternatives resolved to the closest pair.

    A layer's output may come as alternatives (``(name, [array, ...])``): its own output, and its
    block's after the activations or pooling that follow it; each side applies those its own way (in
    the layer, as a module, or as a function in ``forward``). The pair of alternatives with the smallest
    largest difference is compared; an alternative of another size (an LSTM's whole sequence against
    Keras' last step) is tried at its last step too.
    """
    theirs = dict(port)
    out_k, out_p = [], []
    for name, a in keras:
        b = theirs.get(name)
        if isinstance(a, list) or isinstance(b, list):
            ks = a if isinstance(a, list) else [a]
            ps = [x for x in (b if isinstance(b, list) else [b]) if x is not None]
            ps += [x[:, -1] for x in ps if x.ndim == 3]
            best = None
            for ka in ks:
                ka64 = np.asarray(ka, dtype=np.float64)
                for pb in ps:
                    d = _largest(ka64, pb)
                    if best is None or d < best[0]:
                        best = (d, ka, pb)
            a, b = (best[1], best[2]) if best else (ks[-1], None)
        out_k.append((name, a))
        out_p.append((name, b))
    return out_k, out_p


def compare(keras: list, port: list, atol: float, rtol: float, fixed: list | None = None,
            missing_differs: bool = True) -> list[dict]:
    """Rows of ``STEP_COLUMNS`` (without step and epoch), one per Keras tensor, in Keras' order.

    ``keras``, ``port``, ``fixed``: ``[(name, array)]``. With ``fixed`` (the fixed port's tensors at the
    same step, from the same weights, batches and masks), a tensor of the port differs only where it is
    beyond tolerance both from Keras and from the fixed port: a difference the fixed port shares (float32
    round-off through another framework's kernels, or a ReLU kink it tips over) is not the pitfall's.
    A tensor the port does not have differs (``missing_differs``, the catalogue's ports name every one)
    or is left out (a user's port: a Keras layer with no PyTorch module to compare).
    """
    theirs, control = dict(port), dict(fixed or [])
    rows = []
    for position, (name, a) in enumerate(keras):
        if not missing_differs and theirs.get(name) is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        scale = float(np.max(np.abs(a))) if a.size else 0.0
        bound = atol + rtol * scale
        diff = _largest(a, theirs.get(name))
        row = {"position": position, "tensor": name, "kind": kind(name), "max_abs_difference": diff,
               "keras_scale": scale, "relative_difference": diff / scale if scale > 0 else diff,
               "differs": bool(not diff <= bound)}
        if fixed is not None:
            ours = np.asarray(theirs.get(name), dtype=np.float64) if theirs.get(name) is not None else None
            row["fixed_port_difference"] = _largest(a, control.get(name))
            row["from_fixed_port"] = _largest(ours, control.get(name)) if ours is not None else float("inf")
            row["differs"] = bool(row["differs"] and not row["from_fixed_port"] <= bound)
        rows.append(row)
    return rows


def init_statistics(keras_draws: list[dict], port_draws: list[dict]) -> list[dict]:
    """Step 0: each weight's values over several initialisations, Keras' against the port's.

    ``keras_draws``, ``port_draws``: one ``{name: array}`` per draw (seeds ``seed + i``), in Keras' names.
    A weight differs where the spreads differ by more than ``INIT_TOLERANCE`` (relative) and
    Brown-Forsythe's test of equal spread rejects at ``INIT_ALPHA``, or where the means differ by more
    than that fraction of Keras' spread and Welch's t-test rejects (a zero bias against a drawn one),
    or where the distribution functions are more than ``INIT_SHAPE_TOLERANCE`` apart and the
    Kolmogorov-Smirnov test rejects (a normal draw against a uniform one of the same spread); each with
    its size and its test, so that a small tensor's sampling noise is not a finding.
    """
    from scipy import stats

    rows = []
    for position, name in enumerate(keras_draws[0]):
        if any(name not in d or d[name] is None for d in port_draws):
            continue
        k = np.concatenate([d[name].ravel() for d in keras_draws]).astype(np.float64)
        p = np.concatenate([d[name].ravel() for d in port_draws]).astype(np.float64)
        k_sd, p_sd = float(np.std(k)), float(np.std(p))
        if k_sd == 0 and p_sd == 0:
            spread, shift, p_spread, p_shift = 0.0, abs(float(np.mean(p) - np.mean(k))), 0.0, 0.0
        else:
            spread = abs(p_sd - k_sd) / k_sd if k_sd > 0 else float("inf")
            shift = abs(float(np.mean(p) - np.mean(k))) / (k_sd if k_sd > 0 else p_sd)
            p_spread = float(stats.levene(k, p, center="median").pvalue)
            p_shift = float(stats.ttest_ind(k, p, equal_var=False).pvalue)
        differs = (spread > INIT_TOLERANCE and p_spread < INIT_ALPHA) or (shift > INIT_TOLERANCE and p_shift < INIT_ALPHA)
        if not differs and k_sd > 0 and p_sd > 0:
            ks = stats.ks_2samp(k, p)
            differs = bool(ks.statistic > INIT_SHAPE_TOLERANCE and ks.pvalue < INIT_ALPHA)
        rows.append({"position": position, "tensor": f"initial {name}", "kind": "initial weights",
                     "max_abs_difference": max(spread, shift), "keras_scale": k_sd,
                     "relative_difference": max(spread, shift), "differs": bool(differs)})
    return rows


def summarise(steps: pd.DataFrame, atol: float, rtol: float, epochs: int, **labels) -> dict:
    """The first differing (step, tensor), and what the step computed equally before it."""
    differing = steps[steps["differs"]]
    result = dict(labels) | {"atol": atol, "rtol": rtol, "epochs": epochs,
                             "steps": int(steps["step"].max()), "tensors_per_step": int((steps["step"] == 1).sum()),
                             "diverges": bool(len(differing))}
    if len(differing):
        first = differing.iloc[0]
        at_step = steps[steps["step"] == first["step"]]
        before = at_step[at_step.index < first.name]
        result |= {"first_step": int(first["step"]), "first_epoch": int(first["epoch"]),
                   "first_tensor": first["tensor"],
                   "first_kind": first["kind"], "first_difference": float(first["max_abs_difference"]),
                   "first_relative_difference": float(first["relative_difference"]),
                   "equal_before_it": int(len(before)),
                   "forward_equal": bool(not at_step[at_step["kind"].isin(["input", "layer output"])]["differs"].any())}
    else:
        result |= {"first_step": None, "first_epoch": None, "first_tensor": None, "first_kind": None}
    result["largest_relative_difference"] = float(steps[steps["step"] > 0]["relative_difference"].replace(
        np.inf, np.nan).max())
    for key, (suffix, _) in NAMED_DIFFERENCES.items():
        rows = steps[(steps["step"] > 0) & steps["tensor"].astype(str).str.endswith(suffix)]
        rows = rows[np.isfinite(rows["relative_difference"])]
        last = rows[rows["step"] == rows["step"].max()] if len(rows) else rows
        result[f"{key}_largest_relative_difference"] = float(rows["relative_difference"].max()) if len(rows) else None
        result[f"{key}_last_relative_difference"] = float(last["relative_difference"].max()) if len(rows) else None
    return result


# ------------------------------------------------------------------ Keras' own train step, replayed

class KerasReplay:
    """The user's compiled Keras model, one ``fit`` step at a time on given rows, with every tensor.

    ``blocks``: the mapped Keras layers in order; each is compared by its block's output (the last
    layer's before the next mapped layer or Dropout), as ``observe.Observer`` records the PyTorch side.
    ``dropouts``: the Dropout layers whose mask is given at each step (the PyTorch side's).
    """

    def __init__(self, model, blocks: list[str], dropouts: list[str]):
        import keras
        import tensorflow as tf

        from gapstudy.trace import mapping

        self.model, self.dropouts = model, list(dropouts)
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        marks = set(blocks) | set(dropouts)
        compared, current = [], None
        for layer in layers:
            if layer.name in marks:
                if current is not None:
                    compared.append(current)
                current = (layer.name, [layer])
            elif current is not None and current[0] not in dropouts:
                current = (current[0], current[1][:1] + [layer])
        if current is not None:
            compared.append(current)
        # Each mapped layer's own output and its block's (after the activations, pooling and flattening that
        # follow it): the PyTorch side may apply those inside the module or as functions in forward.
        self.compared = [(name, len(chain)) for name, chain in compared]
        outputs = [layer.output for _, chain in compared for layer in chain]
        self.inter = keras.Model(model.inputs, outputs + list(model.outputs))
        self.masks = {}
        for name in self.dropouts:
            layer = model.get_layer(name)

            def call(inputs, training=None, _name=name, _rate=layer.rate):
                return inputs * self.masks[_name] / (1 - _rate) if training else inputs

            layer.call = call
        weighted = mapping.keras_layers(model)
        self.weights = [(f"{layer.name}.{w.name}", w) for layer in weighted for w in layer.trainable_weights]
        self.stats = [(f"{layer.name}.{w.name}", w) for layer in weighted for w in layer.non_trainable_weights]
        self.optimizer = model.optimizer
        self.optimizer.build([w for _, w in self.weights])
        self.adam = isinstance(self.optimizer, keras.optimizers.Adam)
        self._step = tf.function(self._traced, reduce_retracing=True)

    def _traced(self, x, y, masks):
        import tensorflow as tf

        for name, mask in zip(self.dropouts, masks):
            self.masks[name] = mask
        with tf.GradientTape() as tape:
            outs = self.inter([x], training=True)
            outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
            y_pred = outs[-1]
            logits = getattr(y_pred, "_keras_logits", y_pred)
            loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        variables = [w for _, w in self.weights]
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        out = list(outs[:-1]) + [logits, y_pred, loss] + list(grads)
        if self.adam:
            index = [self.optimizer._get_variable_index(w) for w in variables]
            out += [tf.identity(self.optimizer._momentums[i]) for i in index]
            out += [tf.identity(self.optimizer._velocities[i]) for i in index]
        out += [tf.identity(w) for w in variables] + [tf.identity(w) for _, w in self.stats]
        return out

    def names(self) -> list[str]:
        weights = [n for n, _ in self.weights]
        return (["loss input", "loss"] + [f"gradient {n}" for n in weights]
                + ([f"adam m {n}" for n in weights] + [f"adam v {n}" for n in weights] if self.adam else [])
                + weights + [n for n, _ in self.stats])

    def step(self, x, y, masks: dict) -> list[tuple[str, np.ndarray]]:
        import tensorflow as tf

        given = [tf.constant(masks[name], dtype=tf.float32) if name in masks else tf.ones(())
                 for name in self.dropouts]
        tensors = [np.asarray(t) for t in self._step(tf.constant(x), tf.constant(y), given)]
        layers, i = [], 0
        for name, n in self.compared:
            layers.append((name, tensors[i:i + n]))
            i += n
        # What the loss consumes: the logits of a softmax or sigmoid output, or the output itself (a port whose
        # model ends in Sigmoid before BCELoss, or log_softmax before NLLLoss, consumes the probabilities).
        loss_input = [("loss input", tensors[i:i + 2])]
        return [("input", np.asarray(x))] + layers + loss_input + list(zip(self.names()[1:], tensors[i + 2:]))

    def evaluate(self, X_val) -> list[tuple[str, np.ndarray]]:
        output = self.model.predict(X_val, batch_size=256, verbose=0)
        return [("validation output", output)] + [(n, w.numpy()) for n, w in self.stats]
