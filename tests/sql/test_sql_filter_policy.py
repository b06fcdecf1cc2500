"""A schema's ``policy.filter`` end to end: schema → generated registry → peers over TLS.

The schema below names :func:`guest_filter` (in this module) as its registry's filter.
The package is built with the generator into a temporary directory and imported; three
SQL nodes on SQLite files or PostgreSQL run it: the owner ``o``, a ``staff-s`` peer that
the filter leaves unfiltered and a ``guest-g`` peer that holds only public cards.  Plain
SqlSyncDestinations everywhere: the generated registry applies the filter (catch-up,
admission, withdrawal).  Also: a bad ``filter:`` value is a located schema error, and a
name the module does not define gets a did-you-mean.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sql_helpers import run, wait_until

from entanglegen.build import build
from entanglegen.diagnostics import format_text
from entanglement.filter import Filter, FilterBase
from entanglement.network import SyncServer
from entanglement.sql import (
    SqlSyncDestination,
    SqlSyncRegistry,
    sync_manager_destinations,
)

SCHEMA = """\
registry: filterboard
package: filterboard_sync
storage: sql
policy:
  filter: {filter}
types:
  Card:
    primary_key: id
    properties:
      id: {{type: uuid, default: random}}
      label: {{type: str, length: 100}}
"""


def guest_filter(destination: Any) -> FilterBase | None:
    """Staff peers see every card; any other peer only the public ones."""
    if destination.name.startswith("staff-"):
        return None
    return Filter(lambda card: card.label.startswith("public"))


def _build(tmp_path: Path, dotted: str) -> Any:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "board.yaml").write_text(SCHEMA.format(filter=dotted))
    return build([tmp_path / "s"], root=tmp_path)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("filterboard")
    result = _build(tmp_path, f"{__name__}.guest_filter")
    assert result.ok, [format_text(d) for d in result.diagnostics]
    registry_code = result.files["filterboard_sync/registry.py"].decode()
    assert "SqlFilterPolicy" in registry_code
    out = tmp_path / "out"
    for name, data in result.files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("filterboard_sync")
    finally:
        sys.path.remove(str(out))


class Node:
    def __init__(self, package: Any, name: str, url: str, pki_node: Any) -> None:
        self.package, self.name, self.pki_node = package, name, pki_node
        self.engine = sa.create_engine(url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        package.Base.metadata.create_all(self.engine)
        self.registry = package.new_registry(bind=self.engine)
        self.manager: Any = None
        self.port = 0

    async def start(self) -> Node:
        node = self.pki_node
        self.manager = SyncServer(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=[self.registry]
        )
        listener = await self.manager.listen_ssl(0, "127.0.0.1")
        self.port = int(listener.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)
        return self

    async def stop(self) -> None:
        await self.manager.aclose()
        self.manager.session.close()
        self.engine.dispose()

    def know(self, other: Node, *, connect: bool) -> None:
        with sa.orm.Session(self.engine) as session:
            host, port = ("127.0.0.1", other.port) if connect else (None, None)
            session.add(
                SqlSyncDestination(
                    other.pki_node.hash, other.name, host=host, port=port
                )
            )
            session.commit()
        sync_manager_destinations(self.manager)

    def labels(self) -> set[str]:
        with sa.orm.Session(self.engine) as session:
            return set(session.scalars(sa.select(self.package.Card.label)))

    def commit(self, **labels: str) -> None:
        """Add cards (key → label) or relabel them (old label → new label)."""
        Card = self.package.Card
        with self.registry.sessionmaker(manager=self.manager) as session:
            for old, new in labels.items():
                card = session.scalars(sa.select(Card).where(Card.label == old)).first()
                if card is None:
                    session.add(Card(label=new))
                else:
                    card.label = new
            session.commit()


def test_generated_registry_filters_its_rows(
    package: Any, pki: Any, db_factory: Any
) -> None:
    async def scenario() -> None:
        names = (("o", "a"), ("staff-s", "b"), ("guest-g", "c"))
        o, s, g = [
            await Node(package, name, db_factory(name), pki[key]).start()
            for name, key in names
        ]
        try:
            o.commit(a="public agenda", b="secret salaries")
            for peer in (s, g):
                o.know(peer, connect=False)
                peer.know(o, connect=True)
            await wait_until(lambda: s.labels() == {"public agenda", "secret salaries"})
            await wait_until(lambda: g.labels() == {"public agenda"})

            o.commit(**{"public agenda": "secret agenda", "c": "public menu"})
            await wait_until(lambda: g.labels() == {"public menu"})
            await wait_until(
                lambda: s.labels()
                == {"secret agenda", "secret salaries", "public menu"}
            )
        finally:
            for node in (g, s, o):
                await node.stop()

    run(scenario())


def test_filter_value_is_checked_with_its_place(tmp_path: Path) -> None:
    result = _build(tmp_path, "not a dotted path")
    assert not result.ok
    [text] = [format_text(d) for d in result.diagnostics]
    assert "board.yaml:5:" in text
    assert "[policy.filter]" in text


def test_filter_name_missing_from_its_module(tmp_path: Path) -> None:
    result = _build(tmp_path, f"{__name__}.guest_filtr")
    assert not result.ok
    [text] = [format_text(d) for d in result.diagnostics]
    assert "board.yaml:5:" in text
    assert f"did you mean {__name__}.guest_filter?" in text


def test_memory_registry_gets_a_filter_policy(tmp_path: Path) -> None:
    from entanglement.filter import FilterPolicy
    from entanglement.network import SyncDestination

    (tmp_path / "s").mkdir()
    text = SCHEMA.format(filter=f"{__name__}.guest_filter")
    text = text.replace("filterboard", "memboard").replace(
        "storage: sql", "storage: memory"
    )
    (tmp_path / "s" / "board.yaml").write_text(text)
    result = build([tmp_path / "s"], root=tmp_path)
    assert result.ok, [format_text(d) for d in result.diagnostics]
    out = tmp_path / "out"
    for name, data in result.files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    sys.path.insert(0, str(out))
    try:
        pkg = importlib.import_module("memboard_sync")
    finally:
        sys.path.remove(str(out))
    registry = pkg.new_registry()
    assert isinstance(registry.sync_filter_policy, FilterPolicy)
    guest = SyncDestination(None, "guest-x")
    staff = SyncDestination(None, "staff-x")
    shown, hidden = pkg.Card(label="public menu"), pkg.Card(label="secret plan")
    info = {"operation": "sync", "manager": None}
    assert registry.should_send(shown, guest, **info)
    assert not registry.should_send(hidden, guest, **info)
    assert registry.should_send(hidden, staff, **info)
