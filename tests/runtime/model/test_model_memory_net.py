"""In-memory registries end to end: two managers over real TLS on 127.0.0.1.

Shows quirk 52 fixed (``create`` works in memory and ``manager`` is set by the manager)
and the store behaviour of sync, forward and delete through the real receive pipeline.
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


class CursorRegistry(SyncStoreRegistry):
    pass


owner_side = CursorRegistry()


class Cursor(StoreInSyncStoreMixin):
    """A keyed object; a creator may choose its key (the owner consents)."""

    sync_registry = owner_side
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    x: float = sync_property()
    label: str = sync_property()

    def sync_should_listen_primary_keys(self, msg: dict[str, Any], **info: Any) -> bool:
        return True


def cursor(x: float, label: str = "", owner: Any = None) -> Cursor:
    c = Cursor()
    c.id, c.x, c.label = uuid.uuid4(), x, label
    if owner is not None:
        c.sync_owner = owner
    return c


def fresh() -> tuple[CursorRegistry, CursorRegistry]:
    ra, rb = CursorRegistry(), CursorRegistry()
    for reg in (ra, rb):
        reg.register_syncable("Cursor", Cursor)
    return ra, rb


async def connect(pki: Any, ra: CursorRegistry, rb: CursorRegistry) -> Any:
    a, b = pki.nodes["a"], pki.nodes["b"]
    srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
    cli = SyncManager(b.cert, 0, key=b.key, cafile=b.cafile, registries=[rb])
    await srv.listen_ssl(0, "127.0.0.1")
    [listener] = srv.servers
    port = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    srv.add_destination(SyncDestination(b.hash, "b"))
    to_a = SyncDestination(a.hash, "a", host="127.0.0.1")
    to_a.port = port  # type: ignore[attr-defined]
    await cli.add_destination(to_a)  # type: ignore[misc]
    await wait_until(lambda: len(srv.connections) == 1 and len(cli.connections) == 1)
    return srv, cli, to_a


def test_store_synchronize_create_forward_delete_in_memory(pki) -> None:
    async def scenario() -> None:
        ra, rb = fresh()
        srv, cli, to_a = await connect(pki, ra, rb)
        async with srv, cli:
            assert ra.manager is srv  # quirk 52: set by the manager, weakly
            assert rb.manager is cli
            mine = cursor(1.0, "first")
            ra.store_synchronize(mine)  # announces the owner, then the object
            b_cursors = rb.store_for_class(Cursor)
            await wait_until(lambda: mine.id in b_cursors)
            replica = b_cursors[mine.id]
            assert replica is not mine
            assert (replica.x, replica.label) == (1.0, "first")
            owner_at_b = rb.owners[ra.local_owner.id]
            assert isinstance(owner_at_b, SyncOwner)
            assert owner_at_b.dest_hash == pki.nodes["a"].hash
            assert replica.sync_owner is owner_at_b

            # create (quirk 52 fixed): B asks A, the owner, to create an object
            request = cursor(2.0, "made by b", owner_at_b)
            created = await cli.synchronize(
                request, destinations=[to_a], operation="create", response=True
            )
            assert created.id == request.id
            assert created.sync_owner is owner_at_b
            a_cursors = ra.store_for_class(Cursor)
            assert a_cursors[request.id].sync_owner is ra.local_owner
            assert b_cursors[request.id] is created

            # forward: a proposal the owner applies and answers with its new state
            proposal = cursor(9.0, "", owner_at_b)
            proposal.id = mine.id
            answered = await cli.synchronize(
                proposal,
                destinations=[to_a],
                operation="forward",
                attributes_to_sync=["id", "x"],
                response=True,
            )
            assert mine.x == 9.0
            assert mine.label == "first"  # only the forwarded attribute changed
            assert answered is replica
            assert replica.x == 9.0

            # delete request: the owner deletes and echoes the delete back
            await cli.synchronize(
                replica, destinations=[to_a], operation="delete", response=True
            )
            assert mine.id not in a_cursors
            assert mine.id not in b_cursors

    run(scenario())
