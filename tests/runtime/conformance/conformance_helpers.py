"""Our side of the conformance tests: a real SyncServer/SyncManager with in-memory classes.

The foreign side is :mod:`raw_peer` (no entanglement imports).  The classes here give
the wire every value encoding of §8.4: UUID, datetime, binary and DestHash, plus
``TableInherits`` shaped like the §3.2 example rows.
"""

from __future__ import annotations

import datetime
import sys
import uuid
from pathlib import Path
from typing import Any

from entanglement import DestHash
from entanglement.interface import sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncOwner, SyncStoreRegistry
from entanglement.network import SyncDestination, SyncManager, SyncServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "net"))
from net_helpers import PortDestination, port_of, run, wait_until

__all__ = [
    "ConfRegistry",
    "PortDestination",
    "Record",
    "TableInherits",
    "our_manager",
    "our_server",
    "run",
    "wait_until",
]


class TableInherits(StoreInSyncStoreMixin):
    """Shaped like the §3.2 example row."""

    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    type: str = sync_property()
    info: str = sync_property()
    info2: str | None = sync_property()
    sync_serial: int = sync_property()

    def __init__(self) -> None:
        # The owner's node assigns the key of a row created on request (``create``).
        self.id = uuid.uuid4()


class Record(StoreInSyncStoreMixin):
    """One attribute per value codec."""

    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    when: datetime.datetime = sync_property()
    blob: bytes = sync_property()
    peer: DestHash = sync_property()
    text: str = sync_property()
    ratio: float = sync_property()


class ConfRegistry(SyncStoreRegistry):
    """The standard operations over in-memory stores of the two classes.

    As an application choice, a SyncOwner received from one neighbour is passed on to
    the others, so that a node behind a gateway can accept the owner's objects.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_syncable("TableInherits", TableInherits)
        self.register_syncable("Record", Record)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        super().incoming_sync(obj, **info)
        if isinstance(obj, SyncOwner) and not obj.sync_is_local:
            self.manager.synchronize(obj, exclude=[info["sender"]])

    def store(self, cls: type) -> Any:
        return self.store_for_class(cls)


async def our_server(node: Any, foreign: Any) -> tuple[SyncServer, ConfRegistry, int]:
    """A listening SyncServer that knows ``foreign`` (a PKI node) as destination "F"."""
    reg = ConfRegistry()
    srv = SyncServer(node.cert, 0, key=node.key, cafile=node.cafile, registries=[reg])
    await srv.listen_ssl(0, "127.0.0.1")
    srv.add_destination(SyncDestination(foreign.hash, "F"))
    return srv, reg, port_of(srv)


def our_manager(node: Any) -> tuple[SyncManager, ConfRegistry]:
    reg = ConfRegistry()
    mgr = SyncManager(node.cert, 0, key=node.key, cafile=node.cafile, registries=[reg])
    return mgr, reg


def live(mgr: SyncManager) -> bool:
    return bool(mgr.connections)
