"""Who may touch what between the manager, its connections and the operations (issue 12
item 4), read from the runtime's sources.

* Only the driver (:mod:`entanglement.protocol`) reaches into its sans-IO connection
  (``protocol.conn``): the manager and everything else go through ``SyncProtocol``'s
  own methods.
* ``_connections`` (the manager's table of live connections) is read only by the
  manager's own classes, as ``self._connections``: operations and stores use
  ``manager.connections`` and the manager's methods.
* The driver calls its manager only through :class:`~entanglement.protocol.
  ConnectionOwner`, the typed Protocol of the loop and three callbacks, which the
  ``SyncManager`` satisfies.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import entanglement
from entanglement import SyncManager
from entanglement.protocol import ConnectionOwner, SyncProtocol

ROOT = Path(entanglement.__file__).parent


def _sources() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(), filename=str(path))
        for path in sorted(ROOT.rglob("*.py"))
    }


def _attributes(tree: ast.Module, name: str) -> list[ast.Attribute]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == name
    ]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', '?')}"


def test_only_the_driver_reaches_into_its_connection() -> None:
    driver = Path(inspect.getfile(SyncProtocol))
    found = [
        _where(path, node)
        for path, tree in _sources().items()
        if path != driver
        for node in _attributes(tree, "conn")
    ]
    assert found == []


def test_only_the_manager_reads_its_connection_table() -> None:
    manager_modules = {
        Path(inspect.getfile(cls))
        for cls in SyncManager.__mro__
        if cls.__module__.startswith("entanglement")
    }
    found = []
    for path, tree in _sources().items():
        for node in _attributes(tree, "_connections"):
            by_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            if path not in manager_modules or not by_self:
                found.append(_where(path, node))
    assert found == []
    assert manager_modules  # the rule looked at something


def _owner_members() -> set[str]:
    return {
        name
        for name in vars(ConnectionOwner)
        if not name.startswith("__")
        and not name.startswith("_abc")
        and name not in {"_is_protocol", "_is_runtime_protocol"}
    }


def test_the_driver_calls_its_manager_only_through_connection_owner() -> None:
    members = _owner_members()
    assert members == {
        "loop",
        "_connection_made",
        "_receive_events",
        "_connection_lost",
    }
    hints = typing.get_type_hints(SyncProtocol.__init__)
    assert hints["manager"] is ConnectionOwner
    tree = ast.parse(Path(inspect.getfile(SyncProtocol)).read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "manager"
    }
    assert used
    assert used <= members, used - members


def test_the_manager_is_a_connection_owner() -> None:
    declared = {
        name
        for cls in SyncManager.__mro__
        for name in vars(cls).get("__annotations__", {})
    }
    assert "loop" in declared  # an attribute each manager sets
    for name in _owner_members() - {"loop"}:
        assert callable(getattr(SyncManager, name, None)), name
    for name in ("_connection_made", "_receive_events", "_connection_lost"):
        wanted = list(inspect.signature(getattr(ConnectionOwner, name)).parameters)
        given = list(inspect.signature(getattr(SyncManager, name)).parameters)
        assert given == wanted, name
