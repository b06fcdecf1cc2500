"""Transitions (§15) over real TLS on 127.0.0.1 with in-memory registries.

The owner ``o`` serves; clients ``c`` and ``d`` hold replicas.  Covered: a transition
shown provisionally at the owner while its stored object stays as it was, then accepted
by the initiator's final ``forward`` (both futures resolve with the final object, the
provisional table empties); a final forward the owner refuses (both futures fail); a
transition broken by another client's change (``BrokenTransition`` reaches the
initiator); an owner's own transition released by its neighbours; a three-node line
(owner, gateway, initiator) where the gateway shows, relays, ends and breaks transitions;
and the error for a class without transition support.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from entanglement.interface import SyncUnauthorized, sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncOwner, SyncStoreRegistry
from entanglement.network import SyncDestination, SyncManager, SyncServer
from entanglement.operations import transition_operation
from entanglement.transition import BrokenTransition, TransitionTrackerMixin


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    # Stores signal nothing; the scenario's timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


class ShapeRegistry(SyncStoreRegistry):
    """Records what it is shown; refuses moves to negative x at the owner."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("transition", transition_operation)
        self.shown: list[tuple[Any, float]] = []

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        super().incoming_sync(obj, **info)
        # The protocol does not flood in-memory owners (§13): relays pass them on.
        if isinstance(obj, SyncOwner) and not obj.sync_is_local:
            self.manager.synchronize(obj, exclude=[info["sender"]])

    def incoming_transition(self, obj: Any, **info: Any) -> None:
        self.shown.append((obj.id, obj.x))

    def incoming_forward(self, obj: Any, **info: Any) -> None:
        if obj.sync_is_local and obj.x < 0:
            raise SyncUnauthorized("shapes stay on the board (x >= 0)")
        super().incoming_forward(obj, **info)


class Shape(TransitionTrackerMixin, StoreInSyncStoreMixin):
    sync_registry = ShapeRegistry()
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    x: float = sync_property()

    def transition_modified_attrs(self) -> list[str]:
        return ["x"]


class Plain(StoreInSyncStoreMixin):
    sync_registry = ShapeRegistry()
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()


def registries(n: int) -> list[ShapeRegistry]:
    regs = [ShapeRegistry() for _ in range(n)]
    for reg in regs:
        reg.register_syncable("Shape", Shape)
        reg.register_syncable("Plain", Plain)
    return regs


def store(reg: ShapeRegistry, cls: type[Any] = Shape) -> Any:
    return reg.store_for_class(cls)


class Board:
    """Owner o serving clients c and d, each with its own registry."""

    def __init__(self, pki: Any) -> None:
        self.pki = pki
        self.regs = registries(3)
        self.managers: list[SyncManager] = []

    async def start(self) -> tuple[SyncServer, SyncManager, SyncManager]:
        o, c, d = (self.pki.nodes[n] for n in "abc")
        srv = SyncServer(
            o.cert, 0, key=o.key, cafile=o.cafile, registries=[self.regs[0]]
        )
        await srv.listen_ssl(0, "127.0.0.1")
        [listener] = srv.servers
        port = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.managers.append(srv)
        clients = []
        for node, reg in ((c, self.regs[1]), (d, self.regs[2])):
            srv.add_destination(SyncDestination(node.hash, node.cert.stem))
            cli = SyncManager(
                node.cert, 0, key=node.key, cafile=node.cafile, registries=[reg]
            )
            dest = SyncDestination(o.hash, "owner", host="127.0.0.1")
            dest.port = port  # type: ignore[attr-defined]
            await cli.add_destination(dest)  # type: ignore[misc]
            self.managers.append(cli)
            clients.append(cli)
        await wait_until(lambda: len(srv.connections) == 2)
        return srv, clients[0], clients[1]

    async def close(self) -> None:
        for manager in reversed(self.managers):
            await manager.aclose()

    async def shared_shape(self, x: float = 0.0) -> Shape:
        shape = Shape()
        shape.id, shape.x = uuid.uuid4(), x
        self.regs[0].store_synchronize(shape)
        for reg in self.regs[1:]:
            await wait_until(lambda reg=reg: shape.id in store(reg))
        return shape


