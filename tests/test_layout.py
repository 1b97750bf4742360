"""The package's layout is its architecture: layers import downwards only, and no module imports itself back.

The layers, lowest first (README, "Where things are"): the workflow-wide names
(``registry``, ``variants``, ``io``, ``sources``), the frameworks, the trace
engine, the statistics, the report's shared parts, the config check, the
studies, and the benchmark on top. A module may import its own layer and the
layers below it, never above; and the import graph (lazy imports too, as
``gapstudy.sources`` reads them for the rules' code hashes) has no cycle.
"""

from gapstudy import sources

LAYERS = (
    ("gapstudy.registry", "gapstudy.variants", "gapstudy.io", "gapstudy.sources"),
    ("gapstudy.frameworks",),
    ("gapstudy.trace",),
    ("gapstudy.statistics",),
    ("gapstudy.report",),
    ("gapstudy.config",),
    ("gapstudy.studies",),
    ("gapstudy.benchmark",),
)


def modules() -> list[str]:
    root = sources.package_root()
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return -1  # the package's own __init__


def imports(module: str) -> set[str]:
    """The gapstudy modules ``module`` imports by name (its packages' ``__init__`` not counted)."""
    return {m for m in sources.imported_modules(sources.module_path(module))
            if sources.module_path(m).name != "__init__.py"}


def test_every_module_has_a_layer():
    assert [m for m in modules() if layer(m) < 0] == ["gapstudy"]


def test_layers_import_downwards_only():
    upward = sorted(f"{m} -> {n}" for m in modules() for n in imports(m) if layer(n) > layer(m))
    assert not upward, upward


def test_no_import_cycle():
    graph = {m: imports(m) for m in modules()}
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        state[m] = "done"
        path.pop()

    for m in graph:
        if m not in state:
            visit(m)


def test_the_trainers_import_their_model_not_each_other():
    # The two circles this layout removed: each fast path imports the model module, the trainer the fast path.
    fw = "gapstudy.frameworks."
    assert fw + "train_keras" not in imports(fw + "keras_stacked")
    assert fw + "train_torch" not in imports(fw + "torch_stacked")
    assert {fw + "keras_model", fw + "keras_stacked"} <= imports(fw + "train_keras")
    assert {fw + "torch_model", fw + "torch_stacked"} <= imports(fw + "train_torch")
