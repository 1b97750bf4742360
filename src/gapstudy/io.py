"""Atomic writes: a killed job never leaves a half-written output behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """This process's umask, read without changing it where Linux tells it (else set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    ``mkstemp`` creates its file private (0600) and the rename keeps that
    mode; the file gets the mode any new file gets under the user's umask
    (0644 under 022) before it is renamed, so colleagues on a shared project
    directory can read it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n")


def open_log(path):
    """Send stdout, stderr and a timestamped ``log()`` to the job's log file.

    Returns ``log(message)``, which flushes at once so that ``tail -f`` on the
    log shows a job's epochs while it runs.
    """
    import sys
    import time

    handle = open(path, "a", buffering=1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Native libraries (TensorFlow's C++ logging) write to the file
    # descriptors, not to sys.stderr: point both at the log as well.
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle

    def log(message: str) -> None:
        handle.write(f"{time.strftime('%H:%M:%S')} {message}\n")
        handle.flush()

    if "SLURM_JOB_ID" in os.environ:  # a cluster job: which one, where
        import socket

        log(f"SLURM_JOB_ID={os.environ['SLURM_JOB_ID']} on {socket.gethostname()}")
    return log


# What a run of the workflow needs from the repository (src: a copy runs its own package, on PYTHONPATH).
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "report", "src", "profiles", "examples")


def copy_workflow(root: Path, dest: Path) -> Path:
    """Copy the workflow from ``root`` into ``dest``: a scratch copy to run or benchmark."""
    for part in WORKFLOW_PARTS:
        src = Path(root) / part
        if src.is_dir():
            shutil.copytree(src, Path(dest) / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, Path(dest) / part)
    return Path(dest)
