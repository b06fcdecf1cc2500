"""Gate 3, in memory: the generated presence package between two managers over TLS."""

from __future__ import annotations

import asyncio
import decimal
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from exercise_sync import Side
from presence_sync import Beacon, Cursor, Ping, Position, new_registry

from entanglegen import example_hooks
from entanglement.network import SyncDestination, SyncManager, SyncServer


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    # Stores signal nothing; the scenario timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


class PortDestination(SyncDestination):
    def __init__(self, dest_hash: Any, name: str, port: int) -> None:
        super().__init__(dest_hash, name, host="127.0.0.1")
        self.port = port


async def _connect(srv: SyncServer, cli: SyncManager, a: Any, b: Any) -> None:
    listener = await srv.listen_ssl(0, "127.0.0.1")
    port = int(listener.sockets[0].getsockname()[1])
    srv.add_destination(SyncDestination(b.hash, "staff-b"))
    task = cli.add_destination(PortDestination(a.hash, "staff-a", port))
    if task is not None:
        await task
    await wait_until(lambda: bool(srv.connections) and bool(cli.connections))


def test_presence_objects_round_trip(pki: dict[str, Any]) -> None:
    async def scenario() -> None:
        ra, rb = new_registry(), new_registry()
        a, b = pki["a"], pki["b"]
        srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
        cli = SyncManager(b.cert, 0, key=b.key, cafile=b.cafile, registries=[rb])
        async with srv, cli:
            await _connect(srv, cli, a, b)
            who = uuid.uuid4()
            cursor = Cursor(
                participant=who, board="map", color=0x112233, side=Side.BLUE
            )
            ra.store_synchronize(cursor)
            cursors = rb.store_for_class(Cursor)
            await wait_until(lambda: (who, "map") in cursors)
            got = cursors[(who, "map")]
            assert got is not cursor
            assert (got.participant, got.board, got.x, got.y) == (who, "map", 0.0, 0.0)
            assert (
                got.color == 0x112233
            )  # custom encoder/decoder, "#112233" on the wire
            assert got.side is Side.BLUE  # an enum of another registry

            # Many updates a second: whatever coalesces, the last one wins.
            for step in range(300):
                cursor.x, cursor.y = float(step), -float(step)
                ra.store_synchronize(cursor)
            await wait_until(lambda: cursors[(who, "map")].x == 299.0)
            assert cursors[(who, "map")].y == -299.0

            # Inheritance: a Beacon lives in its parent's store and keeps its own fields.
            beacon = Beacon(
                participant=uuid.uuid4(),
                room="hall",
                x=1,
                y=2,
                label="door",
                icon=b"\x00\xff",
                battery_volts=decimal.Decimal("3.70"),
                zones=["hall", "east"],
                signal={"ap1": -40, "ap2": -71},
            )
            ra.store_synchronize(beacon)
            positions = rb.store_for_class(Position)
            await wait_until(lambda: beacon.participant in positions)
            far = positions[beacon.participant]
            assert type(far) is Beacon
            assert (far.label, far.icon, far.room, far.heading) == (
                "door",
                b"\x00\xff",
                "hall",
                None,
            )
            assert far.updated_at == beacon.updated_at
            # decimals are exact, digits included ("3.70" on the wire); lists and maps
            # arrive typed and as fresh objects
            assert str(far.battery_volts) == "3.70"
            assert (far.zones, far.signal) == (
                ["hall", "east"],
                {"ap1": -40, "ap2": -71},
            )
            assert far.zones is not beacon.zones

            # Values that do not fit are refused by the receiver, never converted:
            # a third decimal place, a list item of another type.
            beacon.battery_volts = decimal.Decimal("3.705")
            ra.store_synchronize(beacon)
            other = Position(participant=uuid.uuid4(), room="bad", x=0, y=0)
            other.zones = [1, 2]  # type: ignore[list-item]
            ra.store_synchronize(other)
            marker = Position(participant=uuid.uuid4(), room="after", x=0, y=0)
            ra.store_synchronize(marker)
            await wait_until(lambda: marker.participant in positions)
            assert str(positions[beacon.participant].battery_volts) == "3.70"
            assert other.participant not in positions

            # A custom operation reaches the handler named in the schema, unflooded.
            example_hooks.NUDGES.clear()
            ping = Ping(
                participant=who,
                board="map",
                x=0.5,
                y=0.25,
                payload={"why": ["look"]},
                local_note="only here",
            )
            ra.store_synchronize(ping)
            srv.synchronize(ping, operation="nudge")
            await wait_until(lambda: len(example_hooks.NUDGES) == 1)
            received = example_hooks.NUDGES[0]
            assert type(received) is Ping
            assert received.payload == {"why": ["look"]}
            assert received.local_note == ""  # sync: false stays on its node
            assert "forward" not in rb.operations
            assert "create" not in rb.operations

    run(scenario())
