"""A live Python node for the Node tests of the generated TypeScript packages.

``python py_node.py DATABASE`` starts a SyncServer with the generated ``presence``
(memory) and ``exercise`` (SQL, in the SQLite file DATABASE) registries, accepts
WebSocket peers on 127.0.0.1 (a free port) and prints ``{"port": N}`` on one line once
it listens.  It stops, closing everything, when its standard input closes.

Sessions: ``?user=NAME`` names the peer; ``blue-*``, ``red-*`` and ``staff-*`` users
are let in (the exercise's policy hooks read the side from the name), anyone else gets
HTTP 403.  Each session is a ``SqlSyncDestination``, so SQL peers catch up (§12.8).

What the node does with what it receives, so that a test can see it was understood:

* a ``Cursor`` on board ``echo``: it answers with its own cursor on ``echo-reply`` for
  the same participant, at ``x + 1``;
* ``burst``: it counts them; when ``x`` is 199 it sends a ``burst-count`` cursor whose
  ``x`` is how many ``burst`` messages arrived;
* ``vanish``: it sends a ``vanished`` cursor of its own, then deletes it;
* ``drop``: it drops the sender's connection (once per participant);
* a ``Position`` or ``Beacon``: a copy for another participant (UUID v5 of the first),
  ``room`` + ``-echo``; a Position's ``zones`` get ``"echo"`` and its ``signal``
  ``{"echo": -1}``; a Beacon's icon bytes are reversed;
* a ``Ping``: a ``pong`` ping whose payload is ``{"echo": <payload>}``.

The exercise database starts with two blue teams, a red team, a blue participant with
an avatar and a blue virtual machine (a datetime with milliseconds, a json ``specs``).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import sys
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "generated"))

import sqlalchemy as sa  # noqa: E402
from exercise_sync import (  # noqa: E402
    Base,
    Participant,
    Side,
    Team,
    VirtualMachine,
)
from exercise_sync import new_registry as exercise_registry  # noqa: E402
from presence_sync import Beacon, Cursor, Ping, Position  # noqa: E402
from presence_sync.registry import PresenceRegistry  # noqa: E402

from entanglement._hashes import DestHash  # noqa: E402
from entanglement.network import SyncServer  # noqa: E402
from entanglement.sql import SqlSyncDestination, SqlSyncRegistry  # noqa: E402
from entanglement.websocket import WebSocketRequest, serve_websocket  # noqa: E402

SIDES = ("blue-", "red-", "staff-")
SqlSyncDestination.you_have_timeout = 0.0


def mirrored(participant: uuid.UUID) -> uuid.UUID:
    """The participant the node's copies of a position belong to."""
    return uuid.uuid5(participant, "echo")


