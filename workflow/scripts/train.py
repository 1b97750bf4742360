"""Snakemake → gapstudy.studies.seed.run: one (framework, variant, device) training job, every seed."""

from pathlib import Path

from gapstudy.frameworks.runtime import limit_threads

# Before any framework is imported: thread pools are sized on import.
limit_threads(snakemake.threads)

from gapstudy.io import open_log  # noqa: E402
from gapstudy.studies.seed.run import train_runs  # noqa: E402

wc, params = snakemake.wildcards, snakemake.params
train_runs(
    framework=wc.framework,
    variant=wc.variant,
    switches=params.switches,
    seeds=params.seeds,
    repeat=params.repeat,
    stack=snakemake.resources.stack_seeds,
    resume_dir=Path(params.resume_dir),
    keep_failures=bool(snakemake.resources.partial_results),
    outputs=[Path(path) for path in params.records],
    device=wc.device,
    hp=params.hyperparameters,
    dataset_npz=Path(snakemake.input.npz),
    dataset_manifest=Path(snakemake.input.manifest),
    threads=snakemake.threads,
    code_sha256=params.code,
    log=open_log(snakemake.log[0]),
)
