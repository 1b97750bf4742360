"""One catalogue training job: one side of one case (the Keras reference, or every PyTorch arm) over its
seeds, one row per arm and seed.

A case's PyTorch arms train in one job, one arm after the other (``side_arms``): each job pays its
imports and start-up once (about 2 to 6 s, most of a tiny config's job), and the rows are the same as
one job per arm would write.

The Keras arm runs ``keras_ref.train_seeds`` (the seed case's seeds stacked,
the others' seed by seed); every other arm is the PyTorch port with the arm's
switches (``cases.arm_switches``), its seeds stacked where the port allows it
(``torch_port_stacked.train_seeds``). Rows carry the case, the
arm, the seed, the switches, the validation scores and the times; the
versions that computed them are in the job's own record (``environment``).
"""

from __future__ import annotations

import importlib
import json

from gapstudy.studies.catalogue.cases import CASES, KERAS, arm_switches, arms

# Each arm's trainer, named (not imported) here: a job's code hash holds its own trainer only, so that an
# edit of the PyTorch ports retrains no Keras reference (workflow/rules/catalogue/common.smk). The torch
# trainer imports the port it stacks (``torch_port``), so that its hash holds both.
TRAINERS = {"keras": "gapstudy.studies.catalogue.keras_ref",
            "torch": "gapstudy.studies.catalogue.torch_port_stacked"}


SIDES = tuple(TRAINERS)


def side_of(arm: str) -> str:
    """The side that trains ``arm``: ``keras`` for the reference, ``torch`` for every other arm."""
    return "keras" if arm == KERAS else "torch"


def side_arms(case: str, side: str) -> tuple[str, ...]:
    """The arms of ``case`` one training job of ``side`` trains, in the registry's order."""
    if side not in SIDES:
        raise KeyError(f"side {side!r}: allowed {', '.join(SIDES)}")
    return tuple(arm for arm in arms(case) if side_of(arm) == side)


def trainer(arm: str) -> str:
    """The module whose ``train`` trains ``arm`` (or every arm of a side, given the side's name)."""
    return TRAINERS[arm if arm in SIDES else side_of(arm)]


def train_arm(case: str, arm: str, data: dict, seeds, epochs: int | None = None, log=print) -> list[dict]:
    """Train ``arm`` of ``case`` from every seed of ``seeds``; ``epochs`` overrides the case's (the tiny
    config). One row per seed; ``stacked_seeds`` says how many seeds were trained at once (1: alone)."""
    switches = arm_switches(case, arm)
    module = importlib.import_module(trainer(arm))
    if arm == KERAS:
        results = module.train_seeds(case, data, seeds, epochs)
    else:
        results = module.train_seeds(case, switches, data, seeds, epochs)
    metric, rows = CASES[case].metric, []
    if results and results[0]["stacked_seeds"] > 1:
        log(f"{case}/{arm}: {len(results)} seeds stacked in "
            f"{sum(r['wall_seconds'] for r in results):.1f} s ({trainer(arm)})")
    for seed, result in zip(seeds, results):
        rows.append({"case": case, "arm": arm, "seed": int(seed), "family": CASES[case].family,
                     "switches": json.dumps(switches, sort_keys=True),
                     "epochs": int(epochs or CASES[case].settings["epochs"]),
                     "train_loss_last": result["train_loss"][-1]}
                    | {k: v for k, v in result.items() if k != "train_loss"})
        log(f"{case}/{arm} seed {seed}: {metric} {result[metric]:.6g} in {result['wall_seconds']:.1f} s")
    return rows
