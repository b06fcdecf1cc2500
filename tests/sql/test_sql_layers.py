"""The SQL package's layers and import graph, read from its sources (issue 12 item 4).

``entanglement.sql`` is split into ``schema`` < ``send`` < ``receive`` < ``resync``: a
sub-package imports only the ones before it, and no module of the package takes part in
an import cycle.  Imports under ``if TYPE_CHECKING:`` are left out (they never run); an
import inside a function counts (it runs, and it is how a hidden cycle would creep back).
"""

from __future__ import annotations

import ast
from pathlib import Path

import entanglement.sql

ROOT = Path(entanglement.sql.__file__).parent
LAYERS = ("schema", "send", "receive", "resync")
PREFIX = "entanglement.sql"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PREFIX, *parts])


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports at run time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in found if target in known and target != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, set(modules)) for name, path in modules.items()}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) > 2 and parts[2] in LAYERS:
        return LAYERS.index(parts[2])
    return None  # a public module at the top of the package


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_every_module_lives_in_a_layer_or_is_a_public_path() -> None:
    public = {
        f"{PREFIX}{suffix}"
        for suffix in (
            "",
            ".base",
            ".exact",
            ".internal",
            ".filter",
            ".meta",
            ".tables",
            ".transition",
            ".types",
            ".upgrade",
        )
    }
    stray = {name for name in _modules() if _layer(name) is None} - public
    assert not stray


def test_no_layer_imports_a_later_one() -> None:
    wrong = []
    for name, targets in _graph().items():
        layer = _layer(name)
        if layer is None:
            continue
        for target in targets:
            other = _layer(target)
            if other is None or other > layer:
                wrong.append(f"{name} imports {target}")
    assert not wrong


def test_the_package_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_check_sees_a_cycle_and_a_layer_breach() -> None:
    # the same functions on a made-up graph: a cycle and an upward import are found
    graph = {
        f"{PREFIX}.schema.a": {f"{PREFIX}.send.b"},
        f"{PREFIX}.send.b": {f"{PREFIX}.schema.a"},
    }
    assert _cycles(graph) == [sorted(graph)]
    assert _layer(f"{PREFIX}.send.b") == 1
    assert _layer(f"{PREFIX}.types") is None


def test_public_paths_name_the_layered_objects() -> None:
    from entanglement.sql import exact, filter, meta, tables, transition, types, upgrade
    from entanglement.sql.resync import destination
    from entanglement.sql.resync import filter as resync_filter
    from entanglement.sql.resync import meta as resync_meta
    from entanglement.sql.schema import exact as schema_exact
    from entanglement.sql.schema import tables as schema_tables
    from entanglement.sql.schema import types as schema_types
    from entanglement.sql.schema import upgrade as schema_upgrade
    from entanglement.sql.send import transition as send_transition

    pairs = [
        (types, schema_types),
        (tables, schema_tables),
        (upgrade, schema_upgrade),
        (meta, resync_meta),
        (transition, send_transition),
        (filter, resync_filter),
        (exact, schema_exact),
    ]
    for public, inner in pairs:
        for name in public.__all__:
            source = destination if name == "FilteredSqlSyncDestination" else inner
            assert getattr(public, name) is getattr(source, name), (public, name)
        assert set(inner.__all__) <= set(public.__all__), public
