"""The ``port:`` config: checked, and its entry points loaded, before anything trains.

Keys (documented in ``config/README.md``, section "A port"):

- ``port.name``: a short name (letters, digits, ``_``, ``-``): results go under ``results/port/<name>/``;
- ``port.title``: what the report calls the port;
- ``port.path``: the folder the entry points are imported from (relative to the working directory);
- ``port.task``: ``regression``, ``multiclass`` or ``binary``;
- ``port.metric``: ``mse``, ``log_loss``, ``accuracy`` or an entry point ``f(y_true, output) -> float``
  (lower is better);
- ``port.data``: ``file`` (an ``.npz`` with ``X_train``, ``y_train``, ``X_val``, ``y_val``, or ``X``, ``y``;
  or a CSV whose ``target`` column is y) or ``generator`` (an entry point returning those arrays, as a dict
  or as ``(X_train, X_val, y_train, y_val)``); ``validation_fraction`` and ``split_seed`` where the data
  has no split; ``torch_layout``: ``same`` or ``channels_first`` (PyTorch sees images (N, C, H, W) and
  sequences of a Conv1d (N, C, L) where Keras sees channels last);
- ``port.keras.model``: an entry point returning the compiled Keras model (it may take ``seed``);
  ``port.keras.fit``: ``batch_size``, ``epochs``, ``shuffle`` (fit's default true), ``callbacks``
  (an entry point returning the list) and ``validation`` (true: ``validation_data`` is the validation
  split, for callbacks that watch it; default false);
- ``port.torch.build``: an entry point returning the module and optimizer, and the loss and scheduler if
  any (a tuple in any order, or a dict; it may take ``seed``);
  ``port.torch.loader``: an entry point ``(X, y, batch_size)`` returning the user's training loader, or
  absent for ``DataLoader(TensorDataset(X, y), batch_size, shuffle=port.torch.shuffle)``;
  ``port.torch.train_epoch`` (called once per epoch) or ``port.torch.train`` (called once): the user's
  loop, called unchanged with the arguments its signature names (``ARGUMENTS``; ``port.torch.arguments``
  renames); ``port.torch.predict``: the user's prediction ``(model, X) -> output``, or absent for
  ``model.eval()`` and a forward pass without gradients;
- ``port.mapping``: ``{keras layer: torch module}`` pairs pinned before the automatic mapping;
- ``port.seeds``, ``port.epochs`` (null: the port's own ``fit`` epochs for both sides);
  ``port.seeds_per_job`` (null, the default: all of an arm's seeds in one job): each arm's seeds run in
  jobs of at most this many, which Snakemake runs in parallel where cores or a cluster allow (the user's
  loop is called unchanged, one seed after another, so that a job cannot stack its seeds);
- ``lockstep``: ``epochs``, ``atol``, ``rtol``, ``seed``, and ``max_steps`` (null: every step of the traced
  epochs; an integer: the trace, and the user's loop with it, ends after that many optimizer steps, for a
  large dataset); ``statistics``: as the catalogue's;
  ``threads_per_job``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from gapstudy.config import ConfigError

KEYS = {
    "port": {"name", "title", "path", "task", "metric", "data", "keras", "torch", "mapping", "seeds",
             "seeds_per_job", "epochs"},
    "lockstep": {"seed", "epochs", "atol", "rtol", "max_steps"},
    "statistics": {"confidence_level", "alpha", "equivalence_margin", "bootstrap_resamples", "bootstrap_seed"},
    "threads_per_job": None,
}
DATA_KEYS = {"file", "generator", "validation_fraction", "split_seed", "torch_layout"}
KERAS_KEYS = {"model", "fit"}
FIT_KEYS = {"batch_size", "epochs", "shuffle", "callbacks", "validation"}
TORCH_KEYS = {"build", "loader", "shuffle", "train_epoch", "train", "predict", "arguments"}
TASKS = ("regression", "multiclass", "binary")
METRICS = ("mse", "log_loss", "accuracy")
LAYOUTS = ("same", "channels_first")
# What the user's loop may ask for, by the name in its signature: the names each value answers to.
ARGUMENTS = {
    "model": ("model", "net", "network", "torch_model", "module"),
    "optimizer": ("optimizer", "opt", "optim"),
    "loss_fn": ("loss_fn", "criterion", "loss", "loss_function", "lossfn", "loss_func"),
    "scheduler": ("scheduler", "lr_scheduler", "sched"),
    "loader": ("loader", "train_loader", "trainloader", "dataloader", "data_loader", "train_dl", "dl",
               "train_dataloader", "iterator", "train_iterator"),
    "val_loader": ("val_loader", "valloader", "validation_loader", "val_dl", "valid_loader", "val_dataloader",
                   "valid_dl", "validation_dataloader"),
    "epoch": ("epoch",),
    "epochs": ("epochs", "n_epochs", "num_epochs"),
    "device": ("device",),
}
ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _need(section: dict, key: str, where: str):
    if key not in section or section[key] is None:
        raise ConfigError(f"{where}.{key}: missing")
    return section[key]


def _mapping(value, where: str, keys: set) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {value!r} is not allowed; allowed: a mapping of {', '.join(sorted(keys))}")
    for key in value:
        if key not in keys:
            raise ConfigError(f"{where}.{key}: unknown key; allowed: {', '.join(sorted(keys))}")
    return value


def _entry(value, key: str) -> str:
    if not isinstance(value, str) or not ENTRY.match(value):
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: an entry point 'module:attribute'")
    return value


def _int(value, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: an integer ≥ {least}")
    return value


def validate(config: dict) -> dict:
    """The port config checked and completed (no import yet); ``ConfigError`` names key, value, what is allowed."""
    from gapstudy.studies.catalogue.config import _number, check_trace_and_statistics

    config = dict(config)
    for key in config:
        if key not in KEYS:
            raise ConfigError(f"{key}: unknown key of a port config; allowed: {', '.join(KEYS)}")
    for section, keys in KEYS.items():
        if keys is not None:
            _mapping(config.get(section), section, keys)
    port = dict(config["port"])
    name = _need(port, "name", "port")
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_-]+$", name):
        raise ConfigError(f"port.name: {name!r} is not allowed; allowed: letters, digits, _ and -")
    port.setdefault("title", name)
    path = _need(port, "path", "port")
    if not isinstance(path, str) or not Path(path).is_dir():
        raise ConfigError(f"port.path: {path!r} is not a folder here (relative to {Path.cwd()})")
    task = _need(port, "task", "port")
    if task not in TASKS:
        raise ConfigError(f"port.task: {task!r} is not allowed; allowed: {', '.join(TASKS)}")
    metric = port.setdefault("metric", {"regression": "mse"}.get(task, "log_loss"))
    if metric not in METRICS:
        _entry(metric, "port.metric")
    data = _mapping(_need(port, "data", "port"), "port.data", DATA_KEYS)
    if ("file" in data) == ("generator" in data):
        raise ConfigError(f"port.data: {data!r} is not allowed; allowed: exactly one of file, generator")
    if "file" in data:
        file = Path(path) / data["file"]
        if not file.is_file() or file.suffix not in (".npz", ".csv"):
            raise ConfigError(f"port.data.file: {data['file']!r} is not an .npz or .csv file in {path}")
    else:
        _entry(data["generator"], "port.data.generator")
    data = {"validation_fraction": 0.2, "split_seed": 0, "torch_layout": "same"} | data
    _number(data["validation_fraction"], "port.data.validation_fraction", 0, 1)
    _int(data["split_seed"], "port.data.split_seed", 0)
    if data["torch_layout"] not in LAYOUTS:
        raise ConfigError(f"port.data.torch_layout: {data['torch_layout']!r} is not allowed; allowed: "
                          f"{', '.join(LAYOUTS)}")
    port["data"] = data
    keras = _mapping(_need(port, "keras", "port"), "port.keras", KERAS_KEYS)
    _entry(_need(keras, "model", "port.keras"), "port.keras.model")
    fit = _mapping(_need(keras, "fit", "port.keras"), "port.keras.fit", FIT_KEYS)
    fit = {"shuffle": True, "validation": False} | fit
    _int(_need(fit, "batch_size", "port.keras.fit"), "port.keras.fit.batch_size", 1)
    _int(_need(fit, "epochs", "port.keras.fit"), "port.keras.fit.epochs", 1)
    for key in ("shuffle", "validation"):
        if not isinstance(fit[key], bool):
            raise ConfigError(f"port.keras.fit.{key}: {fit[key]!r} is not allowed; allowed: true, false")
    if "callbacks" in fit:
        _entry(fit["callbacks"], "port.keras.fit.callbacks")
    port["keras"] = {"model": keras["model"], "fit": fit}
    torch = _mapping(_need(port, "torch", "port"), "port.torch", TORCH_KEYS)
    _entry(_need(torch, "build", "port.torch"), "port.torch.build")
    if ("train_epoch" in torch) == ("train" in torch):
        raise ConfigError(f"port.torch: {sorted(torch)!r} is not allowed; allowed: exactly one of train_epoch "
                          "(called once per epoch), train (called once)")
    for key in ("loader", "train_epoch", "train", "predict"):
        if key in torch:
            _entry(torch[key], f"port.torch.{key}")
    if "loader" not in torch and not isinstance(torch.get("shuffle"), bool):
        raise ConfigError(f"port.torch.shuffle: {torch.get('shuffle')!r} is not allowed; without "
                          "port.torch.loader, say whether the DataLoader shuffles: true or false")
    arguments = torch.get("arguments") or {}
    if not isinstance(arguments, dict) or any(v not in ARGUMENTS for v in arguments.values()):
        raise ConfigError(f"port.torch.arguments: {arguments!r} is not allowed; allowed: a mapping of the loop's "
                          f"parameter names to {', '.join(ARGUMENTS)}")
    port["torch"] = dict(torch) | {"arguments": dict(arguments)}
    mapping = port.get("mapping") or {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in mapping.items()):
        raise ConfigError(f"port.mapping: {mapping!r} is not allowed; allowed: a mapping of Keras layer names "
                          "to PyTorch module names")
    port["mapping"] = dict(mapping)
    seeds = _need(port, "seeds", "port")
    if not isinstance(seeds, list) or len(seeds) < 2 or len(set(map(str, seeds))) != len(seeds):
        raise ConfigError(f"port.seeds: {seeds!r} is not allowed; allowed: a list of at least 2 distinct "
                          "integers ≥ 0")
    for seed in seeds:
        _int(seed, "port.seeds", 0)
    # One job an arm unless asked: on 2 cores the arms keep both busy, and each job pays some 9 s of imports
    # and set-up (examples/cnn: 129 s end to end in one job an arm, 158 s in two); on a cluster, 1.
    per_job = port.get("seeds_per_job")
    port["seeds_per_job"] = len(seeds) if per_job is None else _int(per_job, "port.seeds_per_job", 1)
    if port.get("epochs") is not None:
        _int(port["epochs"], "port.epochs", 1)
    port.setdefault("epochs", None)
    config["port"] = port
    for section in ("lockstep", "statistics"):
        for key in sorted(KEYS[section] - {"max_steps"}):
            _need(config[section], key, section)
    check_trace_and_statistics(config)
    config["lockstep"] = {"max_steps": None} | dict(config["lockstep"])
    if config["lockstep"]["max_steps"] is not None:
        _int(config["lockstep"]["max_steps"], "lockstep.max_steps", 1)
    return config


def is_port(config: dict) -> bool:
    """A port config (it has the ``port`` key)."""
    return "port" in config


def epochs(port: dict) -> int:
    """The epochs both sides train: ``port.epochs`` where set (a tiny config), else ``fit``'s."""
    return int(port["epochs"] or port["keras"]["fit"]["epochs"])


