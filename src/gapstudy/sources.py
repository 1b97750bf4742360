"""The code a rule runs, as a content hash, and the workflow's code identity.

Snakemake reruns a rule when its script changes, not when a module the
script imports does. Each rule therefore gets, as a param, the sha256 of the
source of its script and of every ``gapstudy`` module the script reaches by
imports (``code_sha256``): an edit of ``stats.py`` changes the param of the
rules that run it, and only of those. A hash of contents, not the files'
modification times, so that a checkout, a copy or a touch that changes no
byte retrains nothing (README, "When results are rebuilt").

``identity`` is what a record and the report's provenance say about the
code: the git commit and whether the work tree differed from it, where the
package lives in a git checkout, and always the hash of the package source.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGE = "gapstudy"


@lru_cache(maxsize=None)
def package_root() -> Path:
    """The directory of the installed package (the one the jobs will import)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the package {PACKAGE!r} is not installed (pip install -e .)")
    return Path(spec.origin).parent


def module_path(module: str) -> Path | None:
    """The source file of a ``gapstudy`` module, found without importing it; None if no such module."""
    parts = module.split(".")[1:]
    base = package_root().joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if parts and path.is_file() or not parts and path.name == "__init__.py" and path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """The ``gapstudy`` modules a source file imports, anywhere in it (lazy imports too)."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from gapstudy import stats`` names a module; ``from gapstudy.io import x`` a module's member.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if (n == PACKAGE or n.startswith(PACKAGE + ".")) and module_path(n))
    # Importing a module runs its packages' __init__ first.
    return found | {".".join(n.split(".")[:i]) for n in found for i in range(1, n.count(".") + 1)}


@lru_cache(maxsize=None)
def closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Every ``gapstudy`` module reached from ``roots`` (modules or source paths) by imports."""
    todo = [r for r in roots if not r.endswith(".py")]
    for root in roots:
        if root.endswith(".py"):
            todo.extend(imported_modules(Path(root)))
    seen = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(imported_modules(module_path(module)) - seen)
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def code_sha256(script: str, *modules: str) -> str:
    """sha256 over ``script`` and every module it, or one of ``modules``, reaches by imports."""
    digest = hashlib.sha256()
    files = [Path(script)] + [module_path(m) for m in closure((script, *modules))]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_sha256() -> str:
    """sha256 of every source file of the installed package, in path order."""
    root = package_root()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@lru_cache(maxsize=None)
def identity() -> dict:
    """The workflow's code: git commit and dirty flag where there is a checkout; the package's hash always."""
    root = package_root().parents[1]  # src/gapstudy → the checkout
    found = {"git_commit": None, "git_dirty": None, "package_sha256": package_sha256()}
    if (root / ".git").exists():
        commit = _git(root, "rev-parse", "HEAD")
        status = _git(root, "status", "--porcelain")
        if commit is not None and status is not None:
            found["git_commit"] = commit.strip()
            found["git_dirty"] = bool(status.strip())
    return found


def describe(identity: dict) -> str:
    """One line for the report: ``git abc123 (uncommitted changes)`` or ``source sha256 …``."""
    if identity.get("git_commit"):
        dirty = " with uncommitted changes" if identity.get("git_dirty") else ""
        return f"git commit {identity['git_commit'][:12]}{dirty}; package source sha256 {identity['package_sha256'][:12]}"
    return f"package source sha256 {identity['package_sha256'][:12]} (not a git checkout)"
