"""Every name of the study, defined once: frameworks, devices, switches, tables, figures, paths.

The Snakemake rules (``workflow/rules/common.smk``), the scripts, the config
checks (``gapstudy.config`` fills the schema's enums from here), the report
and the tests all read these. Adding a switch takes its entry in
``SWITCHES``, its implementation in each trainer that has it, and its test.
Adding a framework takes its entry in ``FRAMEWORKS`` and its trainer module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

# ---------------------------------------------------------------- devices

# What PyTorch can name; Keras on TensorFlow has no MPS device (TensorFlow-on-Metal
# is a separate plug-in we do not test).
DEVICES = ("cpu", "cuda", "mps")


# ---------------------------------------------------------------- frameworks

# The code a framework runs: switch defaults follow it ("posted default per family").
FAMILIES = ("torch", "keras")
# Whose kernels compute it (Keras 3 runs on all three).
BACKENDS = ("torch", "tensorflow", "jax")


@dataclass(frozen=True)
class Framework:
    """One training path of the study.

    ``family`` is whose code it runs (the user's PyTorch loop or the user's
    Keras model), so its switches' posted defaults; ``backend`` is whose
    kernels compute it; ``keras`` is the Keras package it imports (``keras``:
    Keras 3; ``tf_keras``: Keras 2), None for PyTorch. One process holds one
    Keras on one backend (``gapstudy.studies.seed.run``). ``trainer`` is the module with its ``train`` function;
    only it (and what it imports) is the framework's own code, so a change to
    another framework's trainer retrains nothing of this one.
    """

    name: str
    label: str
    family: str
    backend: str
    devices: tuple[str, ...]
    trainer: str
    palette: str  # seaborn palette of its lines and points (the user's: PyTorch blue, Keras brown)
    run_cost: float  # per-run time relative to a PyTorch run, measured on CPU: longest jobs start first
    keras: str | None = None
    lockstep: bool = False  # has a lock-step side (gapstudy.studies.seed.lockstep.side)

    @property
    def torch_backed(self) -> bool:
        """Thread pools and kernels are PyTorch's."""
        return self.backend == "torch"


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("torch", "the user's PyTorch code", "torch", "torch", DEVICES,
                  "gapstudy.frameworks.train_torch", "Blues_r", 1, lockstep=True),
        Framework("keras", "the user's Keras code (Keras 3 on TensorFlow)", "keras", "tensorflow",
                  ("cpu", "cuda"), "gapstudy.frameworks.train_keras", "YlOrBr_r", 6, "keras", lockstep=True),
        Framework("keras_torch", "the user's Keras code on Keras' PyTorch backend", "keras", "torch",
                  ("cpu", "cuda"), "gapstudy.frameworks.train_keras", "Greens_r", 25, "keras"),
        # The Keras the user ran in 2022: Keras 2 (tf.keras, now the tf-keras package), verbatim.
        Framework("keras2", "the user's Keras code verbatim on Keras 2 (tf.keras, the Keras the user ran)",
                  "keras", "tensorflow", ("cpu", "cuda"), "gapstudy.frameworks.train_keras2", "RdPu_r", 30, "tf_keras",
                  lockstep=True),
        Framework("keras_jax", "the user's Keras code on Keras' JAX backend", "keras", "jax",
                  ("cpu",), "gapstudy.frameworks.train_keras", "Purples_r", 20, "keras"),
    )
}
FRAMEWORKS = MappingProxyType(FRAMEWORKS)


# What the user reported (../shared/seed/question-as-received.txt): one run per framework, 2022,
# so the Keras was Keras 2 (tf.keras): "Percent error difference: 479.1312469426776", r 0.912 against 0.217.
# The provenance rule writes it into provenance.json, from which the front page quotes it.
USER_REPORTED = MappingProxyType({"percent_error_difference": 479.1312469426776, "keras": "keras2",
                                  "year": 2022, "r_keras": 0.912, "r_torch": 0.217})


def family(framework: str) -> str:
    return FRAMEWORKS[framework].family


# ---------------------------------------------------------------- switches


# What each kind of numeric switch allows, in words (gapstudy.variants checks them).
NUMBER_KINDS = {"positive": "a positive number", "integer": "a positive integer",
                "fraction": "a number strictly between 0 and 1"}


