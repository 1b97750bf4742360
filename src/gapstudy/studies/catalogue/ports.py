"""The catalogue's cases as ports: each arm's Keras reference, PyTorch port, loop and data as the entry
points of a ``port:`` config, which the port engine (``gapstudy.studies.port``) reads like a user's.

A user's port names its entry points in the config (``module:attribute``); a case's are the functions
below, bound to the case, the arm and its data (``entries``):

- ``port.keras.model``: ``keras_ref.build``, compiled, from the global seed;
- ``port.torch.build``: ``torch_port.Port``'s module, optimizer, scheduler and loss;
- ``port.torch.train_epoch``: ``Port.train_epoch`` over the loader, as a user's loop (the engine observes
  it from outside, with hooks; nothing in it knows it is traced);
- ``port.torch.predict``: ``Port.evaluate`` (``model.eval()`` unless the pitfall forgets it);
- the loader: ``DataLoader(TensorDataset(X, y), batch_size, shuffle=...)``, shuffled where the arm's port
  shuffles (``shuffle: every_epoch``); Keras replays the rows it drew.
"""

from __future__ import annotations

from gapstudy.studies.catalogue import keras_ref, torch_port
from gapstudy.studies.catalogue.cases import CASES, arm_switches
from gapstudy.studies.catalogue.scores import n_outputs
from gapstudy.studies.port import spec

METRICS = {"regression": "mse", "multiclass": "log_loss", "binary": "log_loss"}


def config(case: str, arm: str, lockstep: dict) -> dict:
    """The ``port:`` and ``lockstep:`` sections of arm ``arm`` of ``case``, as a user's port config has them."""
    c = CASES[case]
    switches = torch_port.resolve(arm_switches(case, arm))
    port = {"name": f"{case}-{arm}", "title": f"{c.title}: {arm}", "path": ".", "task": c.task,
            "metric": METRICS[c.task], "mapping": {},
            "data": {"torch_layout": "channels_first" if c.family == "cnn" else "same"},
            "keras": {"model": "gapstudy.studies.catalogue.keras_ref:build",
                      "fit": {"batch_size": c.settings["batch_size"], "epochs": c.settings["epochs"],
                              "shuffle": True, "validation": False}},
            "torch": {"build": "gapstudy.studies.catalogue.torch_port:Port",
                      "train_epoch": "gapstudy.studies.catalogue.torch_port:Port.train_epoch",
                      "predict": "gapstudy.studies.catalogue.torch_port:Port.evaluate",
                      "shuffle": switches["shuffle"] == "every_epoch", "arguments": {}}}
    return {"port": port, "lockstep": dict(lockstep)}


def entries(case: str, arm: str, data: dict) -> spec.Entries:
    """Arm ``arm`` of ``case`` as a port's loaded entry points, on ``data`` (the case's arrays)."""
    c = CASES[case]
    switches = arm_switches(case, arm)
    shape, outputs = data["X_train"].shape[1:], n_outputs(c.task, data["y_train"])
    ports: dict[int, torch_port.Port] = {}

    def keras_model(seed: int):
        return keras_ref.build(case, shape, outputs, seed)

    def build(seed: int) -> dict:
        port = torch_port.Port(case, switches, data, seed)
        ports[id(port.model)] = port
        return {"model": port.model, "optimizer": port.optimizer, "scheduler": port.scheduler,
                "loss_fn": port.data_loss}

    def train_epoch(model, loader) -> None:
        ports[id(model)].train_epoch(loader)

    def predict(model, X):
        return ports[id(model)].evaluate(X)

    return spec.Entries.of(config(case, arm, {})["port"], keras_model=keras_model, build=build,
                           loop=train_epoch, predict=predict)
