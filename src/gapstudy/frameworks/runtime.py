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


def _cpuinfo(*keys: str) -> str | None:
    """The value of the first /proc/cpuinfo line that starts with one of ``keys`` (None where there is none)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith(keys):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


# The x86 instruction-set flags that decide which kernels oneDNN (TensorFlow, PyTorch) and MKL run.
ISA_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "asimd", "sve")


# oneDNN's names (``ONEDNN_MAX_CPU_ISA``) for the instruction sets of its float32 kernels on the
# x86 CPUs this project runs on (AVX2 or AVX-512), and the flags each needs
# (tests/test_cpu_isa.py runs the Keras fast paths under each).
ONEDNN_ISAS = {
    "AVX2": {"avx2", "fma"},
    "AVX512_CORE": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
}


def cpu_flags() -> list[str]:
    """The ``ISA_FLAGS`` this CPU has (from /proc/cpuinfo; empty where it cannot be read)."""
    have = set((_cpuinfo("flags", "Features") or "").split())
    return [flag for flag in ISA_FLAGS if flag in have]


def onednn_setting() -> str:
    """How TensorFlow's oneDNN kernels run in this process: "on", "on, at most ISA" or "off".

    TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` (on by default on x86) and
    oneDNN ``ONEDNN_MAX_CPU_ISA`` when they first run; oneDNN then picks
    each kernel by the CPU's instruction set, so the same code on another CPU
    may round differently (README, "What bit for bit means").
    """
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false", "off"):
        return "off"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip()
    return f"on, at most {cap}" if cap and cap.upper() != "DEFAULT" else "on"


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


def version_columns() -> dict:
    """The framework versions a table of runs carries in its columns: ``torch``, ``tensorflow`` (the CPU
    build's where that is what is installed) and ``keras``."""
    found = versions()
    return {"torch": found.get("torch"), "tensorflow": found.get("tensorflow") or found.get("tensorflow-cpu"),
            "keras": found.get("keras")}


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
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "onednn": onednn_setting(),
        "distributions": all_distributions(),
        "code": sources.identity(),
    }