@dataclass(frozen=True)
class Switch:
    """One candidate cause of the gap, as a setting of the posted code.

    ``values`` maps each value to what it means; ``default`` is the posted
    value, one for every family or a ``{family: value}`` dict; ``code`` maps a
    value to the one-line change of the user's code that sets it (the report
    prints it under "What to do"); ``families`` are the codes it exists in.
    Numeric switches have no ``values``: ``number`` ("positive", "integer"
    or "fraction", in (0, 1)) and ``maximum`` bound them, and their default
    is the config's ``training`` key of the same name.
    """

    name: str
    doc: str
    values: dict = field(default_factory=dict)
    default: object = None
    code: dict = field(default_factory=dict)
    families: tuple[str, ...] = FAMILIES
    number: str | None = None
    maximum: float | None = None
    # For the front page's answer in the user's words: the user's own line that the posted
    # value is (quoted as posted), what goes wrong in it ({batch}: the batch size), and what
    # the forum thread called this candidate cause.
    posted_line: str = ""
    problem: str = ""
    suspect: str = ""

    def default_for(self, framework: str):
        value = self.default
        return value[family(framework)] if isinstance(value, dict) else value

    def applies_to(self, framework: str) -> bool:
        return family(framework) in self.families


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            "target_shape", "the shapes of prediction and target in the loss",
            values={
                "posted": "the (N,) target against the (N, 1) prediction, as posted "
                "(the hand-written PyTorch loss broadcasts it to an N × N matrix; Keras aligns the shapes)",
                "matched": "prediction and target have the same shape in the loss",
            },
            default="posted",
            code={"matched": "``loss = mean_squared_error(y, ypred.squeeze(-1))`` "
                  "(or ``y.view(-1, 1)``): the loss then compares each prediction with its own target"},
            posted_line="loss = mean_squared_error(y, ypred)",
            problem="``y`` has shape ({batch},) and ``ypred`` has shape ({batch}, 1), so ``ytrue - ypred`` "
            "broadcasts to a ({batch}, {batch}) matrix: the loss compares every prediction with every target "
            "in the batch, and the model that minimises it predicts the batch's mean for every input. "
            "Keras' ``mean_squared_error`` aligns the two shapes before it subtracts, so your Keras model "
            "never had this problem",
        ),
        Switch(
            "loss", "the loss function",
            values={
                "handwritten": "the user's mean((y - y_pred) ** 2)",
                "framework": "the framework's own MSE (nn.MSELoss; Keras' 'mean_squared_error')",
            },
            default={"torch": "handwritten", "keras": "framework"},
            code={"framework": "``loss = nn.MSELoss()(ypred, y)`` (it warns when the shapes differ)"},
        ),
        Switch(
            "weight_init", "the weights' initial draw",
            values={
                "xavier_normal": "untruncated normal, std sqrt(2 / (fan_in + fan_out)) (torch's xavier_normal_)",
                "xavier_uniform": "uniform on ±sqrt(6 / (fan_in + fan_out)) (torch's xavier_uniform_, "
                "Keras' default glorot_uniform)",
                "glorot_normal_truncated": "Keras' glorot_normal: normal truncated at two standard "
                "deviations, rescaled to variance 2 / (fan_in + fan_out)",
                "torch_default": "nn.Linear's own init: uniform on ±1 / sqrt(fan_in)",
            },
            default={"torch": "xavier_normal", "keras": "xavier_uniform"},
            code={
                "xavier_uniform": "``torch.nn.init.xavier_uniform_(layer.weight)``, Keras' glorot_uniform",
                "glorot_normal_truncated": "``torch.nn.init.trunc_normal_`` with Keras' glorot_normal scale",
                "torch_default": "keep ``nn.Linear``'s own weight init",
            },
            suspect="the initialisation",
        ),
        Switch(
            "bias_init", "the biases' initial values",
            values={
                "zeros": "biases start at zero (as posted in both)",
                "torch_default": "nn.Linear's own bias init: uniform on ±1 / sqrt(fan_in)",
            },
            default="zeros",
            code={"torch_default": "keep ``nn.Linear``'s own bias init"},
        ),
        Switch(
            "adam_rule", "Adam's update rule",
            values={
                "torch": "PyTorch's update: lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps), "
                "bias corrections in float64",
                "keras": "Keras' update: lr · sqrt(1 - b2^t) / (1 - b1^t) · m / (sqrt(v) + eps) "
                "('epsilon hat'), bias corrections in the variables' float32",
            },
            default={"torch": "torch", "keras": "keras"},
            code={"keras": "Keras' Adam update (epsilon hat) instead of ``torch.optim.Adam``'s"},
            suspect="the Adam optimizer",
        ),
        # Bounds as in the schema's training section: past them a value is a typo, not a study.
        Switch("learning_rate", "Adam's learning rate", number="positive", maximum=1e6,
               suspect="a lower or higher learning rate"),
        Switch("epsilon", "Adam's epsilon", number="positive", maximum=1.0),
        # The user set 0.9999 in both frameworks; both default to 0.999.
        Switch("beta_2", "Adam's beta_2 (decay of the squared-gradient average)", number="fraction"),
        Switch("epochs", "number of epochs", number="integer", maximum=100000, suspect="more epochs"),
        Switch(
            "val_loss", "how the validation loss is computed",
            values={
                "batch_means": "validation loss as posted: the mean of the batch means of a shuffled loader",
                "full_set": "validation loss on the whole validation set at once",
            },
            default="batch_means", families=("torch",),
            code={"full_set": "compute the validation loss on the whole set at once"},
            suspect="the validation loss computed differently",
        ),
        Switch(
            "eval_mode", "the validation pass's mode",
            values={
                "on": "model.eval() and torch.no_grad() in validation, as posted",
                "off": "validation in training mode with gradient tracking",
            },
            default="on", families=("torch",),
            code={"off": "leave out ``model.eval()`` and ``torch.no_grad()``"},
            suspect="``model.eval()`` in validation",
        ),
        Switch(
            "graph", "the backward call",
            values={
                "plain": "loss.backward(), as posted",
                "retain_graph": "loss.backward(retain_graph=True)",
                "create_graph": "loss.backward(create_graph=True)",
            },
            default="plain", families=("torch",),
            code={"retain_graph": "``loss.backward(retain_graph=True)``",
                  "create_graph": "``loss.backward(create_graph=True)``"},
            suspect="``create_graph`` against ``retain_graph``",
        ),
        Switch(
            "dtype", "the floating-point type",
            values={"float32": "float32, as posted", "float64": "float64 data, weights and optimizer"},
            default="float32",
            code={"float64": "``torch_model.double()`` and float64 tensors"},
        ),
        Switch(
            "shuffle", "the training batches' order",
            values={"on": "training batches shuffled every epoch, as posted", "off": "fixed batch order"},
            default="on",
            code={"off": "``DataLoader(..., shuffle=False)``"},
        ),
        Switch(
            "activation", "the activation between the layers",
            values={
                "none": "no activation between the layers, as posted (a linear model)",
                "relu": "ReLU after the hidden layer",
                "tanh": "tanh after the hidden layer",
            },
            default="none",
            code={"relu": "a ``torch.relu`` between the layers", "tanh": "a ``torch.tanh`` between the layers"},
        ),
    )
}
SWITCHES = MappingProxyType(SWITCHES)


