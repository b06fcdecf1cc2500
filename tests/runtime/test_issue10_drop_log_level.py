"""Issue 10 item 17: an ordinary connection drop is INFO, without a traceback.

A connection lost while ``connected()`` waits for the queue to drain (what the SQL
layer's resynchronisation does on every connection) used to log
``ERROR … WriteError("connection lost before draining")`` with a traceback, on the
connecting side and for the manager's background tasks.  The link reconnects: that is
an INFO line, no traceback, and the reconnect still happens.
"""

from __future__ import annotations

import logging
from typing import Any

from issue10_helpers import run, wait_until
from net_helpers import PortDestination, fresh_registries, manager
from raw_peer import RawServer

from entanglement.interface import Synchronizable, sync_property


class Blob(Synchronizable):
    """An ephemeral object, big enough to keep a slow link busy."""

    sync_primary_keys = ("n",)
    n: int = sync_property()
    data: str = sync_property()


class DrainingDestination(PortDestination):
    """Queues a burst on a slow link and waits for it to drain, like a resync."""

    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        await super().connected(manager, protocol, bwprotocol)
        bwprotocol.bw_per_sec = 2_000  # 200 bytes per quantum: the drain waits
        for n in range(400):  # more than one write: the limiter holds the rest
            blob = Blob()
            blob.n, blob.data = n, "x" * 1000
            manager.synchronize(blob, destinations=[self])
        manager.create_task(protocol.sync_drain(), name="drain in the background")
        await protocol.sync_drain()
        return True


def test_a_drop_while_draining_is_info_and_reconnects(pki, caplog) -> None:
    a, b = pki.nodes["a"], pki.nodes["b"]

    async def scenario() -> None:
        raw = RawServer(a.cert, a.key, a.cafile)
        port = await raw.start()
        reg, _, _ = fresh_registries()
        reg.register_syncable("Blob", Blob)
        async with manager(b, reg) as cli:
            cli.initial_backoff = 0.05
            dest = DrainingDestination(a.hash, "server", port)
            cli.add_destination(dest)
            for _ in range(2):  # the first connection and a reconnect
                peer = await raw.peers.get()
                await peer.receive()  # the burst started
                peer.writer.transport.abort()  # the link drops mid-drain
            await wait_until(lambda: "retrying" in caplog.text)
        await raw.close()

    with caplog.at_level(logging.INFO, logger="entanglement"):
        run(scenario())
    assert "connection lost before draining" in caplog.text
    for record in caplog.records:
        if "draining" in record.getMessage() or "lost" in record.getMessage():
            assert record.levelno <= logging.INFO, record.getMessage()
            assert record.exc_info is None, record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
