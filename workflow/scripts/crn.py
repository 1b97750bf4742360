"""Snakemake → gapstudy.studies.seed.crn: one side of a common-random-numbers pair, every seed."""

import os
from pathlib import Path

from gapstudy.registry import FRAMEWORKS
from gapstudy.frameworks.runtime import limit_threads

# Before any framework is imported: thread pools are sized, Keras' backend is read, on import.
limit_threads(snakemake.threads)
framework = snakemake.params.side["framework"]
os.environ["KERAS_BACKEND"] = FRAMEWORKS[framework].backend

from gapstudy.studies.seed import crn  # noqa: E402
from gapstudy.studies.seed.data import load_dataset  # noqa: E402
from gapstudy.io import atomic_write_json, open_log  # noqa: E402
from gapstudy.studies.seed.run import configure_determinism, configure_threads  # noqa: E402

log = open_log(snakemake.log[0])
params = snakemake.params
configure_threads(framework, snakemake.threads)
configure_determinism(framework)
dataset = load_dataset(Path(snakemake.input.npz), Path(snakemake.input.manifest))
log(f"common random numbers {snakemake.wildcards.pair}, side {snakemake.wildcards.side}: "
    f"{framework}/{params.side['variant']} on seeds {params.seeds}")
rows = crn.train_seeds(framework, dataset, params.seeds, params.hyperparameters, params.switches,
                       params.draw_switches, log=log)
atomic_write_json(Path(snakemake.output[0]), {"pair": snakemake.wildcards.pair, "side": snakemake.wildcards.side,
                                              **params.side, "switches": params.switches, "seeds": rows})