# The switches that decide a run's initial draw: both sides of a common-random-numbers
# pair must agree on them (gapstudy.studies.seed.crn, gapstudy.config).
DRAW_SWITCHES = ("weight_init", "bias_init")


# ---------------------------------------------------------------- report categories

# In the order the report lists them (Snakemake sorts categories by name).
RQ1 = "Research question 1: reproduce the gap"
RQ2 = "Research question 2: which causes explain it"
RQ3 = "Research question 3: is the fix equivalent"
RQ4 = "Research question 4: step by step"
RQ5 = "Research question 5: devices and determinism"
PROVENANCE = "Software, devices and run time"


# ---------------------------------------------------------------- paths

RESULTS = "results"
LOGS = "logs"
# One training job: a directory of one record per seed. ``draw`` is the dataset
# draw (config dataset.seed for the study itself; dataset_draws.seeds besides).
RECORDS = RESULTS + "/runs/draw{draw}/{framework}/{variant}/{device}"
RECORD = "seed{seed}.json"
# Finished seeds of a job that was killed, kept for its rerun (gapstudy.studies.seed.run.train_runs).
PARTIAL = RESULTS + "/partial/draw{draw}/{framework}/{variant}/{device}"
DATASET = RESULTS + "/data/draw{draw}/dataset.npz"
MANIFEST = RESULTS + "/data/draw{draw}/manifest.json"
ENVIRONMENT = RESULTS + "/environment.json"
LOCKSTEP = RESULTS + "/lockstep/{pair}/{name}"
# One side of a common-random-numbers pair: every seed's validation MSE.
CRN = RESULTS + "/crn/{pair}/{side}.json"
BENCHMARKS = RESULTS + "/benchmarks"
ANSWER = RESULTS + "/report/answer.rst"
PROVENANCE_JSON = RESULTS + "/report/provenance.json"