def test_transition_shown_then_accepted(pki: Any) -> None:
    async def scenario() -> None:
        board = Board(pki)
        _srv, c, _d = await board.start()
        try:
            shape = await board.shared_shape()
            mine = store(board.regs[1])[shape.id]
            mine.x = 5.0
            future = mine.perform_transition(c)
            await wait_until(lambda: (shape.id, 5.0) in board.regs[0].shown)
            mine.x = 7.0
            assert mine.perform_transition(c) is future  # same transition, same future
            await wait_until(lambda: (shape.id, 7.0) in board.regs[0].shown)
            # The owner shows the move but its stored object has not moved.
            assert store(board.regs[0])[shape.id].x == 0.0
            assert Shape.get_from_transition(shape.id) is not None
            mine.x = 9.0
            final = c.synchronize(mine, operation="forward", response=True)
            accepted = await future
            assert (await final).x == 9.0
            assert accepted.x == 9.0
            assert store(board.regs[0])[shape.id].x == 9.0
            await wait_until(lambda: store(board.regs[2])[shape.id].x == 9.0)
            assert not hasattr(mine, "transition_id")
        finally:
            await board.close()
        assert not Shape.transition_tracked_objects()

    run(scenario())


def test_final_forward_refused(pki: Any) -> None:
    async def scenario() -> None:
        board = Board(pki)
        _srv, c, _d = await board.start()
        try:
            shape = await board.shared_shape(3.0)
            mine = store(board.regs[1])[shape.id]
            mine.x = 1.0
            future = mine.perform_transition(c)
            await wait_until(lambda: (shape.id, 1.0) in board.regs[0].shown)
            mine.x = -4.0  # off the board: the owner refuses the final state
            final = c.synchronize(mine, operation="forward", response=True)
            with pytest.raises(SyncUnauthorized, match="stay on the board"):
                await final
            with pytest.raises(SyncUnauthorized):
                await future
            assert store(board.regs[0])[shape.id].x == 3.0
        finally:
            await board.close()

    run(scenario())


def test_transition_broken_by_another_change(pki: Any) -> None:
    async def scenario() -> None:
        board = Board(pki)
        _srv, c, d = await board.start()
        try:
            shape = await board.shared_shape()
            mine = store(board.regs[1])[shape.id]
            mine.x = 2.0
            future = mine.perform_transition(c)
            await wait_until(lambda: (shape.id, 2.0) in board.regs[0].shown)
            theirs = store(board.regs[2])[shape.id]
            theirs.x = 8.0
            await d.synchronize(theirs, operation="forward", response=True)
            with pytest.raises(BrokenTransition) as broken:
                await future
            assert broken.value.transition_id is not None
            assert "Shape" in str(broken.value)
            assert store(board.regs[0])[shape.id].x == 8.0
            await wait_until(lambda: store(board.regs[1])[shape.id].x == 8.0)
        finally:
            await board.close()

    run(scenario())


def test_owner_transition_released_by_neighbours(pki: Any) -> None:
    async def scenario() -> None:
        board = Board(pki)
        srv, _c, _d = await board.start()
        try:
            shape = await board.shared_shape()
            shape.x = 4.0
            future = shape.perform_transition(srv)
            for reg in board.regs[1:]:
                await wait_until(lambda reg=reg: (shape.id, 4.0) in reg.shown)
                # Replicas show the move; their stored copies stay put.
                assert store(reg)[shape.id].x == 0.0
            assert not future.done()  # each neighbour holds the request
            shape.x = 6.0
            board.regs[0].store_synchronize(shape)  # the owner's final sync
            assert await future is None  # released without an answer
            for reg in board.regs[1:]:
                await wait_until(lambda reg=reg: store(reg)[shape.id].x == 6.0)
        finally:
            await board.close()

    run(scenario())


