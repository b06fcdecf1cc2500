"""Test Synchronizables, a registry with the standard operations, and manager helpers.

``Owner`` / ``Thing`` are real model classes (``entanglement.interface``) in a registry
that registers the real ``sync``/``forward``/``delete`` operation objects and keeps the
received objects in dictionaries, so floods, ownership checks and responses run exactly
as in an application.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any

from entanglement.interface import (
    SyncBadOwner,
    Synchronizable,
    SyncRegistry,
    sync_property,
)
from entanglement.network import SyncDestination, SyncManager, SyncServer
from entanglement.operations import delete, forward, sync


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    """Run a scenario in a fresh event loop, failing instead of hanging."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


class Owner:
    """An owner: ``dest_hash`` None means local."""

    def __init__(self, owner_id: uuid.UUID | None = None, dest_hash: Any = None):
        self.id = owner_id or uuid.uuid4()
        self.dest_hash = dest_hash

    def sync_encode_value(self) -> str:
        return str(self.id)


class ThingRegistry(SyncRegistry):
    """Stores what it receives; supports sync, forward and delete."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("sync", sync)
        self.register_operation("forward", forward)
        self.register_operation("delete", delete)
        self.owners: dict[str, Owner] = {}
        self.things: dict[int, Thing] = {}
        self.received: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()

    def owner_for(self, owner_id: str, sender: Any) -> Owner:
        owner = self.owners.get(owner_id)
        if owner is None:
            owner = Owner(uuid.UUID(owner_id), getattr(sender, "dest_hash", None))
            self.owners[owner_id] = owner
        return owner

    def add_local(self, thing: Thing) -> Thing:
        self.owners[str(thing.sync_owner.id)] = thing.sync_owner
        self.things[thing.id] = thing
        return thing

    def incoming_sync(self, obj: Thing, **info: Any) -> None:
        self.things[obj.id] = obj
        self._note("sync", obj)

    def incoming_forward(self, obj: Thing, **info: Any) -> None:
        if obj.sync_is_local:
            self.things[obj.id] = obj
        self._note("forward", obj)

    def incoming_delete(self, obj: Thing, **info: Any) -> None:
        self.things.pop(obj.id, None)
        self._note("delete", obj)

    def _note(self, op: str, obj: Any) -> None:
        self.received.append((op, obj))
        self.arrived.set()

    async def wait_for(self, predicate: Any) -> None:
        while not predicate():
            self.arrived.clear()
            await self.arrived.wait()


registry = ThingRegistry()  # replaced per test through fresh_registry()


class Thing(Synchronizable):
    """A keyed object with an owner and two attributes."""

    sync_primary_keys = ("id",)
    sync_registry = registry

    id: int = sync_property(constructor=True)
    color: str = sync_property()
    size: int = sync_property()
    _sync_owner = sync_property(property(lambda self: str(self.sync_owner.id)))

    def __init__(self, id: int, owner: Owner | None = None, **attrs: Any) -> None:
        self.id = id
        self.sync_owner = owner if owner is not None else Owner()
        for name, value in attrs.items():
            setattr(self, name, value)

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Thing:
        reg = info["registry"]
        owner_id = msg.get("_sync_owner")
        if owner_id is None:
            raise SyncBadOwner("Thing needs _sync_owner")
        owner = reg.owner_for(owner_id, info["sender"])
        existing = reg.things.get(msg["id"])
        if existing is not None and existing.sync_owner is owner:
            thing = Thing(existing.id, owner)
            thing.__dict__.update(
                {k: v for k, v in vars(existing).items() if k != "sync_owner"}
            )
            msg.pop("id")
            return thing
        return cls(msg.pop("id"), owner)


class Note(Synchronizable):
    """An unowned (ephemeral) message-like class in its own registry."""

    sync_primary_keys = ("text",)
    text: str = sync_property()


def fresh_registries() -> tuple[ThingRegistry, ThingRegistry, ThingRegistry]:
    """Three registries sharing the Thing class (one per manager)."""
    regs = (ThingRegistry(), ThingRegistry(), ThingRegistry())
    for reg in regs:
        reg.register_syncable("Thing", Thing)
    return regs


def server(node: Any, *regs: Any, **kwargs: Any) -> SyncServer:
    """A SyncServer for a node of the test PKI."""
    return SyncServer(
        node.cert, 0, key=node.key, cafile=node.cafile, registries=list(regs), **kwargs
    )


def manager(node: Any, *regs: Any, **kwargs: Any) -> SyncManager:
    """A client-only SyncManager for a node of the test PKI."""
    return SyncManager(
        node.cert, 0, key=node.key, cafile=node.cafile, registries=list(regs), **kwargs
    )


def port_of(srv: SyncServer) -> int:
    """The TCP port the server listens on."""
    [listener] = srv.servers
    sockets = listener.sockets  # type: ignore[attr-defined]
    return int(sockets[0].getsockname()[1])


class PortDestination(SyncDestination):
    """A SyncDestination with its own port (the manager's port is 0 in tests)."""

    def __init__(self, dest_hash: Any, name: str, port: int, **kwargs: Any) -> None:
        super().__init__(dest_hash, name, host="127.0.0.1", **kwargs)
        self.port = port


async def connect_pair(
    srv: SyncServer, cli: SyncManager, srv_node: Any, cli_node: Any
) -> tuple[Any, Any]:
    """Listen on srv, connect cli to it; return (dest of srv at cli, dest of cli at srv)."""
    await srv.listen_ssl(0, "127.0.0.1")
    at_srv = SyncDestination(cli_node.hash, "client")
    srv.add_destination(at_srv)
    at_cli = PortDestination(srv_node.hash, "server", port_of(srv))
    task = cli.add_destination(at_cli)
    await task
    await wait_until(lambda: at_srv.dest_hash in srv._connections)
    return at_cli, at_srv


async def wait_until(predicate: Any, interval: float = 0.005) -> None:
    """Poll until ``predicate()`` holds (the caller's timeout bounds it)."""
    # Polls manager internals that signal no event; the scenario timeout bounds it.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(interval)
