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
    Switch("init", ("torch", "keras"),
           "Linear and Conv layers: PyTorch's kaiming_uniform(a=√5) kernel and uniform bias, or Keras' "
           "glorot_uniform kernel and zero bias."),
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
    Switch("lr_schedule", ("per_epoch", "per_batch"),
           "Keras' ExponentialDecay, which the optimizer steps every batch, as a PyTorch scheduler "
           "stepped once per epoch, or once per batch."),
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
    name: str
    title: str


FAMILIES = MappingProxyType({f.name: f for f in (
    Family("mlp_regression", "MLP regression"),
    Family("mlp_classifier", "MLP classifier"),
    Family("cnn", "CNN with BatchNorm and Dropout"),
    Family("rnn", "LSTM"),
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
    ``dropout``, ``decay_steps``, ``decay_rate``, ``units``).
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

    @property
    def metric(self) -> str:
        return TASKS[self.task][0]

    def switches(self, pitfalls=()) -> dict:
        """The port's switch values: every pitfall of ``pitfalls`` on, every other switch of the case fixed."""
        chosen = {}
        for name in self.pitfalls:
            p = PITFALLS[name]
            chosen[p.switch] = p.pitfall if name in pitfalls else p.fixed
        return dict(sorted(chosen.items()))


_PITFALLS = (
    Pitfall("target_broadcast", "seed", "target_shape", "broadcast", "matched"),
    Pitfall("dense_init", "seed", "init", "torch", "keras"),
    Pitfall("adam_epsilon", "seed", "adam", "torch", "keras"),
    Pitfall("double_softmax", "digits_mlp", "output", "softmax", "logits"),
    Pitfall("sum_reduction", "digits_mlp", "reduction", "sum", "mean"),
    Pitfall("l2_weight_decay", "digits_mlp", "l2", "weight_decay", "loss"),
    Pitfall("clipnorm_global", "digits_mlp", "clipnorm", "global", "per_variable"),
    Pitfall("unshuffled", "digits_mlp", "shuffle", "none", "every_epoch"),
    Pitfall("sigmoid_bce_logits", "cancer_mlp", "output", "sigmoid", "logits"),
    Pitfall("bn_momentum", "digits_cnn", "bn_momentum", "literal", "converted"),
    Pitfall("bn_epsilon", "digits_cnn", "bn_epsilon", "torch", "keras"),
    Pitfall("forgotten_eval", "digits_cnn", "eval_mode", "forgotten", "eval"),
    Pitfall("lstm_init", "adding_lstm", "lstm_init", "torch", "keras"),
    Pitfall("lstm_two_biases", "adding_lstm", "lstm_bias", "two", "one"),
    Pitfall("lr_schedule_per_epoch", "adding_lstm", "lr_schedule", "per_epoch", "per_batch"),
)
PITFALLS = MappingProxyType({p.name: p for p in _PITFALLS})

CASES = MappingProxyType({c.name: c for c in (
    Case("seed", "The seed question: sum of sines", "mlp_regression", "seed", "regression",
         "The user's Keras model: Dense(100) → Dense(1), no activations, Adam(1e-3, β₂=0.9999, ε=1e-7), "
         "MSE, fit with batch 32.",
         "The user's PyTorch port, as posted.",
         ("target_broadcast", "dense_init", "adam_epsilon"),
         {"epochs": 20, "batch_size": 32, "learning_rate": 1e-3, "beta_2": 0.9999, "epsilon": 1e-7,
          "hidden": 100}),
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
         "A port with a Sigmoid layer before BCEWithLogitsLoss.",
         ("sigmoid_bce_logits",),
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
          "units": 32, "decay_steps": 200, "decay_rate": 0.5}),
)})

# The arms every case trains: the Keras reference, the port, the fixed port, and one per pitfall.
KERAS, PORT, FIXED = "keras", "port", "fixed"


def arms(case: str) -> tuple[str, ...]:
    """Every arm of ``case``: keras, port, fixed, then its pitfalls (each on the fixed port)."""
    return (KERAS, PORT, FIXED) + CASES[case].pitfalls


def traced_arms(case: str) -> tuple[str, ...]:
    """The arms of ``case`` the lock-step traces against Keras: the fixed port (the control), then its pitfalls."""
    return (FIXED,) + CASES[case].pitfalls


def arm_switches(case: str, arm: str) -> dict:
    """The port's switches of a torch arm (sorted); the Keras arm has none."""
    c = CASES[case]
    if arm == KERAS:
        return {}
    if arm == PORT:
        return c.switches(c.pitfalls)
    if arm == FIXED:
        return c.switches()
    if arm not in c.pitfalls:
        raise KeyError(f"case {case!r} has no arm {arm!r}; it has {', '.join(arms(case))}")
    return c.switches((arm,))


def _check() -> None:
    for p in PITFALLS.values():
        s = SWITCHES[p.switch]
        assert p.pitfall in s.values and p.fixed in s.values and p.pitfall != p.fixed, p.name
        assert p.name in CASES[p.case].pitfalls, p.name
    for c in CASES.values():
        assert c.family in FAMILIES and c.task in TASKS, c.name
        assert len({PITFALLS[n].switch for n in c.pitfalls}) == len(c.pitfalls), c.name
        assert not set(c.pitfalls) & {KERAS, PORT, FIXED}, c.name


_check()
