"""One catalogue training job: one arm of one case over its seeds, one row per seed.

The Keras arm runs ``keras_ref.train``; every other arm is the PyTorch port
with the arm's switches (``cases.arm_switches``). Rows carry the case, the
arm, the seed, the switches, the validation scores and the times; the
versions that computed them are in the job's own record (``environment``).
"""

from __future__ import annotations

import importlib
import json

from gapstudy.studies.catalogue.cases import CASES, KERAS, arm_switches

# Each arm's trainer, named (not imported) here: a job's code hash holds its own trainer only, so that an
# edit of the PyTorch ports retrains no Keras reference (workflow/rules/catalogue/common.smk).
TRAINERS = {"keras": "gapstudy.studies.catalogue.keras_ref", "torch": "gapstudy.studies.catalogue.torch_port"}


def trainer(arm: str) -> str:
    """The module whose ``train`` trains ``arm``."""
    return TRAINERS["keras" if arm == KERAS else "torch"]


def train_arm(case: str, arm: str, data: dict, seeds, epochs: int | None = None, log=print) -> list[dict]:
    """Train ``arm`` of ``case`` once per seed; ``epochs`` overrides the case's (the tiny config)."""
    switches = arm_switches(case, arm)
    train = importlib.import_module(trainer(arm)).train
    rows = []
    for seed in seeds:
        result = train(case, data, seed, epochs) if arm == KERAS else train(case, switches, data, seed, epochs)
        rows.append({"case": case, "arm": arm, "seed": int(seed), "family": CASES[case].family,
                     "switches": json.dumps(switches, sort_keys=True),
                     "epochs": int(epochs or CASES[case].settings["epochs"]),
                     "train_loss_last": result["train_loss"][-1]}
                    | {k: v for k, v in result.items() if k != "train_loss"})
        metric = CASES[case].metric
        log(f"{case}/{arm} seed {seed}: {metric} {result[metric]:.6g} in {result['wall_seconds']:.1f} s")
    return rows
