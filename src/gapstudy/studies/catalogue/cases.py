"""The catalogue's cases and pitfalls, as data: every name is defined here once.

A ``Switch`` is one way a port can differ from its Keras reference; its
values are implemented by the PyTorch port (``torch_port``). A ``Pitfall``
is a switch with the value a port carries ("pitfall") and the value that
matches Keras ("fixed"); what a user reads about it (a description, the
one-line fix, the symptom and the public source where users reported it)
is its ``stories.STORIES`` entry, apart so that editing prose retrains
nothing. A ``Case`` is a dataset generator (``data.DATASETS``), a model family
(``FAMILIES``), a Keras reference with its settings, the PyTorch port and
its pitfalls. The port of a case carries all of its pitfalls at once; the
fixed port none.

Adding a pitfall takes its switch here (or an existing one), the switch's
implementation in ``torch_port``, its entry in ``PITFALLS``, in its case's
``pitfalls`` and in ``stories.STORIES``, and its test (``tests/test_catalogue.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Switch:
    """A difference a PyTorch port can have; ``values`` are every value ``torch_port`` implements."""

    name: str
    values: tuple[str, ...]
    doc: str


SWITCHES = {s.name: s for s in (
    Switch("target_shape", ("broadcast", "matched"),
           "A hand-written loss of an (N,) target against an (N, 1) prediction (broadcast to (N, N)), or of "
           "matched shapes."),
    Switch("init", ("torch", "keras", "xavier_normal"),
           "Linear and Conv layers: PyTorch's kaiming_uniform(a=√5) kernel and uniform bias, Keras' "
           "glorot_uniform kernel and zero bias, or the seed question's xavier_normal_ kernel and zero bias "
           "(drawn as the posted code draws it: each layer right after it is made)."),
    Switch("adam", ("torch", "keras"),
           "torch.optim.Adam (epsilon added to the bias-corrected sqrt(v)), or Keras' Adam rule "
           "(the bias corrections folded into the learning rate, epsilon added to sqrt(v): 'epsilon hat')."),
    Switch("output", ("softmax", "sigmoid", "logits"),
           "What the model's last layer returns to a loss that applies its own softmax or sigmoid "
           "(CrossEntropyLoss, BCEWithLogitsLoss): probabilities (applied twice) or logits."),
    Switch("reduction", ("sum", "mean"), "The loss over a batch: summed, or averaged as Keras does."),
    Switch("l2", ("weight_decay", "loss"),
           "Keras' kernel_regularizer=L2(λ) as Adam(weight_decay=λ) (λ·w added to every gradient, biases "
           "too), or as λ·Σw² of the kernels added to the loss, as Keras does."),
    Switch("clipnorm", ("global", "per_variable"),
           "Keras' clipnorm as clip_grad_norm_ over all parameters (one global norm), or over each "
           "parameter on its own, as Keras does."),
    Switch("shuffle", ("none", "every_epoch"),
           "The batch order: DataLoader's default (no shuffle), or a new order every epoch, as fit's "
           "default shuffle=True."),
    Switch("bn_momentum", ("literal", "converted"),
           "Keras' BatchNormalization(momentum=0.99) copied as BatchNorm(momentum=0.99), or converted "
           "to PyTorch's meaning: momentum=0.01 (the weight of the new batch)."),
    Switch("bn_epsilon", ("torch", "keras"), "BatchNorm's epsilon: PyTorch's 1e-5, or Keras' 1e-3."),
    Switch("eval_mode", ("forgotten", "eval"),
           "Validation and prediction with the model left in training mode (dropout on, BatchNorm on "
           "batch statistics and updating its running ones), or after model.eval()."),
    Switch("lstm_init", ("torch", "keras"),
           "LSTM weights: PyTorch's uniform(±1/√h) for every weight and bias, or Keras' glorot_uniform "
           "kernel, orthogonal recurrent kernel and zero bias with the forget gate's at 1 "
           "(unit_forget_bias)."),
    Switch("lstm_bias", ("two", "one"),
           "nn.LSTM's two bias vectors (bias_ih and bias_hh) both trained, or bias_hh held at zero, "
           "so that one bias is trained, as Keras' LSTM has."),
    Switch("lr_schedule", ("per_epoch", "rate_per_epoch", "per_batch"),
           "Keras' ExponentialDecay(lr, decay_steps, decay_rate), which the optimizer steps every batch, as "
           "ExponentialLR(γ = decay_rate^(1/decay_steps)) stepped once per epoch, as ExponentialLR(γ = "
           "decay_rate) stepped once per epoch, or as ExponentialLR(γ = decay_rate^(1/decay_steps)) stepped "
           "once per batch."),
)}
SWITCHES = MappingProxyType(SWITCHES)


@dataclass(frozen=True)
class Pitfall:
    """One porting pitfall: a switch's "pitfall" value against its "fixed" value, in one case."""

    name: str
    case: str
    switch: str
    pitfall: str
    fixed: str


