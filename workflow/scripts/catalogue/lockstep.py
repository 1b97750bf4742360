"""Snakemake → gapstudy.studies.catalogue.lockstep: trace every traced arm of one case against its Keras reference."""

from pathlib import Path

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.studies.catalogue import data, lockstep, paths  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_json, open_log  # noqa: E402

log = open_log(snakemake.log[0])
p, cfg = snakemake.params, snakemake.params.lockstep
arrays = data.load(snakemake.input.npz)
Path(snakemake.output.traces).mkdir(parents=True, exist_ok=True)
for arm in p.arms:
    steps, result = lockstep.trace(p.case, arm, arrays, cfg["seed"], cfg["epochs"], cfg["atol"], cfg["rtol"],
                                   log=log)
    with atomic_path(Path(paths.TRACE_STEPS.format(case=p.case, arm=arm))) as tmp:
        steps.to_csv(tmp, index=False)
    atomic_write_json(Path(paths.TRACE_RESULT.format(case=p.case, arm=arm)), result)
    log(f"{p.case}/{arm}: first difference at step {result['first_step']}, {result['first_tensor']}")
