"""Thread pools, devices and library versions: what a run depends on besides its code."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

KNOWN_DEVICES = ("cpu", "cuda", "mps")


def limit_threads(threads: int) -> None:
    """Bound every thread pool to ``threads``; call before importing a framework.

    Snakemake schedules jobs by their ``threads:``; a job that uses more
    would oversubscribe the cores that ``--cores`` promised to others.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # JAX (Keras' JAX backend): the flags that ask XLA's CPU client for ``threads`` threads when JAX
    # starts. XLA may still run threads of its own beside them (jax-ml/jax#1539); a keras_jax job's
    # record has its CPU and wall time, which show what it took.
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
             if not f.startswith(("--xla_cpu_multi_thread_eigen", "intra_op_parallelism_threads"))]
    flags += [f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'}",
              f"intra_op_parallelism_threads={threads}"]
    os.environ["XLA_FLAGS"] = " ".join(flags)
    # cuBLAS needs this before CUDA starts for torch.use_deterministic_algorithms on a GPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def available_devices() -> list[str]:
    """The devices PyTorch can use on this machine, ``cpu`` first."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(packages=("numpy", "scipy", "scikit-learn", "torch", "tensorflow", "tensorflow-cpu", "keras",
                       "tf-keras", "jax", "jaxlib")) -> dict:
    """Python and the installed versions of the packages a run touches."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def all_distributions() -> dict:
    """Every installed distribution and its version, for the report."""
    return dict(
        sorted(
            (dist.metadata["Name"], dist.version)
            for dist in metadata.distributions()
            if dist.metadata["Name"]
        )
    )


def environment() -> dict:
    """This machine's Python, platform, devices and every installed distribution, and the workflow's code."""
    from gapstudy import sources

    found = versions()
    return {
        "python": found["python"],
        "platform": found["platform"],
        "devices_available": available_devices(),
        "distributions": all_distributions(),
        "code": sources.identity(),
    }