@dataclass(frozen=True)
class Family:
    """A model family; ``reads``: the switches its port implements (``torch_port``), the others being moot."""

    name: str
    title: str
    reads: tuple[str, ...]


_EVERY_PORT = ("init", "adam", "reduction", "shuffle")
# Switches that only a case with this setting reads (a port without L2 has no place to put it).
SETTING_OF = {"l2": "l2", "clipnorm": "clipnorm", "lr_schedule": "decay_steps"}
FAMILIES = MappingProxyType({f.name: f for f in (
    Family("mlp_regression", "MLP regression", _EVERY_PORT + ("target_shape",)),
    Family("mlp_classifier", "MLP classifier", _EVERY_PORT + ("output", "l2", "clipnorm")),
    Family("cnn", "CNN with BatchNorm and Dropout", _EVERY_PORT + ("output", "bn_momentum", "bn_epsilon",
                                                                   "eval_mode")),
    Family("rnn", "LSTM", _EVERY_PORT + ("lstm_init", "lstm_bias", "lr_schedule")),
)})

TASKS = MappingProxyType({
    # task: (the metric every effect is a ratio of, the others recorded beside it)
    "regression": ("val_mse", ()),
    "multiclass": ("val_log_loss", ("val_accuracy",)),
    "binary": ("val_log_loss", ("val_accuracy",)),
})


@dataclass(frozen=True)
class Case:
    """A Keras reference and its PyTorch port on one dataset.

    ``settings`` are the Keras reference's (and the port's) hyperparameters:
    ``epochs``, ``batch_size``, ``learning_rate``, ``beta_2``, ``epsilon``,
    plus what the family reads (``hidden``, ``l2``, ``clipnorm``,
    ``dropout``, ``decay_steps``, ``decay_rate``, ``units``) and how the
    port's loop runs where it is a user's own (``loop: posted``: the seed
    question's DataLoaders, a shuffled one for training and one for
    validation, drawing from PyTorch's global generator; its predictions in
    one call on every validation row).

    ``pitfalls`` are what the port carries, each on a switch of its own.
    ``alternatives`` are other common ways to get one of those switches
    wrong: each has its own arm (the fixed port with it) and row, but the
    port carries the pitfall it replaces.
    """

    name: str
    title: str
    family: str
    dataset: str
    task: str
    keras_reference: str
    port: str
    pitfalls: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    alternatives: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return TASKS[self.task][0]

    @property
    def reads(self) -> tuple[str, ...]:
        """The switches this case's port reads: its family's, less those whose setting the case lacks."""
        return tuple(name for name in FAMILIES[self.family].reads
                     if name not in SETTING_OF or self.settings.get(SETTING_OF[name]))

    def switches(self, pitfalls=()) -> dict:
        """The port's switch values: every pitfall of ``pitfalls`` on (the case's pitfalls or alternatives,
        at most one per switch), every other switch of the case fixed."""
        chosen = {PITFALLS[name].switch: PITFALLS[name].fixed for name in self.pitfalls}
        on = [PITFALLS[name] for name in pitfalls]
        if len({p.switch for p in on}) != len(on):
            raise ValueError(f"case {self.name!r}: two of {', '.join(pitfalls)} set the same switch")
        for p in on:
            if p.name not in self.pitfalls + self.alternatives:
                raise KeyError(f"case {self.name!r} has no pitfall {p.name!r}")
            chosen[p.switch] = p.pitfall
        return dict(sorted(chosen.items()))


