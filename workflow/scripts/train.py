"""Snakemake → gapstudy.run: one (framework, variant, device) training job, every seed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from gapstudy.runtime import limit_threads  # noqa: E402

# Before any framework is imported: thread pools are sized on import.
limit_threads(snakemake.threads)

from gapstudy.io import open_log  # noqa: E402
from gapstudy.run import train_runs  # noqa: E402

wc = snakemake.wildcards
train_runs(
    framework=wc.framework,
    variant=wc.variant,
    switches=snakemake.params.switches,
    seeds=snakemake.params.seeds,
    repeat=snakemake.params.repeat,
    resume_dir=Path(snakemake.params.resume_dir),
    # Read from the config, not params: switching it must not retrain finished jobs.
    keep_failures=snakemake.config.get("partial_results", False),
    outputs=[Path(snakemake.output.runs) / f"seed{seed}.json" for seed in snakemake.params.seeds],
    device=wc.device,
    hp=snakemake.params.hyperparameters,
    dataset_npz=Path(snakemake.input.npz),
    dataset_manifest=Path(snakemake.input.manifest),
    threads=snakemake.threads,
    log=open_log(snakemake.log[0]),
)