# ------------------------------------------------------------------ entry points


@contextmanager
def on_path(path: str):
    """``path`` first on ``sys.path`` while the user's modules are imported."""
    folder = str(Path(path).resolve())
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def load(entry: str, key: str, path: str):
    """The object an entry point ``module:attribute`` names, imported from ``path``; refused, named, if absent."""
    module_name, _, attribute = entry.partition(":")
    # Another port's module of the same name (every example has a torch_port.py) is not this one.
    top = module_name.split(".")[0]
    cached = sys.modules.get(top)
    folder = Path(path).resolve()
    if cached is not None and getattr(cached, "__file__", None) and folder not in Path(cached.__file__).resolve().parents:
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
    with on_path(path):
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # an import that fails is the user's; name it and what it raised
            raise ConfigError(f"{key}: {entry!r} cannot be imported from {path}: "
                              f"{type(error).__name__}: {error}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{key}: {entry!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{key}: {entry!r} is not callable")
    return target


def call(function, key: str, values: dict, renames: dict | None = None, **extra):
    """Call the user's ``function`` with the arguments its signature names, from ``values``.

    ``values``: ``{ARGUMENTS key: value}``; a parameter answers to its
    ``ARGUMENTS`` names, or to ``renames[name]``. A required parameter with
    no value is refused, naming the key, the parameter and what it may be.
    """
    renames = renames or {}
    kwargs = {}
    for name, param in inspect.signature(function).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        source = renames.get(name) or next((k for k, names in ARGUMENTS.items() if name in names), None)
        if name in extra:
            kwargs[name] = extra[name]
        elif source is not None and source in values:
            kwargs[name] = values[source]
        elif param.default is param.empty:
            raise ConfigError(f"{key}: parameter {name!r} of {function.__qualname__} has no value; the workflow "
                              f"passes {', '.join(sorted(values) + sorted(extra))} (rename with "
                              "port.torch.arguments)")
    return function(**kwargs)


