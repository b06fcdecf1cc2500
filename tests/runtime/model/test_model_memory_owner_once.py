"""``store_synchronize`` sends the local owner once per connection, over real TLS.

Frames are counted on the receiving side: N updates of one object cost one owner frame
plus at most N object frames (coalescing may merge updates), a peer connecting later
still receives the owner before its first object, and a reconnect (a new connection)
gets the owner again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from entanglement.interface import sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncOwner, SyncStoreRegistry
from entanglement.network import SyncDestination, SyncManager, SyncServer


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    # The stores signal nothing; the scenario's timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


class LoggingRegistry(SyncStoreRegistry):
    """Records the sync_type of every accepted object, in arrival order."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[str] = []
        self.register_syncable("Pointer", Pointer)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        self.arrivals.append(obj.sync_type)
        super().incoming_sync(obj, **info)


class Pointer(StoreInSyncStoreMixin):
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    x: int = sync_property()


Pointer.sync_registry = (
    SyncStoreRegistry()
)  # the class needs one; peers register it too


async def start_server(pki: Any, registry: LoggingRegistry) -> tuple[SyncServer, int]:
    a = pki.nodes["a"]
    srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[registry])
    await srv.listen_ssl(0, "127.0.0.1")
    [listener] = srv.servers
    port: int = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    for name in ("b", "c"):
        srv.add_destination(SyncDestination(pki.nodes[name].hash, name))
    return srv, port


async def connect_client(
    pki: Any, name: str, port: int, srv: SyncServer
) -> tuple[SyncManager, LoggingRegistry]:
    node, a = pki.nodes[name], pki.nodes["a"]
    registry = LoggingRegistry()
    cli = SyncManager(node.cert, 0, key=node.key, cafile=node.cafile,
                      registries=[registry])  # fmt: skip
    to_a = SyncDestination(a.hash, "a", host="127.0.0.1")
    to_a.port = port  # type: ignore[attr-defined]
    await cli.add_destination(to_a)  # type: ignore[misc]
    await wait_until(
        lambda: any(p.dest_hash == node.hash for p in srv.connections)
        and len(cli.connections) == 1
    )
    return cli, registry


def received_frames(cli: SyncManager) -> int:
    [protocol] = cli.connections
    return protocol.conn.in_count


def replica_x(registry: LoggingRegistry, pointer: Pointer) -> Any:
    replica = registry.store_for_class(Pointer).get(pointer.id)
    return None if replica is None else replica.x


def test_owner_sent_once_per_connection_and_again_after_reconnect(pki: Any) -> None:
    async def scenario() -> None:
        ra = LoggingRegistry()
        srv, port = await start_server(pki, ra)
        cli_b, rb = await connect_client(pki, "b", port, srv)
        async with srv, cli_b:
            pointer = Pointer()
            pointer.id, pointer.x = uuid.uuid4(), 0
            updates = 300
            for i in range(updates):
                pointer.x = i
                ra.store_synchronize(pointer)
                if i % 25 == 24:
                    await asyncio.sleep(0)  # let frames leave between bursts
            await wait_until(lambda: replica_x(rb, pointer) == updates - 1)
            owner_frames = rb.arrivals.count("SyncOwner")
            object_frames = rb.arrivals.count("Pointer")
            assert rb.arrivals[0] == "SyncOwner"
            assert owner_frames == 1
            assert 1 <= object_frames <= updates
            assert received_frames(cli_b) == owner_frames + object_frames

            # A peer connecting later gets the owner before its first object.
            cli_c, rc = await connect_client(pki, "c", port, srv)
            async with cli_c:
                pointer.x = 1000
                ra.store_synchronize(pointer)
                await wait_until(lambda: replica_x(rc, pointer) == 1000)
                assert rc.arrivals == ["SyncOwner", "Pointer"]
                await wait_until(lambda: replica_x(rb, pointer) == 1000)
                assert rb.arrivals.count("SyncOwner") == 1  # b is not sent it again

            # A reconnect is a new connection: it starts fresh and gets the owner again.
            await wait_until(lambda: len(srv.connections) == 1)
            cli_c2, rc2 = await connect_client(pki, "c", port, srv)
            async with cli_c2:
                pointer.x = 2000
                ra.store_synchronize(pointer)
                await wait_until(lambda: replica_x(rc2, pointer) == 2000)
                assert rc2.arrivals == ["SyncOwner", "Pointer"]
                [owner] = rc2.owners.values()
                assert isinstance(owner, SyncOwner)
                assert owner.id == ra.local_owner.id
            assert rb.arrivals.count("SyncOwner") == 1

    run(scenario())


def test_owner_goes_only_to_the_objects_targets(pki: Any) -> None:
    async def scenario() -> None:
        ra = LoggingRegistry()
        srv, port = await start_server(pki, ra)
        assert ra.local_owner.dest_hash is None  # made while nobody is connected
        cli_b, rb = await connect_client(pki, "b", port, srv)
        cli_c, rc = await connect_client(pki, "c", port, srv)
        async with srv, cli_b, cli_c:
            to_c = next(d for d in srv.destinations if d.name == "c")
            pointer = Pointer()
            pointer.id, pointer.x = uuid.uuid4(), 1
            ra.store_synchronize(pointer, exclude=iter([to_c]))
            await wait_until(lambda: replica_x(rb, pointer) == 1)
            assert rc.arrivals == []  # nothing was queued for c
            pointer.x = 2
            ra.store_synchronize(pointer, destinations=iter([to_c]))
            await wait_until(lambda: replica_x(rc, pointer) == 2)
            assert rb.arrivals == ["SyncOwner", "Pointer"]
            assert rc.arrivals == ["SyncOwner", "Pointer"]

    run(scenario())
