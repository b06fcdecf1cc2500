"""Transports reach the manager through its public transport API only (issue 12 item 4).

The WebSocket server and connector are plug-ins beside the TLS and unix listeners:
they use ``manager.serve_incoming``, ``manager.closing`` and ``add_listener``, never the
manager's private attributes, so the manager's internals can change without them.
Read from the sources (an attribute reached through ``manager.`` or ``self.manager.``
whose name starts with ``_``, dunders aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import entanglement

ROOT = Path(entanglement.__file__).parent
TRANSPORTS = ("websocket.py", "websocket_sql.py", "websocket_transport.py")


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__"):
            continue
        owner = ast.unparse(node.value)
        if owner.split(".")[-1] in ("manager", "srv", "server"):
            found.append(f"{path.name}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_transports_use_no_private_manager_attribute() -> None:
    found = [use for name in TRANSPORTS for use in _private_uses(ROOT / name)]
    assert found == []


def test_the_check_finds_a_private_use(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(manager):\n    return manager._closing\n")
    assert _private_uses(sample) == ["sample.py:2: manager._closing"]