def test_transition_of_a_class_without_support(pki: Any) -> None:
    async def scenario() -> None:
        board = Board(pki)
        _srv, c, _d = await board.start()
        try:
            plain = Plain()
            plain.id = uuid.uuid4()
            board.regs[0].store_synchronize(plain)
            await wait_until(lambda: plain.id in store(board.regs[1], Plain))
            theirs = store(board.regs[1], Plain)[plain.id]
            answer = c.synchronize(theirs, operation="transition", response=True)
            with pytest.raises(Exception, match="does not support transitions"):
                await answer
        finally:
            await board.close()

    run(scenario())


class Line:
    """Owner o <- gateway g <- initiator c (each arrow an outgoing TLS connection)."""

    def __init__(self, pki: Any) -> None:
        self.pki = pki
        self.regs = registries(3)
        self.managers: list[SyncManager] = []

    async def start(self) -> tuple[SyncManager, ...]:
        o, g, c = (self.pki.nodes[n] for n in "abc")
        owner = SyncServer(
            o.cert, 0, key=o.key, cafile=o.cafile, registries=[self.regs[0]]
        )
        gateway = SyncServer(
            g.cert, 0, key=g.key, cafile=g.cafile, registries=[self.regs[1]]
        )
        client = SyncManager(
            c.cert, 0, key=c.key, cafile=c.cafile, registries=[self.regs[2]]
        )
        self.managers += [owner, gateway, client]
        for upstream, node, downstream, down_node in (
            (owner, o, gateway, g),
            (gateway, g, client, c),
        ):
            await upstream.listen_ssl(0, "127.0.0.1")
            [listener] = upstream.servers
            upstream.add_destination(SyncDestination(down_node.hash, "down"))
            dest = SyncDestination(node.hash, "up", host="127.0.0.1")
            dest.port = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            await downstream.add_destination(dest)  # type: ignore[misc]
        await wait_until(lambda: len(gateway.connections) == 2)
        return owner, gateway, client

    async def close(self) -> None:
        for manager in reversed(self.managers):
            await manager.aclose()


async def line_shape(line: Line) -> Shape:
    shape = Shape()
    shape.id, shape.x = uuid.uuid4(), 0.0
    line.regs[0].store_synchronize(shape)
    await wait_until(lambda: shape.id in store(line.regs[2]))
    return shape


def test_gateway_relays_and_ends_a_transition(pki: Any) -> None:
    async def scenario() -> None:
        line = Line(pki)
        _owner, _gateway, client = await line.start()
        try:
            shape = await line_shape(line)
            mine = store(line.regs[2])[shape.id]
            mine.x = 3.0
            future = mine.perform_transition(client)
            for reg in line.regs[:2]:  # the gateway shows it too, on its way
                await wait_until(lambda reg=reg: (shape.id, 3.0) in reg.shown)
            assert store(line.regs[1])[shape.id].x == 0.0
            mine.x = 5.0
            final = client.synchronize(mine, operation="forward", response=True)
            assert (await future).x == 5.0
            assert (await final).x == 5.0
            for reg in line.regs:
                await wait_until(lambda reg=reg: store(reg)[shape.id].x == 5.0)
        finally:
            await line.close()

    run(scenario())


def test_gateway_breaks_a_transition_overtaken_by_the_owner(pki: Any) -> None:
    async def scenario() -> None:
        line = Line(pki)
        _owner, _gateway, client = await line.start()
        try:
            shape = await line_shape(line)
            mine = store(line.regs[2])[shape.id]
            mine.x = 3.0
            future = mine.perform_transition(client)
            await wait_until(lambda: (shape.id, 3.0) in line.regs[0].shown)
            shape.x = 11.0
            line.regs[0].store_synchronize(shape)  # the owner moves it meanwhile
            with pytest.raises(BrokenTransition):
                await future
            await wait_until(lambda: store(line.regs[2])[shape.id].x == 11.0)
        finally:
            await line.close()

    run(scenario())
