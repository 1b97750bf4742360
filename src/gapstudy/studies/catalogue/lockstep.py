"""Where a port first leaves its Keras reference: the first step, and the first tensor within it.

Each arm of a case is a port (``ports``: the Keras reference, the PyTorch port and its loop, the data),
traced by the port engine as a user's is (``gapstudy.studies.port.lockstep.trace``): the port's loop runs
under hooks from the Keras reference's initial weights (the port gets them in its own layout), Keras
replays each step on the rows the port's loader drew and with the port's dropout masks, and the fixed
port, from the same weights on the same rows and masks, is the control. Step 0 compares the two
initialisations as distributions (the port draws its own weights there: a transferred weight has no
initialisation left to compare). Each later step compares every tensor in the order the step computes
it: the batch's rows, the input, each mapped layer's block output, what the loss consumes, the loss,
gradients (before clipping, as Keras' tape gives them), Adam's moments, updated weights, BatchNorm's
running statistics; after every epoch, validation's output and the weights after it.

A tensor differs where ``max|keras − port| > atol + rtol · max|keras|`` (NumPy's ``allclose`` rule, on
the largest element) and the fixed port does not share the difference (``gapstudy.trace.engine``).
"""

from __future__ import annotations

import pandas as pd

from gapstudy.studies.catalogue import ports
from gapstudy.studies.catalogue.cases import FIXED
from gapstudy.studies.port import lockstep as port_lockstep


def trace(case: str, arm: str, data: dict, seed: int, epochs: int, atol: float, rtol: float,
          log=print) -> tuple[pd.DataFrame, dict]:
    """Trace ``arm`` of ``case`` against the Keras reference for ``epochs`` epochs; (every row, result)."""
    entries = ports.entries(case, arm, data)
    config = {"port": entries.port, "lockstep": {"seed": seed, "epochs": epochs, "atol": atol, "rtol": rtol}}
    control = ports.entries(case, FIXED, data) if arm != FIXED else None
    return port_lockstep.trace(config, data, entries, control,
                               log=lambda message: log(f"{case}/{arm}: {message}"), case=case, arm=arm)
