"""The package's import graph: no circles, and every arrow points down the layers.

Imports are read from the source (``ast``), including imports inside functions, so a
lazy import that goes up a layer counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "recutils"

#: Module-name prefixes by layer, lowest first. A module may import its own layer or a
#: lower one. The longest matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    (
        "recutils",
        "recutils.constants",
        "recutils.exceptions",
        "recutils.protocols",
        "recutils.config",
        "recutils.utils",
    ),
    ("recutils.datasets", "recutils.splitting", "recutils.evaluation", "recutils.spark"),
    ("recutils.nn",),
    ("recutils.models", "recutils.retrieval"),
    (
        "recutils.spark.batch",
        "recutils.serving",
        "recutils.tuning",
        "recutils.benchmark",
        "recutils.testing",
    ),
    # entry points: the command line, and the old module paths of its subcommands
    (
        "recutils.cli",
        "recutils.__main__",
        "recutils.spark.jobs",
        "recutils.spark.distributed",
        "recutils.tuning.worker",
    ),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes whose imports are not dependencies: ``if TYPE_CHECKING:`` blocks (never
    run) and module-level ``__getattr__`` functions (aliases kept for old import paths,
    resolved only when a caller asks for the old name)."""
    skipped: set[int] = set()
    for node in tree.body:
        is_type_checking = isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        )
        is_alias_hook = isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        if is_type_checking or is_alias_hook:
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _skipped(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [
                f"{module}.{alias.name}"
                for alias in node.names
                if f"{module}.{alias.name}" in modules
            ]
            # ``from package import submodule`` depends on the submodule; the package
            # itself only when a name defined in it is imported
            targets = submodules + ([module] if len(submodules) < len(node.names) else [])
        for target in targets:
            if target in modules and target != name:
                found.add(target)
    return found


def _layer(name: str) -> int:
    best, layer = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), i
    if layer is None:
        raise AssertionError(f"module {name} is in no layer: add it to LAYERS")
    return layer


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer(graph):
    for name in graph:
        _layer(name)


def test_imports_point_down(graph):
    upward = sorted(
        f"{a} (layer {_layer(a)}) -> {b} (layer {_layer(b)})"
        for a, targets in graph.items()
        for b in targets
        if _layer(b) > _layer(a)
    )
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_cycles(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
