"""Snakemake → gapstudy.studies.catalogue.lockstep: trace one arm of one case against its Keras reference."""

from pathlib import Path

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.studies.catalogue import data, lockstep  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_json, open_log  # noqa: E402

log = open_log(snakemake.log[0])
p, cfg = snakemake.params, snakemake.params.lockstep
steps, result = lockstep.trace(p.case, p.arm, data.load(snakemake.input.npz), cfg["seed"], cfg["epochs"],
                               cfg["atol"], cfg["rtol"], log=log)
with atomic_path(Path(snakemake.output.steps)) as tmp:
    steps.to_csv(tmp, index=False)
atomic_write_json(Path(snakemake.output.result), result)
log(f"{p.case}/{p.arm}: first difference at step {result['first_step']}, {result['first_tensor']}")