_PITFALLS = (
    Pitfall("target_broadcast", "seed", "target_shape", "broadcast", "matched"),
    Pitfall("xavier_normal_init", "seed", "init", "xavier_normal", "keras"),
    Pitfall("adam_epsilon", "seed", "adam", "torch", "keras"),
    Pitfall("double_softmax", "digits_mlp", "output", "softmax", "logits"),
    Pitfall("sum_reduction", "digits_mlp", "reduction", "sum", "mean"),
    Pitfall("l2_weight_decay", "digits_mlp", "l2", "weight_decay", "loss"),
    Pitfall("clipnorm_global", "digits_mlp", "clipnorm", "global", "per_variable"),
    Pitfall("unshuffled", "digits_mlp", "shuffle", "none", "every_epoch"),
    Pitfall("sigmoid_bce_logits", "cancer_mlp", "output", "sigmoid", "logits"),
    Pitfall("dense_init", "cancer_mlp", "init", "torch", "keras"),
    Pitfall("bn_momentum", "digits_cnn", "bn_momentum", "literal", "converted"),
    Pitfall("bn_epsilon", "digits_cnn", "bn_epsilon", "torch", "keras"),
    Pitfall("forgotten_eval", "digits_cnn", "eval_mode", "forgotten", "eval"),
    Pitfall("lstm_init", "adding_lstm", "lstm_init", "torch", "keras"),
    Pitfall("lstm_two_biases", "adding_lstm", "lstm_bias", "two", "one"),
    Pitfall("lr_schedule_per_epoch", "adding_lstm", "lr_schedule", "per_epoch", "per_batch"),
    Pitfall("lr_decay_rate_per_epoch", "adding_lstm", "lr_schedule", "rate_per_epoch", "per_batch"),
)
PITFALLS = MappingProxyType({p.name: p for p in _PITFALLS})

CASES = MappingProxyType({c.name: c for c in (
    Case("seed", "The seed question: sum of sines", "mlp_regression", "seed", "regression",
         "The user's Keras model: Dense(100) → Dense(1), no activations, Adam(1e-3, β₂=0.9999, ε=1e-7), "
         "MSE, fit with batch 32.",
         "The user's PyTorch port as posted (its xavier_normal_ init with zero biases, its loss, "
         "torch.optim.Adam, its DataLoaders and loop), trained for 20 of the user's 100 epochs.",
         ("target_broadcast", "xavier_normal_init", "adam_epsilon"),
         {"epochs": 20, "batch_size": 32, "learning_rate": 1e-3, "beta_2": 0.9999, "epsilon": 1e-7,
          "hidden": 100, "loop": "posted"}),
    Case("digits_mlp", "Digits, rows sorted by class, MLP", "mlp_classifier", "digits_sorted", "multiclass",
         "Dense(64, relu) → Dense(10, softmax), both kernels with L2(1e-3), "
         "sparse_categorical_crossentropy, Adam(1e-3, clipnorm=1), fit with batch 32.",
         "A port with a Softmax layer before CrossEntropyLoss(reduction='sum'), Adam(weight_decay=1e-3), "
         "clip_grad_norm_(1) over all parameters and a DataLoader without shuffle.",
         ("double_softmax", "sum_reduction", "l2_weight_decay", "clipnorm_global", "unshuffled"),
         {"epochs": 20, "batch_size": 32, "learning_rate": 1e-3, "beta_2": 0.999, "epsilon": 1e-7,
          "hidden": 64, "l2": 1e-3, "clipnorm": 1.0}),
    Case("cancer_mlp", "Breast cancer, MLP", "mlp_classifier", "breast_cancer", "binary",
         "Dense(16, relu) → Dense(1, sigmoid), binary_crossentropy, Adam(1e-3), fit with batch 32.",
         "A port with a Sigmoid layer before BCEWithLogitsLoss, its Linear layers as nn.Linear makes them.",
         ("sigmoid_bce_logits", "dense_init"),
         {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "beta_2": 0.999, "epsilon": 1e-7,
          "hidden": 16}),
    Case("digits_cnn", "Digits as 8×8 images, CNN", "cnn", "digits_images", "multiclass",
         "Conv2D(16, 3, use_bias=False) → BatchNormalization → ReLU → Conv2D(32, 3, use_bias=False) → BatchNormalization → ReLU → "
         "GlobalAveragePooling2D → Dropout(0.3) → Dense(10, softmax); Adam(1e-3); fit with batch 32.",
         "A port with BatchNorm2d(momentum=0.99) at PyTorch's epsilon, validated without model.eval().",
         ("bn_momentum", "bn_epsilon", "forgotten_eval"),
         {"epochs": 15, "batch_size": 32, "learning_rate": 1e-3, "beta_2": 0.999, "epsilon": 1e-7,
          "dropout": 0.3, "filters": (16, 32)}),
    Case("adding_lstm", "The adding problem, LSTM", "rnn", "adding", "regression",
         "LSTM(32) → Dense(1), MSE, Adam with ExponentialDecay(1e-2, decay_steps=200, decay_rate=0.5), "
         "fit with batch 32.",
         "A port with nn.LSTM as it comes (its init, two trained biases) and ExponentialLR stepped "
         "once per epoch.",
         ("lstm_init", "lstm_two_biases", "lr_schedule_per_epoch"),
         {"epochs": 20, "batch_size": 32, "learning_rate": 1e-2, "beta_2": 0.999, "epsilon": 1e-7,
          "units": 32, "decay_steps": 200, "decay_rate": 0.5},
         alternatives=("lr_decay_rate_per_epoch",)),
)})

