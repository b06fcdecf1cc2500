"""An owner arriving while a new connection's owner offer drains reaches it (§12.8.1).

G's connection to C is set up (C is not live at G yet) while G learns O's owner from O:
the owner's flood (§12.8.2 step 6) skips C.  The set-up is held right after its drain
until G holds O's owner, which makes the race certain; the offer must then include O's
owner, so C gets O's rows without waiting for a reconnect.  Over TLS on SQLite files and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sql_helpers import SqlNode, add_teams, run, shutdown, wait_until

from entanglement.sql import SqlSyncDestination, sync_manager_destinations


class HeldSetup(SqlSyncDestination):
    """A destination whose first connect-time drain waits for ``gate`` afterwards."""

    __mapper_args__ = {"polymorphic_identity": "HeldSetup"}  # noqa: RUF012
    gate: asyncio.Event | None = None
    held = False

    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        drain = protocol.sync_drain

        async def held_drain() -> None:
            await drain()
            gate = type(self).gate
            if gate is not None and not type(self).held:
                type(self).held = True
                await gate.wait()

        protocol.sync_drain = held_drain
        try:
            return await super().connected(manager, protocol, bwprotocol)
        finally:
            del protocol.sync_drain


def know(
    node: SqlNode, other: SqlNode, *, connect: bool, cls: type = SqlSyncDestination
) -> None:
    with node.plain() as session:
        host, port = ("127.0.0.1", other.port) if connect else (None, None)
        session.add(cls(other.hash, other.name, host=host, port=port))
        session.commit()
    sync_manager_destinations(node.manager)


def test_owner_learned_during_the_offer_is_offered(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        o, g, c = [
            await SqlNode(name, db_factory(name), pki[key]).start()
            for name, key in (("o", "a"), ("g", "b"), ("c", "c"))
        ]
        HeldSetup.gate, HeldSetup.held = asyncio.Event(), False
        try:
            add_teams(o, "x", "y")
            know(g, c, connect=True, cls=HeldSetup)
            know(c, g, connect=False)
            await wait_until(lambda: HeldSetup.held)  # G's offer to C is out
            know(o, g, connect=False)
            know(g, o, connect=True)
            await wait_until(lambda: o.local_owner().id in g.owner_ids())
            HeldSetup.gate.set()
            await wait_until(lambda: set(c.teams()) == {"x", "y"})
            assert o.local_owner().id in c.owner_ids()
        finally:
            HeldSetup.gate = None
            await shutdown(c, g, o)

    run(scenario())