class EchoPresence(PresenceRegistry):
    """The generated presence registry, answering what it receives (see above)."""

    def __init__(self) -> None:
        super().__init__()
        for cls in (Cursor, Position, Beacon, Ping):
            self.register_syncable(cls.sync_type, cls)
        self.bursts: Counter[uuid.UUID] = Counter()
        self.dropped: set[uuid.UUID] = set()

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        super().incoming_sync(obj, **info)
        reply = self.reply_to(obj, info)
        if reply is not None and self.manager is not None:
            self.manager.create_task(self.send_when_live(reply, info["sender"]))

    async def send_when_live(self, reply: Any, sender: Any) -> None:
        """Flood ``reply`` once the sender's connection is live: a flood reaches live
        connections only, and the first messages of a peer arrive while its
        ``connected()`` (the SQL resync) still runs."""
        manager = self.manager
        for _ in range(500):
            if any(p.dest is sender for p in manager.connections):
                break
            await asyncio.sleep(0.01)
        self.store_synchronize(reply)

    def reply_to(self, obj: Any, info: dict[str, Any]) -> Any:
        if isinstance(obj, Cursor):
            return self.cursor_reply(obj, info)
        if isinstance(obj, Beacon):
            icon = bytes(reversed(obj.icon)) if obj.icon is not None else None
            return Beacon(
                participant=mirrored(obj.participant),
                room=f"{obj.room}-echo",
                x=obj.x,
                y=obj.y,
                heading=obj.heading,
                updated_at=obj.updated_at,
                label=obj.label,
                icon=icon,
                zones=obj.zones,
                signal=obj.signal,
                battery_volts=obj.battery_volts,
            )
        if isinstance(obj, Position):
            return Position(
                participant=mirrored(obj.participant),
                room=f"{obj.room}-echo",
                x=obj.x,
                y=obj.y,
                heading=obj.heading,
                updated_at=obj.updated_at,
                zones=[*obj.zones, "echo"],
                signal={**obj.signal, "echo": -1},
            )
        if isinstance(obj, Ping) and obj.board == "ping":
            return Ping(
                participant=obj.participant,
                board="pong",
                x=obj.x,
                y=obj.y,
                payload={"echo": obj.payload},
            )
        return None

    async def show_then_delete(self, cursor: Cursor, sender: Any) -> None:
        """Send ``cursor``, then delete it (the owner's ``delete``, §10.5)."""
        await self.send_when_live(cursor, sender)
        await asyncio.sleep(0.05)
        self.remove_from_store(cursor)
        self.manager.synchronize(cursor, operation="delete")

    def cursor_reply(self, obj: Cursor, info: dict[str, Any]) -> Cursor | None:
        if obj.board == "drop":
            protocol = info["sender"].protocol
            if protocol is not None and obj.participant not in self.dropped:
                self.dropped.add(obj.participant)  # once: the client sends it again
                asyncio.get_running_loop().call_soon(protocol.abort)
            return None
        if obj.board == "vanish":
            reply = Cursor(participant=obj.participant, board="vanished", side=obj.side)
            self.manager.create_task(self.show_then_delete(reply, info["sender"]))
            return None
        if obj.board == "burst":
            self.bursts[obj.participant] += 1
            if obj.x != 199.0:
                return None
            board, x = "burst-count", float(self.bursts.pop(obj.participant))
        elif obj.board == "echo":
            board, x = "echo-reply", obj.x + 1
        else:
            return None
        return Cursor(
            participant=obj.participant,
            board=board,
            x=x,
            y=obj.y,
            color=obj.color,
            side=obj.side,
        )


def find_destination(request: WebSocketRequest) -> SqlSyncDestination | None:
    """``?user=blue-ann`` → that user's session; unknown sides are refused."""
    query = urllib.parse.urlsplit(request.path).query
    users = urllib.parse.parse_qs(query).get("user", [])
    if not users or not users[0].startswith(SIDES):
        return None
    return SqlSyncDestination(DestHash.from_string(f"browser:{users[0]}"), users[0])


def seed(registry: Any, manager: Any) -> None:
    """The exercise's first rows, committed through the node (serials allocated)."""
    with registry.sessionmaker(manager=manager) as session:
        blue = Team(name="blue team", side=Side.BLUE, motto="hold the line")
        red = Team(name="red team", side=Side.RED)
        reserve = Team(name="blue reserve", side=Side.BLUE)  # changed by one test only
        session.add_all([blue, red, reserve])
        session.flush()
        alice = Participant(
            team=blue.id,
            side=Side.BLUE,
            callsign="alice",
            avatar=b"\x89PNG\r\n\x1a\n\x00\xff",
            joined_on=datetime.date(2024, 5, 1),
        )
        vm = VirtualMachine(
            hostname="web01",
            address="10.0.0.5",
            team=blue.id,
            side=Side.BLUE,
            hypervisor="kvm",
            specs={"cpus": 4, "tags": ["dmz", "caf\u00e9"]},
            snapshot_taken_at=datetime.datetime(
                2024, 5, 1, 12, 0, 0, 250000, tzinfo=datetime.UTC
            ),
        )
        session.add_all([alice, vm])
        session.commit()


async def main(database: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="py_node: %(name)s: %(message)s")
    engine = sa.create_engine(f"sqlite:///{database}")
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    exercise = exercise_registry(bind=engine)
    manager: Any = SyncServer(None, 0, registries=[EchoPresence(), exercise])
    try:
        seed(exercise, manager)
        listener = await serve_websocket(manager, find_destination)
        port = listener.sockets[0].getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin
    finally:
        await manager.aclose()
        manager.session.close()
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