# The arms every case trains: the Keras reference, the port, the fixed port, one per pitfall (and per
# alternative), and one per pitfall removed from the port where that is not one of those already.
KERAS, PORT, FIXED = "keras", "port", "fixed"
WITHOUT = "without_"


def removal_arm(case, pitfall: str) -> str:
    """The arm that is the port with ``pitfall`` fixed and every other pitfall of the case kept: ``fixed``
    where it was the case's only pitfall, that other pitfall's own arm where one is left, else
    ``without_<pitfall>``. ``case``: a name, or a ``Case`` (a test's own)."""
    c = CASES[case] if isinstance(case, str) else case
    if pitfall not in c.pitfalls:
        raise KeyError(f"case {c.name!r}: {pitfall!r} is not one of its port's pitfalls ({', '.join(c.pitfalls)})")
    left = [name for name in c.pitfalls if name != pitfall]
    if not left:
        return FIXED
    return left[0] if len(left) == 1 else WITHOUT + pitfall


def arms_by_pitfalls(case) -> dict[frozenset, str]:
    """{the set of the port's pitfalls an arm carries: the arm}, for every torch arm of ``case`` (a name or a
    ``Case``) that carries only port pitfalls: the fixed port, each pitfall alone, the port without each,
    the port."""
    c = CASES[case] if isinstance(case, str) else case
    out = {frozenset(): FIXED, frozenset(c.pitfalls): PORT}
    out |= {frozenset([p]): p for p in c.pitfalls}
    out |= {frozenset(set(c.pitfalls) - {p}): removal_arm(c, p) for p in c.pitfalls}
    return out


def arms(case: str) -> tuple[str, ...]:
    """Every arm of ``case``: keras, port, fixed, its pitfalls and alternatives (each on the fixed port),
    then the port without each pitfall where that is an arm of its own (``removal_arm``)."""
    c = CASES[case]
    removals = tuple(dict.fromkeys(removal_arm(case, p) for p in c.pitfalls))
    own = (KERAS, PORT, FIXED) + c.pitfalls + c.alternatives
    return own + tuple(arm for arm in removals if arm not in own)


def traced_arms(case: str) -> tuple[str, ...]:
    """The arms of ``case`` the lock-step traces against Keras: the fixed port (the control), then its
    pitfalls and alternatives."""
    return (FIXED,) + CASES[case].pitfalls + CASES[case].alternatives


def arm_switches(case: str, arm: str) -> dict:
    """The port's switches of a torch arm (sorted); the Keras arm has none."""
    c = CASES[case]
    if arm == KERAS:
        return {}
    if arm == PORT:
        return c.switches(c.pitfalls)
    if arm == FIXED:
        return c.switches()
    if arm.startswith(WITHOUT) and arm[len(WITHOUT):] in c.pitfalls:
        return c.switches(tuple(p for p in c.pitfalls if p != arm[len(WITHOUT):]))
    if arm not in c.pitfalls + c.alternatives:
        raise KeyError(f"case {case!r} has no arm {arm!r}; it has {', '.join(arms(case))}")
    return c.switches((arm,))


def _check() -> None:
    for p in PITFALLS.values():
        s = SWITCHES[p.switch]
        assert p.pitfall in s.values and p.fixed in s.values and p.pitfall != p.fixed, p.name
        assert p.name in CASES[p.case].pitfalls + CASES[p.case].alternatives, p.name
    for f in FAMILIES.values():
        assert set(f.reads) <= set(SWITCHES), f.name
    for c in CASES.values():
        assert c.family in FAMILIES and c.task in TASKS, c.name
        assert {PITFALLS[n].switch for n in c.pitfalls} <= set(c.reads), c.name
        assert len({PITFALLS[n].switch for n in c.pitfalls}) == len(c.pitfalls), c.name
        # An alternative replaces one of the port's pitfalls: the same switch, another value.
        assert {PITFALLS[n].switch for n in c.alternatives} <= {PITFALLS[n].switch for n in c.pitfalls}, c.name
        assert not set(c.pitfalls + c.alternatives) & {KERAS, PORT, FIXED}, c.name
        assert not any(n.startswith(WITHOUT) for n in c.pitfalls + c.alternatives), c.name


_check()
