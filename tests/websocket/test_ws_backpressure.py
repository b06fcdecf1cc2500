"""Back-pressure on a WebSocket link: a peer that stops reading pauses the writer, the
buffer stays bounded, the queue coalesces meanwhile, and everything arrives once the
peer reads again."""

from __future__ import annotations

import asyncio
import json
import uuid

from exercise_sync import Side
from presence_sync import Cursor
from websockets.asyncio.client import connect
from ws_helpers import Sessions, run, server, url_of, wait_until

from entanglement.protocol import WRITE_CHUNK
from entanglement.websocket import serve_websocket
from entanglement.websocket_transport import HIGH_WATER, WebSocketTransport


def test_a_peer_that_does_not_read_pauses_the_writer() -> None:
    async def scenario() -> None:
        srv, rs = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"))
            # A bare client with small buffers that reads nothing for now.
            async with connect(url_of(listener), max_queue=1) as ws:
                await wait_until(lambda: bool(srv.connections))
                [protocol] = srv.connections
                transport, bw = protocol.transport, protocol.bwprotocol
                assert isinstance(transport, WebSocketTransport)
                assert bw is not None
                keys = [uuid.uuid4() for _ in range(3000)]
                for n, who in enumerate(keys):
                    board = "x" * 4000  # 4 kB messages, 12 MB: past the socket buffers
                    rs.store_synchronize(
                        Cursor(participant=who, board=board, x=n, side=Side.RED)
                    )
                await wait_until(lambda: bw.paused)
                peak = 0
                for _ in range(20):  # the writer stays paused, the buffer bounded
                    await asyncio.sleep(0.01)
                    peak = max(peak, transport.get_write_buffer_size())
                assert bw.paused
                assert (
                    peak <= HIGH_WATER + WRITE_CHUNK + 8 * 1024
                )  # one write past the mark
                assert len(protocol.conn.queue) > 0  # the rest waits in the queue

                # Updates of queued cursors coalesce: the last one is what arrives.
                last = Cursor(
                    participant=keys[-1], board="x" * 200, x=-1, side=Side.RED
                )
                rs.store_synchronize(last)

                seen: dict[str, float] = {}
                while len(seen) < len(keys) or seen.get(str(keys[-1])) != -1:
                    msg = json.loads(await ws.recv())
                    if msg.get("_sync_type") == "Cursor":
                        seen[msg["participant"]] = msg["x"]
                assert set(seen) == {str(k) for k in keys}
                assert not bw.paused

    run(scenario(), timeout=30.0)
