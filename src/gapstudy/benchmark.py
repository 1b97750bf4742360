"""Speed benchmark: the posted code against the workflow's training paths, side by side, and the study end to end.

Run it with ``make benchmark`` (or ``python -m gapstudy.benchmark --help``).

Per run: a posted run (one seed: the user's code as transcribed in
``gapstudy.studies.seed.posted``; for Keras on PyTorch, the same Keras code on that
backend) and a workflow training job (the default config's seeds, trained
as the ``train`` rule trains them: stacked) are each a fresh one-thread
Python process, imports included; the job's time is divided by its runs.
Posted and workflow processes alternate, so both see the same machine load.

End to end: the default config from nothing to the report
(``snakemake --cores N`` plus ``--report``), ``--study-repeats`` times
(the median counts); the catalogue (``config/catalogue.yaml``) likewise,
``--catalogue-repeats`` times, beside the default study's time, and once
more at ``--catalogue-growth-seeds`` seeds per arm for its growth per seed;
the diagnosis config (``config/diagnosis.yaml``) ``--diagnosis-repeats``
times; each port example (``examples/*/config.yaml``, ``--ports``) once,
beside the catalogue's time; then the default config with every arm at 10,
20 and 30 seeds, and the slope of time against seeds (least squares). Each
study also reports its largest peak job memory (Snakemake's ``benchmark:``
files). At the end each config's time stands beside its time before issue 24
(``BEFORE``) as a ratio, against the issue's limit (``LIMITS``). The machine
is shared and noisy: read the ratios, not the absolute times.
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

import numpy as np
import yaml

from gapstudy.io import copy_workflow
from gapstudy.registry import FRAMEWORKS

ROOT = Path(__file__).resolve().parents[2]

CHILD = {
    ("torch", "posted"): (
        "import torch; torch.set_num_threads(1);"
        "from gapstudy.studies.seed.data import load_dataset; from gapstudy.studies.seed.posted import torch_as_posted;"
        "torch_as_posted(load_dataset({npz!r}), seed={seed}, epochs={epochs})"
    ),
    # Keras and Keras on PyTorch: the same posted Keras code, on the backend of the child's KERAS_BACKEND.
    ("keras", "posted"): (
        "from gapstudy.studies.seed.data import load_dataset; from gapstudy.studies.seed.posted import keras_as_posted;"
        "keras_as_posted(load_dataset({npz!r}), seed={seed}, epochs={epochs})"
    ),
    # Keras 2: the posted Keras code verbatim on tf_keras.
    ("keras2", "posted"): (
        "from gapstudy.studies.seed.data import load_dataset; from gapstudy.studies.seed.posted import keras2_as_posted;"
        "keras2_as_posted(load_dataset({npz!r}), seed={seed}, epochs={epochs})"
    ),
    # A workflow job trains every seed of a variant in one process (rule train).
    "workflow": (
        "from gapstudy.studies.seed.run import train_runs; from gapstudy.variants import resolve;"
        "train_runs({framework!r}, 'as_posted', resolve({{}}, {framework!r}, {hp!r}), {seeds!r}, {outputs!r},"
        " device='cpu', hp={hp!r}, dataset_npz={npz!r}, dataset_manifest={manifest!r}, threads=1,"
        " log=lambda message: None)"
    ),
}
# Today's targets (issue "Power within ten minutes"): workflow time per run over the posted code's.
# Keras 2 (issue "The user's Keras was Keras 2"): whatever fast path Keras 3 has, so Keras 3's target.
TARGETS = {"torch": 1 / 10, "keras": 1 / 10, "keras_torch": 1 / 5, "keras2": 1 / 10}

# Each config end to end on 2 cores before issue 24 ("Every config in minutes"): (seconds, where measured).
BEFORE = {
    "default": (394, "one run alone, with Keras 2's arm, 2026-11-29 (README, Speed)"),
    "catalogue": (1053, "make benchmark at bb4cabb, alone"),
    "diagnosis": (2220, "about 37 min on shared cores (issue 24)"),
    "examples/seed": (149, "Snakemake without --report at 688accd (README)"),
    "examples/cnn": (157, "Snakemake without --report at 688accd (README)"),
    "examples/lstm": (159, "Snakemake without --report at 688accd (README)"),
}
# Issue 24's limits, seconds end to end on 2 cores; the default study also never slower than BEFORE's.
LIMITS = {"default": 390, "catalogue": 360, "diagnosis": 600, "port": 600}


def run_child(code: str, src: Path, backend: str = "tensorflow") -> dict:
    """Run ``code`` in a fresh one-thread Python; its wall time, CPU time and peak memory."""
    env = dict(os.environ, PYTHONPATH=str(src), KERAS_BACKEND=backend)
    prelude = "from gapstudy.frameworks.runtime import limit_threads; limit_threads(1);"
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
    from gapstudy.studies.seed.data import make_dataset, save_dataset

    params = yaml.safe_load((repo / "config" / "config.yaml").read_text())["dataset"]
    npz, manifest = workdir / "dataset.npz", workdir / "manifest.json"
    save_dataset(make_dataset(**params), npz, manifest, params)
    hp = dict(hp, epochs=epochs)
    rows = []
    for repeat in range(repeats):
        for framework in frameworks:
            for path in ("posted", "workflow"):
                family = FRAMEWORKS[framework].family
                posted = CHILD.get((framework, "posted")) or CHILD[(family, "posted")]
                template = posted if path == "posted" else CHILD["workflow"]
                seeds = [seed] if path == "posted" else list(range(seed, seed + job_seeds))
                outputs = [str(workdir / f"{framework}-seed{s}.json") for s in seeds]
                code = template.format(framework=framework, seed=seed, seeds=seeds, outputs=outputs,
                                       epochs=epochs, hp=hp, npz=str(npz), manifest=str(manifest))
                job = run_child(code, repo / "src", FRAMEWORKS[framework].backend)
                # Per run: a job's time shared by the runs it trained.
                row = {"framework": framework, "path": path, "repeat": repeat, "runs_in_job": len(seeds),
                       "job_wall_s": job["wall_s"], "wall_s": job["wall_s"] / len(seeds),
                       "cpu_s": job["cpu_s"] / len(seeds), "peak_rss_mb": job["peak_rss_mb"]}
                print(f"  {framework:11s} {path:8s} repeat {repeat}: {row['wall_s']:6.1f} s wall, "
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


def study(config: dict, cores: int, workdir: Path, repo: Path) -> dict:
    """``config`` run and reported by Snakemake from nothing: wall time, jobs, largest peak job memory.

    A catalogue config (``config/catalogue.yaml``) writes its report and benchmark files under
    ``results/catalogue/``, a port config (``examples/*/config.yaml``) under ``results/port/<name>/``.
    """
    from gapstudy.studies.catalogue import paths
    from gapstudy.studies.catalogue.config import is_catalogue
    from gapstudy.studies.port import paths as port_paths
    from gapstudy.studies.port.spec import is_port
    from gapstudy.studies.report_path import report_path

    catalogue, port = is_catalogue(config), is_port(config)
    copy_workflow(repo, workdir)
    (workdir / "bench.yaml").write_text(yaml.safe_dump(config))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "bench.yaml"]
    env = dict(os.environ, PYTHONPATH=str(workdir / "src"))
    start = time.perf_counter()
    for extra in ([], ["--report", report_path(config)]):
        subprocess.run(snakemake + extra, cwd=workdir, check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if port:
        benchmarks = port_paths.paths(config["port"]["name"])["benchmarks"]
    else:
        benchmarks = paths.BENCHMARKS if catalogue else "results/benchmarks"
    jobs = _job_benchmarks(workdir / benchmarks)
    largest = max(jobs, key=lambda j: j["max_rss_mb"])
    if port:
        import pandas as pd

        runs = len(pd.read_csv(workdir / port_paths.table(config["port"]["name"], "runs")))
    else:
        runs = _catalogue_runs(config) if catalogue else _runs(config)
    return {"wall_s": wall, "cores": cores, "jobs": len(jobs), "runs": runs,
            "peak_job_memory_mb": largest["max_rss_mb"], "peak_job": largest["job"]}


def repeated_study(label: str, config: dict, repeats: int, cores: int, repo: Path) -> list[dict]:
    """``study`` of ``config`` ``repeats`` times, each in a fresh directory, printing each as it ends."""
    results = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"\n{label} end to end ({repeat + 1}/{repeats}), --cores {cores}, report included ...", flush=True)
            results.append(study(config, cores, Path(tmp), repo))
            s = results[-1]
            print(f"  {s['wall_s']:.0f} s, {s['jobs']} jobs, {s['runs']} runs; largest job "
                  f"{s['peak_job_memory_mb']:.0f} MB ({s['peak_job']})", flush=True)
    return results


def _catalogue_runs(config: dict) -> int:
    from gapstudy.studies.catalogue.cases import arms

    return len(config["catalogue"]["seeds"]) * sum(len(arms(c)) for c in config["catalogue"]["cases"])


def _job_benchmarks(root: Path) -> list[dict]:
    import pandas as pd

    jobs = []
    for path in sorted(root.rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[-1]
        jobs.append({"job": str(path.relative_to(root).with_suffix("")), "max_rss_mb": float(row["max_rss"])})
    return jobs


def _runs(config: dict) -> int:
    from gapstudy import config as study_config

    return sum(len(study_config.seeds(config, f, v)) for v, spec in config["variants"].items()
               for f in spec["frameworks"])


def with_seeds(config: dict, n: int) -> dict:
    """The config with every arm (every framework and variant) at seeds 0 .. n-1."""
    config = json.loads(json.dumps(config))
    config["seeds"] = list(range(n))
    config.pop("seeds_by_framework", None)
    for spec in config["variants"].values():
        spec.pop("seeds", None)
    return config


def against_before(result: dict) -> list[dict]:
    """Each config end to end in ``result`` beside ``BEFORE``: its ratio, and whether it meets ``LIMITS``.

    The default study must also be no slower than before; a port's time before was Snakemake's alone
    (no ``--report``), so its ratio is an upper bound.
    """
    rows = []
    for name, key in (("default", "default_study"), ("catalogue", "catalogue"), ("diagnosis", "diagnosis")):
        if key in result:
            # The default study's growth is the benchmark's own section; the others' sit in their results.
            growth = result.get("growth") if name == "default" else result[key].get("growth")
            rows.append({"config": name, "now_s": result[key]["median_wall_s"], "limit_s": LIMITS[name]}
                        | ({"seconds_per_seed": growth["seconds_per_seed"]} if growth else {}))
    for name, port in result.get("ports", {}).items():
        rows.append({"config": f"examples/{name}", "now_s": port["wall_s"], "limit_s": LIMITS["port"]})
    out = []
    for r in rows:
        if r["config"] not in BEFORE:
            continue
        before, source = BEFORE[r["config"]]
        met = r["now_s"] <= r["limit_s"] and (r["config"] != "default" or r["now_s"] <= before)
        out.append(r | {"before_s": before, "before_source": source, "ratio": r["now_s"] / before, "met": met})
    return out


def slope(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (seeds, seconds): (seconds per seed, seconds at no seeds)."""
    x, y = np.array(points, dtype=float).T
    per_seed, intercept = np.polyfit(x, y, 1)
    return float(per_seed), float(intercept)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="posted/workflow pairs per framework")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--job-seeds", type=int, default=None,
                        help="seeds per workflow job (default: the default config's seeds, as the workflow does)")
    parser.add_argument("--frameworks", nargs="+", default=["torch", "keras", "keras_torch", "keras2"])
    parser.add_argument("--study-repeats", type=int, default=2,
                        help="runs of the default config end to end (0: skip); the median counts")
    parser.add_argument("--growth-seeds", type=int, nargs="*", default=[10, 20, 30],
                        help="seed counts (every arm) of the studies that show the growth (none: skip)")
    parser.add_argument("--baseline-slope", type=float, default=26.0,
                        help="seconds per seed before stacking (the last benchmark of the seed-by-seed paths)")
    parser.add_argument("--catalogue-repeats", type=int, default=1,
                        help="runs of config/catalogue.yaml end to end (0: skip); the median counts")
    parser.add_argument("--catalogue-growth-seeds", type=int, nargs="*", default=[5],
                        help="seeds per arm of the catalogue's extra runs that give its growth per seed (none: skip)")
    parser.add_argument("--diagnosis-repeats", type=int, default=1,
                        help="runs of config/diagnosis.yaml end to end (0: skip); the median counts")
    parser.add_argument("--ports", nargs="*", default=["seed", "cnn", "lstm"],
                        help="examples/<name>/config.yaml diagnosed end to end, once each (none: skip)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmark" / "speed.json")
    args = parser.parse_args(argv)

    repo_dir = tempfile.TemporaryDirectory()
    # A snapshot, so that edits made while the benchmark runs do not leak into it.
    repo = copy_workflow(ROOT, Path(repo_dir.name))
    default = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    hp, job_seeds = default["training"], args.job_seeds or len(default["seeds"])
    result = {"args": {k: str(v) for k, v in vars(args).items()}}
    if args.repeats:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"Per run: posted code against the workflow's path, {args.epochs} epochs, one thread; "
                  f"a workflow job trains {job_seeds} seeds", flush=True)
            rows = per_run(args.frameworks, args.repeats, args.epochs, args.seed, job_seeds, Path(tmp), repo, hp)
        result["runs"], result["ratios"] = rows, ratios(rows)
        print("\nworkflow / posted per run (median over repeats, [min, max]); lower is faster")
        for r in result["ratios"]:
            if "ratio_min" in r:
                target = TARGETS.get(r["framework"])
                verdict = f"target 1/{1 / target:.0f}: {'met' if r['ratio_median'] <= target else 'NOT met'}" \
                    if target and r["metric"] == "wall time" else ""
                print(f"  {r['framework']:11s} {r['metric']:9s}: {r['ratio_median']:.3f} "
                      f"[{r['ratio_min']:.3f}, {r['ratio_max']:.3f}]  = 1/{1 / r['ratio_median']:.1f}  "
                      f"({r['workflow_median_s']:.2f} s against {r['posted_median_s']:.1f} s)  {verdict}")
            else:
                print(f"  {r['framework']:11s} {r['metric']}: {r['ratio_median']:.0f}")
    studies = repeated_study("The default config", default, args.study_repeats, args.cores, repo)
    if studies:
        median = statistics.median(s["wall_s"] for s in studies)
        print(f"  median {median:.0f} s = {median / 60:.1f} min")
        result["default_study"] = {"runs": studies, "median_wall_s": median}
    catalogue = yaml.safe_load((repo / "config" / "catalogue.yaml").read_text())
    runs = repeated_study("The catalogue (config/catalogue.yaml)", catalogue, args.catalogue_repeats, args.cores,
                          repo)
    if runs:
        median = statistics.median(s["wall_s"] for s in runs)
        beside = (f"; {median / result['default_study']['median_wall_s']:.2f} times the default study's in this "
                  "benchmark") if studies else ""
        print(f"  median {median:.0f} s = {median / 60:.1f} min{beside}")
        result["catalogue"] = {"runs": runs, "median_wall_s": median}
        points = [(len(catalogue["catalogue"]["seeds"]), median)]
        for n in args.catalogue_growth_seeds:
            fewer = json.loads(json.dumps(catalogue))
            fewer["catalogue"]["seeds"] = list(range(n))
            points.append((n, repeated_study(f"The catalogue at {n} seeds per arm", fewer, 1, args.cores,
                                             repo)[0]["wall_s"]))
        if len(points) >= 2:
            per_seed, fixed = slope(points)
            print(f"  growth: {per_seed:.1f} s per seed per arm (least squares) plus {fixed:.0f} s", flush=True)
            result["catalogue"]["growth"] = {"points": points, "seconds_per_seed": per_seed, "fixed_seconds": fixed}
    diagnosis = yaml.safe_load((repo / "config" / "diagnosis.yaml").read_text())
    diagnoses = repeated_study("The diagnosis config (config/diagnosis.yaml)", diagnosis, args.diagnosis_repeats,
                               args.cores, repo)
    if diagnoses:
        median = statistics.median(s["wall_s"] for s in diagnoses)
        print(f"  median {median:.0f} s = {median / 60:.1f} min", flush=True)
        result["diagnosis"] = {"runs": diagnoses, "median_wall_s": median}
    ports = {}
    for name in args.ports:
        config = yaml.safe_load((repo / "examples" / name / "config.yaml").read_text())
        ports[name] = repeated_study(f"The port examples/{name}", config, 1, args.cores, repo)[0]
        wall = ports[name]["wall_s"]
        beside = (f"; {wall / result['catalogue']['median_wall_s']:.2f} times the catalogue's in this benchmark"
                  if "catalogue" in result else "")
        print(f"  {wall:.0f} s = {wall / 60:.1f} min{beside}", flush=True)
    if ports:
        result["ports"] = ports
    growth = []
    for n in args.growth_seeds:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"\nEvery arm at {n} seeds, end to end ...", flush=True)
            growth.append({"seeds": n, **study(with_seeds(default, n), args.cores, Path(tmp), repo)})
            g = growth[-1]
            print(f"  {g['wall_s']:.0f} s, {g['runs']} runs; largest job {g['peak_job_memory_mb']:.0f} MB", flush=True)
    if len(growth) >= 2:
        per_seed, fixed = slope([(g["seeds"], g["wall_s"]) for g in growth])
        print(f"\n  {per_seed:.1f} s per seed (least squares) plus {fixed:.0f} s; before stacking "
              f"{args.baseline_slope:.0f} s per seed: {args.baseline_slope / per_seed:.1f}x less "
              f"(target: at least 3x: {'met' if args.baseline_slope / per_seed >= 3 else 'NOT met'})")
        result["growth"] = {"studies": growth, "seconds_per_seed": per_seed, "fixed_seconds": fixed,
                            "baseline_seconds_per_seed": args.baseline_slope}
    result["against_before"] = against_before(result)
    if result["against_before"]:
        print("\nEach config end to end against its time before issue 24 (ratio: now / before; lower is faster)")
        for r in result["against_before"]:
            growth_text = f"; {r['seconds_per_seed']:.1f} s per seed" if "seconds_per_seed" in r else ""
            print(f"  {r['config']:14s} {r['now_s']:5.0f} s, before {r['before_s']:5.0f} s ({r['before_source']}): "
                  f"ratio {r['ratio']:.2f}; limit {r['limit_s']:.0f} s: {'met' if r['met'] else 'NOT met'}"
                  f"{growth_text}")
    memory = [s["peak_job_memory_mb"] for s in studies + runs + diagnoses + growth + list(ports.values())]
    if memory:
        print(f"\nLargest peak memory of any job: {max(memory):.0f} MB (limit 1.5 GB: "
              f"{'met' if max(memory) <= 1536 else 'NOT met'})")
    repo_dir.cleanup()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