def record(framework: str, variant: str, device: str, seed: int, draw: int) -> str:
    """The path of one run's record."""
    return f"{RECORDS}/{RECORD}".format(framework=framework, variant=variant, device=device, seed=seed, draw=draw)


def dataset(draw: int) -> tuple[str, str]:
    """The arrays and the manifest of one dataset draw."""
    return DATASET.format(draw=draw), MANIFEST.format(draw=draw)


def table(name: str) -> str:
    return f"{RESULTS}/tables/{name}.csv"


def figure(name: str) -> str:
    return f"{RESULTS}/figures/{name}.png"


def page(name: str) -> str:
    return f"{RESULTS}/report/{name}.html"


def benchmark(job: str) -> str:
    """Snakemake's benchmark file of a job; ``job`` is the rule, then its wildcards (``train/{framework}/...``)."""
    return f"{BENCHMARKS}/{job}.tsv"


def log(job: str) -> str:
    return f"{LOGS}/{job}.log"


# ---------------------------------------------------------------- tables and figures


@dataclass(frozen=True)
class Page:
    """A table of the report: the CSV it shows, its title and caption, where the report files it.

    A caption may name ``{level}``: the config's confidence level, in per cent.
    """

    name: str
    table: str | None  # None: a page of its own rule (provenance)
    title: str
    caption: str
    category: str
    subcategory: str = ""
    needs_lockstep: bool = False
    needs_crn: bool = False
    needs_draws: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure of the report: the tables it is drawn from, its caption, where the report files it.

    The drawing function is ``gapstudy.studies.seed.figures.<name>(*tables, path, intervals)``.
    A caption may name ``{level}``: the config's confidence level, in per cent.
    """

    name: str
    tables: tuple[str, ...]
    caption: str
    category: str
    subcategory: str | None = "Figures"
    needs_lockstep: bool = False


PAGES: dict[str, Page] = {
    p.name: p
    for p in (
        Page("hypotheses", "hypotheses", "The primary hypotheses: tests, corrected p-values, power",
             "The hypotheses the config declares before the run, one test each: claim worse, the one-sided "
             "Welch t on log validation MSE (higher geometric mean than the reference); claim equivalent, "
             "two one-sided Welch tests (TOST) at the declared margin. p_holm is Holm-corrected over this "
             "family alone, and supported means p_holm < α. mse_ratio is the ratio of geometric-mean MSEs "
             "(on the MinMax-scaled target) with its (1 − 2α) confidence interval. power is at the observed "
             "pooled spread of log MSE (log_mse_sd): for equivalence at a true ratio of 1, for worse at the "
             "observed ratio; seeds_for_90_percent_power is the number of seeds per group that 90 % power "
             "needs at that spread.",
             RQ1, "Tables"),
        Page("summary", "summary", "Summary over seeds",
             "Validation MSE (on the MinMax-scaled target), Pearson r, R² and MAE per framework × variant × "
             "device: mean, median and {level} % confidence interval of the mean over seeds, and the "
             "geometric mean of the MSE with its interval (method in the ci_method column). Diverged runs (loss NaN or infinite at some epoch, or a "
             "non-finite final MSE) are counted in n_diverged and left out of the statistics; "
             "the table of runs that failed or diverged lists them.",
             RQ1, "Tables"),
        Page("comparison", "comparison", "Comparison with the reference",
             "Exploratory: each framework × variant against the reference run of the config on the same "
             "device: ratio of geometric-mean validation MSEs (and the user's \"percent error "
             "difference\") with its {level} % Welch t-interval on log MSE, Welch's t on log MSE and "
             "Mann-Whitney U as a rank check (uncorrected p-values: the verdicts come from the declared "
             "hypotheses), and the probability that a random run has a lower MSE than a random reference "
             "run.",
             RQ1, "Tables"),
        Page("attribution", "attribution", "Share of the gap per switch",
             "One row per variant with a baseline: the switches in which it differs from its baseline, "
             "whether they are applied to the posted PyTorch code or reverted in the aligned one, the "
             "change in mean log validation MSE, and the share of the posted gap (PyTorch as posted "
             "against the reference) that the change closes (applied) or reopens (reverted). A variant and "
             "its baseline at the same seed share their random draws, so the change is paired by seed: the "
             "mean per-seed difference of log MSE with its {level} % paired t-interval, and the share's "
             "{level} % interval is a bootstrap that resamples the framework's seeds jointly (the "
             "reference's apart). A switch that changes nothing has an interval of zero width.",
             RQ2, "Tables"),
        Page("across_frameworks", "across_frameworks", "The same variant in PyTorch and in Keras",
             "Exploratory: every variant that runs in both PyTorch and Keras (the posted code, the "
             "non-linear models), PyTorch against Keras: ratio of geometric-mean validation MSEs with its "
             "{level} % Welch t-interval on log MSE, Welch's t, TOST at the declared margin and its power "
             "(uncorrected).",
             RQ1, "Tables"),
        Page("identical", "identical", "Variants that give numerically the same result",
             "Variants of one framework whose log validation MSE agrees within 1e-4 at every seed (a "
             "switch that changes the arithmetic only in the last digits): each is listed with the variant "
             "it matches and the largest per-seed difference. The front page shows each such result once.",
             RQ2, "Tables"),
        Page("paired_differences", "paired_differences", "Per-seed differences of each switch",
             "For each variant with a baseline, at every seed both ran: the log validation MSE of the "
             "variant, of its baseline, and their difference, the numbers behind the paired intervals of "
             "the attribution table.",
             RQ2, "Tables"),
        Page("equivalence", "equivalence", "Equivalence with the reference (TOST)",
             "Exploratory, every variant: two one-sided Welch tests (TOST, statsmodels' ttost_ind) of each "
             "variant's log validation MSE against the reference's, with the margin (a factor on the "
             "geometric-mean MSE) and α declared in the config before the run; log_ratio_ci_* is the "
             "(1 − 2α) confidence interval of the difference of mean log MSE; power at the rows' pooled "
             "spread and a true ratio of 1, and the seeds per group that 90 % power needs. The verdicts "
             "of the declared hypotheses are in their own table.",
             RQ3, "Tables"),
        Page("lockstep", "lockstep", "Lock-step: first step apart, largest difference",
             "For each pair, the two sides (a and b, each a framework and variant: PyTorch against Keras 3, "
             "Keras 2 against Keras 3) start from the same initial weights (drawn once by the PyTorch "
             "model's initialiser with side a's init switches, saved as initial_weights.npz), each side in "
             "its own process, and see the same batches (one "
             "saved permutation per epoch, batch_orders.npy); each takes one optimizer step per batch. "
             "first_step_apart is the first step at which the batch losses or any parameter differ by "
             "more than the tolerance; loss_differs_at_step_1 says whether the two frameworks already "
             "disagree on the loss of the very first batch, before any update; max_abs_diff is the "
             "largest difference of any parameter over all steps.",
             RQ4, needs_lockstep=True),
        Page("crn", "crn", "Common random numbers: the same draws on both sides, paired by seed",
             "For each pair, per seed, both sides start from the same initial weights (drawn once by the "
             "PyTorch model's initialiser with the pair's init switches) and see the same batch order "
             "each epoch (NumPy's PCG64), each side in its own job. mse_ratio is the ratio of "
             "geometric-mean validation MSEs (on the MinMax-scaled target) with the {level} % paired "
             "t-interval of the per-seed log differences; tost_p is the paired TOST at the declared "
             "margin (statsmodels' ttost_paired), with its (1 − 2α) interval, its power at the observed "
             "spread of the differences and a true ratio of 1, and the seeds 90 % power needs. This "
             "answers whether the two compute the same thing; the independent design (each framework its "
             "own random numbers) answers whether a user sees the same results.",
             RQ3, "Tables", needs_crn=True),
        Page("draws", "draws", "The primary hypotheses on other draws of the data",
             "Exploratory robustness check: the hypotheses named in dataset_draws, tested again on each "
             "other draw of the dataset (dataset.seed), with the runs of that draw alone "
             "(dataset_draws.training_seeds), Holm-corrected within each draw; the study's own draw is the "
             "first row of each hypothesis. holds_on_every_draw says whether the verdict is the same on all.",
             RQ1, "Tables", needs_draws=True),
        Page("determinism", "determinism", "Do runs repeat bit for bit?",
             "In every training job the first repeat_runs seeds are trained a second time in the same "
             "process, alone (the first time, the job trained them stacked with its other seeds), "
             "and the two runs' final weights (sha256 of the float32 parameters) and validation "
             "predictions are compared. On CPU a difference stops the job (it would be a bug: every "
             "generator is seeded per run and the deterministic settings listed are on); on a GPU the "
             "difference is recorded as the spread instead.",
             RQ5),
        Page("devices", "devices", "The same run on CPU and on another device",
             "The same framework, variant and seed trained on CPU and on another device: the largest "
             "difference between the two runs' validation predictions and the ratio of their validation "
             "MSEs. Empty where only the CPU ran.",
             RQ5),
        Page("runs", "runs", "All runs",
             "One row per training run: its identity, scores, final-weights hash, device, threads, "
             "whether and when it diverged, library versions and code identity (times are in "
             "results/tables/timings.csv, so that this table is the same, byte for byte, whenever the "
             "same config runs on the same machine). The full per-run records (per-epoch losses and "
             "every prediction) are the JSON files under results/runs/.",
             RQ1, "Tables"),
        Page("incomplete", "incomplete", "Runs that failed or diverged",
             "Every run that did not give a finite result. Diverged: its loss became NaN or infinite; "
             "training stopped at that epoch, and the run is counted as n_diverged in the summary and "
             "left out of every statistic. Failed: the run raised an error (the reason column gives it) "
             "and has no result; this happens only with partial_results: true in the config, which "
             "builds the tables and report from the runs that finished. Empty when every run finished.",
             RQ1, "Tables"),
        Page("runtime", "runtime", "Run time per rule and framework",
             "Where the time went, from Snakemake's benchmark file of every job before this table: per "
             "rule and (for training) framework, the number of jobs, their summed and median wall time, "
             "summed CPU time, largest peak memory (MB), and each row's share of the summed wall time. "
             "Times are of a shared machine: compare rows, not runs on different days.",
             PROVENANCE),
        Page("provenance", None, "Config, versions, devices, code, run time",
             "What this report was computed with: the config as the workflow read it, the code (git "
             "commit and whether the work tree had uncommitted changes, and the hash of the package "
             "source), the devices that ran (under devices: auto, those found on the machine), every "
             "installed Python package and its version, and the time the training took.",
             PROVENANCE),
    )
}
PAGES = MappingProxyType(PAGES)

FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure("loss_curves", ("epochs",),
               "The user's first figure, over all seeds: loss per epoch as each framework reports it "
               "(PyTorch: mean of the batch losses of the user's hand-written MSE; Keras: "
               "``history.history``), training solid and validation dashed, the line the mean over seeds "
               "and the band its {level} % confidence interval. PyTorch is blue, Keras brown, as in the "
               "question. Note that the posted PyTorch loss is the *broadcast* (N × N) loss, so its curve "
               "is not a per-sample MSE.",
               RQ1),
        Figure("predicted_vs_true", ("predictions",),
               "The user's second figure, over all seeds: each point is one validation row of one seed's "
               "run, predicted against true value; the dashed line is a perfect prediction.",
               RQ1),
        # Shown on the front page, beside the answer in the user's words.
        Figure("users_figures", ("epochs", "predictions", "hypotheses"),
               "The user's two figures for one seed: validation predictions against the truth for the "
               "user's Keras code, the user's PyTorch code and the fixed PyTorch code, each with its "
               "Pearson r (the dashed line is a perfect prediction; the posted PyTorch code collapses "
               "towards the mean), then the loss per epoch as each framework reports it (training solid, "
               "validation dashed; the posted PyTorch loss is the broadcast one, not a per-sample MSE). "
               "Every seed: the figures loss curves and predicted vs true.",
               RQ1),
        Figure("users_figures_phone", ("epochs", "predictions", "hypotheses"),
               "The same figures as users figures, in two columns: the front page shows these on a phone.",
               RQ1),
        Figure("mse_per_variant", ("runs", "summary"),
               "Validation MSE (full set, on the MinMax-scaled target, computed the same way for every "
               "framework) of every run, a point per seed; the black mark is the mean with its {level} % "
               "confidence interval, by the same method as the summary table. Log scale.",
               RQ1),
        Figure("attribution_forest", ("attribution",),
               "Each variant that differs from its baseline in a few switches, and the share of the posted "
               "gap (difference of mean log validation MSE between PyTorch as posted and the reference) "
               "that the change explains, with its {level} % confidence interval from the attribution "
               "table. Blue: switches applied to the posted PyTorch code (share of the gap closed); "
               "orange: switches reverted in the PyTorch code aligned with Keras (share of the gap "
               "reopened). 1 is the whole gap, 0 nothing.",
               RQ2),
        Figure("learning_curves_by_variant", ("epochs",),
               "Full-set validation MSE per epoch of every variant (mean over seeds with its {level} % "
               "confidence interval), one panel per variant, over every framework's posted run (dotted, in its colour).",
               RQ2),
        Figure("equivalence", ("equivalence",),
               "Equivalence with the reference: for every framework and variant, the ratio of "
               "geometric-mean validation MSEs to the reference with its (1 − 2α) confidence interval "
               "(Welch), against the margin declared in the config (shaded). Green: equivalent by two "
               "one-sided tests (TOST) at level α.",
               RQ3),
        Figure("run_time", ("timings",),
               "Wall time of each training run (framework import, data loading, training and scoring), a "
               "point per run. The machine is shared and noisy: compare ratios, not absolute times.",
               PROVENANCE),
        Figure("lockstep_drift", ("lockstep_steps", "lockstep"),
               "After every optimizer step of the lock-step runs, the largest absolute difference between "
               "the two sides' values of any parameter (log scale), with the tolerance dashed. A "
               "pair that computes the same update in both frameworks stays near float32 round-off and "
               "grows slowly with the number of steps; a pair whose losses differ parts ways at once.",
               RQ4, None, needs_lockstep=True),
        Figure("determinism", ("determinism", "devices"),
               "Left: for every framework, variant and device, how many runs were trained twice (grey) and "
               "how many of them gave the same bits both times (green). Right: the same framework, variant "
               "and seed on CPU and on another device, validation MSE against validation MSE (the dashed "
               "line is equality), or a note that no other device ran.",
               RQ5, None),
    )
}
FIGURES = MappingProxyType(FIGURES)


def switch_table() -> str:
    """Every switch as a Markdown table: values, posted default per family, where it exists."""
    lines = ["| switch | values | " + " | ".join(f"posted {f}" for f in FAMILIES) + " |",
             "| --- | --- | " + " | ".join("---" for _ in FAMILIES) + " |"]
    for s in SWITCHES.values():
        if s.number:
            bound = f" up to {s.maximum:g}" if s.maximum else ""
            values = f"{s.doc}: {NUMBER_KINDS[s.number]}{bound}"
            defaults = [f"`training.{s.name}`"] * len(FAMILIES)
        else:
            values = "; ".join(f"`{v}`: {d}" for v, d in s.values.items())
            defaults = [f"`{s.default[f] if isinstance(s.default, dict) else s.default}`" if f in s.families else ""
                        for f in FAMILIES]
        lines.append(f"| `{s.name}` | {values} | " + " | ".join(defaults) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(switch_table())