def accepts(function, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


class Entries:
    """Every entry point of a port, loaded (imports the user's modules)."""

    def __init__(self, port: dict):
        path = port["path"]
        self.port = port
        self.keras_model = load(port["keras"]["model"], "port.keras.model", path)
        self.callbacks = (load(port["keras"]["fit"]["callbacks"], "port.keras.fit.callbacks", path)
                          if "callbacks" in port["keras"]["fit"] else None)
        t = port["torch"]
        self.build = load(t["build"], "port.torch.build", path)
        self.loader = load(t["loader"], "port.torch.loader", path) if "loader" in t else None
        self.loop_key = "port.torch.train_epoch" if "train_epoch" in t else "port.torch.train"
        self.loop = load(t.get("train_epoch") or t["train"], self.loop_key, path)
        self.per_epoch = "train_epoch" in t
        self.predict = load(t["predict"], "port.torch.predict", path) if "predict" in t else None
        data = port["data"]
        self.generator = (load(data["generator"], "port.data.generator", path) if "generator" in data else None)
        self.metric = (load(port["metric"], "port.metric", path) if port["metric"] not in METRICS else None)

    @classmethod
    def of(cls, port: dict, keras_model, build, loop, per_epoch: bool = True, predict=None, loader=None,
           callbacks=None, generator=None, metric=None) -> "Entries":
        """A port whose entry points are given as functions, not names (the catalogue's cases): the same
        object the engine reads for a user's port, with nothing imported."""
        self = cls.__new__(cls)
        self.port, self.keras_model, self.build, self.loop, self.per_epoch = port, keras_model, build, loop, per_epoch
        self.loop_key = "port.torch.train_epoch" if per_epoch else "port.torch.train"
        self.predict, self.loader, self.callbacks, self.generator, self.metric = (predict, loader, callbacks,
                                                                                  generator, metric)
        return self
