"""Speed benchmark: the posted code against the workflow's training paths, side by side.

Run it with ``make benchmark`` (or ``python -m gapstudy.benchmark --help``).
A posted run (one seed) and a workflow training job (the default config's
seeds, as the ``train`` rule runs them) are each a fresh Python process with
one thread, imports included; the job's time is divided by its runs. Posted
and workflow processes alternate so that both see the same machine load. The machine is shared and noisy: read the
ratios, not the absolute times. It also times the default study end to end
and a larger one, to show how the cost grows with seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gapstudy.io import copy_workflow

ROOT = Path(__file__).resolve().parents[2]

CHILD = {
    ("torch", "posted"): (
        "import torch; torch.set_num_threads(1);"
        "from gapstudy.data import load_dataset; from gapstudy.posted import torch_as_posted;"
        "torch_as_posted(load_dataset({npz!r}), seed={seed}, epochs={epochs})"
    ),
    ("keras", "posted"): (
        "from gapstudy.data import load_dataset; from gapstudy.posted import keras_as_posted;"
        "keras_as_posted(load_dataset({npz!r}), seed={seed}, epochs={epochs})"
    ),
    # A workflow job trains every seed of a variant in one process (rule train).
    "workflow": (
        "from gapstudy.run import train_runs; from gapstudy.variants import resolve;"
        "train_runs({framework!r}, 'as_posted', resolve({{}}, {framework!r}, {hp!r}), {seeds!r}, {outputs!r},"
        " device='cpu', hp={hp!r}, dataset_npz={npz!r}, dataset_manifest={manifest!r}, threads=1,"
        " log=lambda message: None)"
    ),
}


def run_child(code: str, src: Path) -> dict:
    """Run ``code`` in a fresh one-thread Python; its wall time, CPU time and peak memory."""
    env = dict(os.environ, PYTHONPATH=str(src), KERAS_BACKEND="tensorflow")
    prelude = "from gapstudy.runtime import limit_threads; limit_threads(1);"
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", prelude + code], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            err.seek(0)
            raise RuntimeError(f"benchmark child failed:\n{err.read().decode()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def per_run(frameworks, repeats: int, epochs: int, seed: int, job_seeds: int, workdir: Path, repo: Path,
            hp: dict) -> list[dict]:
    """Posted runs of ``seed`` against workflow jobs of ``job_seeds`` seeds, per run."""
    from gapstudy.data import make_dataset, save_dataset

    params = yaml.safe_load((repo / "config" / "config.yaml").read_text())["dataset"]
    npz, manifest = workdir / "dataset.npz", workdir / "manifest.json"
    save_dataset(make_dataset(**params), npz, manifest, params)
    hp = dict(hp, epochs=epochs)
    rows = []
    for repeat in range(repeats):
        for framework in frameworks:
            for path in ("posted", "workflow"):
                template = CHILD[(framework, "posted")] if path == "posted" else CHILD["workflow"]
                seeds = [seed] if path == "posted" else list(range(seed, seed + job_seeds))
                outputs = [str(workdir / f"{framework}-seed{s}.json") for s in seeds]
                code = template.format(framework=framework, seed=seed, seeds=seeds, outputs=outputs,
                                       epochs=epochs, hp=hp, npz=str(npz), manifest=str(manifest))
                job = run_child(code, repo / "src")
                # Per run: a job's time shared by the runs it trained.
                row = {"framework": framework, "path": path, "repeat": repeat, "runs_in_job": len(seeds),
                       "job_wall_s": job["wall_s"], "wall_s": job["wall_s"] / len(seeds),
                       "cpu_s": job["cpu_s"] / len(seeds), "peak_rss_mb": job["peak_rss_mb"]}
                print(f"  {framework:5s} {path:8s} repeat {repeat}: {row['wall_s']:6.1f} s wall, "
                      f"{row['cpu_s']:6.1f} s CPU per run ({len(seeds)} in the process), "
                      f"{row['peak_rss_mb']:5.0f} MB", flush=True)
                rows.append(row)
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """Workflow over posted, per framework and repeat; median and range over repeats."""
    out = []
    for framework in sorted({r["framework"] for r in rows}):
        pairs = {}
        for r in rows:
            if r["framework"] == framework:
                pairs.setdefault(r["repeat"], {})[r["path"]] = r
        for metric in ("wall_s", "cpu_s"):
            values = [p["workflow"][metric] / p["posted"][metric] for p in pairs.values()]
            out.append({"framework": framework, "metric": metric.removesuffix("_s") + " time",
                        "ratio_median": statistics.median(values), "ratio_min": min(values),
                        "ratio_max": max(values), "repeats": len(values),
                        "posted_median_s": statistics.median(p["posted"][metric] for p in pairs.values()),
                        "workflow_median_s": statistics.median(p["workflow"][metric] for p in pairs.values())})
        out.append({"framework": framework, "metric": "peak memory of a workflow run (MB)",
                    "ratio_median": max(p["workflow"]["peak_rss_mb"] for p in pairs.values())})
    return out


def study(seeds: int, cores: int, workdir: Path, repo: Path) -> dict:
    """The default config with ``seeds`` seeds, run and reported by Snakemake from scratch."""
    copy_workflow(repo, workdir)
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["seeds"] = list(range(seeds))
    (workdir / "bench.yaml").write_text(yaml.safe_dump(config))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "bench.yaml"]
    start = time.perf_counter()
    for extra in ([], ["--report", "results/report.html"]):
        subprocess.run(snakemake + extra, cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"seeds": seeds, "cores": cores, "wall_s": time.perf_counter() - start}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="posted/workflow pairs per framework")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--job-seeds", type=int, default=None,
                        help="seeds per workflow job (default: the default config's seeds, as the workflow does)")
    parser.add_argument("--frameworks", nargs="+", default=["torch", "keras"])
    parser.add_argument("--study-seeds", type=int, nargs="*", default=[10, 15],
                        help="seed counts of the end-to-end studies (none: skip them)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmark" / "speed.json")
    args = parser.parse_args(argv)

    repo_dir = tempfile.TemporaryDirectory()
    # A snapshot, so that edits made while the benchmark runs do not leak into it.
    repo = copy_workflow(ROOT, Path(repo_dir.name))
    default = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    hp, job_seeds = default["training"], args.job_seeds or len(default["seeds"])
    result = {"args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Per run: posted code against the workflow's path, {args.epochs} epochs, one thread; "
              f"a workflow job trains {job_seeds} seeds")
        rows = per_run(args.frameworks, args.repeats, args.epochs, args.seed, job_seeds, Path(tmp), repo, hp)
    result["runs"], result["ratios"] = rows, ratios(rows)
    print("\nworkflow / posted (median over repeats, [min, max]); lower is faster")
    for r in result["ratios"]:
        if "ratio_min" in r:
            print(f"  {r['framework']:5s} {r['metric']:9s}: {r['ratio_median']:.3f} "
                  f"[{r['ratio_min']:.3f}, {r['ratio_max']:.3f}]  = 1/{1 / r['ratio_median']:.1f}  "
                  f"({r['workflow_median_s']:.1f} s against {r['posted_median_s']:.1f} s)")
        else:
            print(f"  {r['framework']:5s} {r['metric']}: {r['ratio_median']:.0f}")
    studies = []
    for seeds in args.study_seeds:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"\nStudy end to end: {seeds} seeds, --cores {args.cores}, report included ...", flush=True)
            studies.append(study(seeds, args.cores, Path(tmp), repo))
            print(f"  {studies[-1]['wall_s']:.0f} s", flush=True)
    if len(studies) > 1:
        base = studies[0]
        for s in studies[1:]:
            print(f"  {s['seeds']} seeds cost {s['wall_s'] / base['wall_s']:.2f}x the {base['seeds']}-seed "
                  f"study (linear would be {s['seeds'] / base['seeds']:.2f}x)")
    result["studies"] = studies
    repo_dir.cleanup()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
