"""A TCP proxy on loopback that cuts the connections it carries at random points.

It runs its own asyncio loop in a thread, so the test's main thread stays free to run
the application's workload.  Every accepted connection is forwarded to ``target_port``
and, while ``cutting`` is set, aborted (both sides, no FIN: as a dropped link looks)
after a random time or after a random number of forwarded bytes, whichever comes
first (both drawn from the seeded generator); so cuts land during the TLS handshake, inside frames, between
frames and during catch-ups.  Clearing ``cutting`` lets new connections live.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from typing import Any


class CuttingProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``, cutting links.

    Args:
        target_port: where to forward.
        rng: the seeded source of every cut decision.
        cut_after: range of seconds a link lives before a timed cut.
        cut_bytes: range of forwarded bytes before a byte-count cut.
    """

    def __init__(
        self,
        target_port: int,
        rng: random.Random,
        cut_after: tuple[float, float] = (0.05, 0.5),
        cut_bytes: tuple[int, int] = (1, 200_000),
    ) -> None:
        self.target_port = target_port
        self.rng = rng
        self.cut_after = cut_after
        self.cut_bytes = cut_bytes
        self.cutting = True
        self.cuts = 0
        self.links = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="cutting proxy")

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        links: set[asyncio.Task[None]] = set()

        async def accepted(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            links.add(task)
            try:
                await self._link(r, w)
            finally:
                links.discard(task)

        server = await asyncio.start_server(accepted, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in list(links):
                task.cancel()
            await asyncio.gather(*links, return_exceptions=True)

    async def _link(
        self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter
    ) -> None:
        self.links += 1
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _abort(down_w)
            return
        budget: list[float] = [float("inf")]
        timeout: float | None = None
        if self.cutting:
            timeout = self.rng.uniform(*self.cut_after)
            budget[0] = self.rng.randint(*self.cut_bytes)
        pumps = [
            asyncio.ensure_future(self._pump(down_r, up_w, budget)),
            asyncio.ensure_future(self._pump(up_r, down_w, budget)),
        ]
        try:
            done, _ = await asyncio.wait(
                pumps, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done or budget[0] <= 0:
                self.cuts += 1
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            _abort(up_w)
            _abort(down_w)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, budget: Any
    ) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if budget[0] <= len(data):
                writer.write(data[: max(int(budget[0]), 0)])  # cut inside this chunk
                budget[0] = 0
                return
            budget[0] -= len(data)
            writer.write(data)
            await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
