"""No import circle in src/datawharf: no module imports, directly or through others, a module that imports
it back, whether at module level or deferred into a function (the usual way of hiding one). A circle makes
the load order matter and the layers blur; the last one (``connections_bridge`` <-> ``datasets/sources``)
went with the typed datasource road (``datasets/locate.py``)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "datawharf"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Every import a module may run: at module level, and those deferred into a function too (a
    deferred import only hides a circle: ``connections_bridge`` <-> ``datasets/sources`` was one). Only
    ``if TYPE_CHECKING`` blocks, never run, are left out."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            found += _imports(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                found += _imports([n for n in inner if isinstance(n, ast.stmt)])
                found += _imports([s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body])
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in paths)
                continue
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in paths:
                    edges.add(f"{base}.{alias.name}")
                elif base in paths:
                    edges.add(base)
        graph[name] = edges - {name}
    return graph


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "datawharf.datasets.locate" in graph["datawharf.datasets.sources"]
    assert "datawharf.connections.scope" in graph["datawharf.datasets.locate"]
    assert len(graph) > 100


def test_no_import_circle() -> None:
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as error:
        raise AssertionError(f"import circle: {' -> '.join(error.args[1])}") from None


def test_a_circle_is_seen() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        assert set(error.args[1]) == {"a", "b", "c"}
    else:
        raise AssertionError("the circle a -> b -> c -> a was not seen")
