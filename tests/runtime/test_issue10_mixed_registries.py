"""Issue 10 item 6: a memory registry and an SQL registry on one manager work together.

Both register a class under the wire name ``SyncOwner`` (§12.3 and §13 give them
different attribute sets).  The first registry in the manager's list used to answer
for both: with the memory registry first, every SQL owner was refused
(``SyncOwner has no sync property 'id'``) and SQL sync silently stopped.  A received
``SyncOwner`` now goes to the class its attributes belong to, and a sent one is sent
with its own class's registry, whatever the order of the registries.
"""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql"))

from sql_helpers import SqlNode, add_teams, connected, run, shutdown
from sql_helpers import wait_until as wait_for_db

from entanglement.interface import sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncStoreRegistry
from entanglement.network import SyncServer
from entanglement.sql import sync_manager_destinations


class Marker(StoreInSyncStoreMixin):
    """An in-memory object next to the SQL rows."""

    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    label: str = sync_property()


class MixedNode(SqlNode):
    """An SQL node whose manager also carries a memory registry."""

    memory_first: bool = True

    async def start(self, port: int = 0) -> MixedNode:
        self.memory = SyncStoreRegistry()
        self.memory.register_syncable("Marker", Marker)
        registries: list[Any] = [self.registry]
        if self.memory_first:
            registries.insert(0, self.memory)
        else:
            registries.append(self.memory)
        node = self.pki_node
        self.manager = SyncServer(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=registries
        )
        self.manager.initial_backoff = 0.05
        server = await self.manager.listen_ssl(port, "127.0.0.1")
        self.port = int(server.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)
        return self


@pytest.mark.parametrize(
    "memory_first", [True, False], ids=["memory-first", "sql-first"]
)
def test_sql_and_memory_sync_side_by_side(pki, tmp_path, caplog, memory_first) -> None:
    async def scenario() -> None:
        nodes = []
        for name in ("a", "b"):
            node = MixedNode(
                name, f"sqlite:///{tmp_path / name}.sqlite", pki.nodes[name]
            )
            node.memory_first = memory_first
            nodes.append(await node.start())
        a, b = nodes
        try:
            add_teams(a, "a1", "a2")
            await connected(a, b)
            await wait_for_db(lambda: set(b.teams()) == {"a1", "a2"})
            add_teams(b, "b1")
            await wait_for_db(lambda: "b1" in a.teams())
            marker = Marker()
            marker.id, marker.label = uuid.uuid4(), "in memory"
            a.memory.store_synchronize(marker)
            store = b.memory.store_for_class(Marker)
            await wait_for_db(lambda: marker.id in store)
            assert store[marker.id].label == "in memory"
            add_teams(a, "a3")  # SQL still flows after memory owners crossed
            await wait_for_db(lambda: "a3" in b.teams())
        finally:
            await shutdown(a, b)

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "rejected" not in caplog.text
    assert "has no sync property" not in caplog.text
