"""Code written in the original library's style runs unchanged.

No ``asyncio.run``: the managers share an event loop they are given and are driven from
synchronous code with ``manager.run_until_complete``; drains are futures fixed at call
time, collected with ``asyncio.wait`` and polled with ``.done()``; the registry registers
the standard operation objects under their original ``*_operation`` names.  (The
original's console scripts are run by ``test_compat_cli.py``.)
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from entanglement import SyncDestination, SyncManager, SyncServer, sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncStoreRegistry
from entanglement.operations import (
    create_operation,
    delete_operation,
    error_operation,
    forward_operation,
    sync_operation,
    transition_operation,
)


class LegacyRegistry(SyncStoreRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.register_operation("sync", sync_operation)
        self.register_operation("forward", forward_operation)
        self.register_operation("delete", delete_operation)
        self.register_operation("create", create_operation)
        self.register_operation("transition", transition_operation)


class Note(StoreInSyncStoreMixin):
    sync_registry = LegacyRegistry()
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    text: str = sync_property()


def _wait_for(manager: SyncManager, predicate: Any, timeout: float = 10.0) -> None:
    async def poll() -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - stores signal nothing
                await asyncio.sleep(0.01)

    manager.run_until_complete(poll())


def test_a_script_in_the_original_style(pki: Any) -> None:
    a, b = pki.nodes["a"], pki.nodes["b"]
    loop = asyncio.new_event_loop()
    regs = [LegacyRegistry(), LegacyRegistry()]
    for reg in regs:
        reg.register_syncable("Note", Note)
    server = SyncServer(
        a.cert, 0, key=a.key, cafile=a.cafile, loop=loop, registries=[regs[0]]
    )
    client = SyncManager(
        b.cert, 0, key=b.key, cafile=b.cafile, loop=loop, registries=[regs[1]]
    )
    try:
        assert error_operation.name == "error"
        assert regs[0].get_operation("sync") is sync_operation
        server.run_until_complete(server.listen_ssl(0, "127.0.0.1"))
        [listener] = server.servers
        port = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        server.add_destination(SyncDestination(b.hash, "b"))
        to_server = SyncDestination(a.hash, "a", host="127.0.0.1")
        to_server.port = port  # type: ignore[attr-defined]
        client.run_until_complete(client.add_destination(to_server))  # type: ignore[arg-type]
        _wait_for(server, lambda: len(server.connections) == 1)

        notes = []
        for i in range(50):
            note = Note()
            note.id, note.text = uuid.uuid4(), f"note {i}"
            regs[0].store_synchronize(note)
            notes.append(note)
        drains = [p.sync_drain() for p in server.connections]
        assert all(isinstance(d, asyncio.Future) for d in drains)
        done, pending = server.run_until_complete(asyncio.wait(drains, timeout=10))
        assert not pending
        assert all(d.done() and d.exception() is None for d in done)
        _wait_for(client, lambda: len(regs[1].store_for_class(Note)) == 50)
        assert {n.text for n in regs[1].store_for_class(Note).values()} == {
            n.text for n in notes
        }
        # Nothing queued: the drain is complete at once.
        [idle] = [p.sync_drain() for p in server.connections]
        assert idle.done()
    finally:
        client.close()
        server.close()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
