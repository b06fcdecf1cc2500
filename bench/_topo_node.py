"""One node process of ``bench/topology.py``.

Run by the benchmark, not by hand: ``python bench/_topo_node.py --cert ... [--n N]``.

The node is a ``SyncServer`` on 127.0.0.1 (port 0) with the application of
``bench/_app.py`` (registry overriding ``sync_receive``).  It talks with the parent
over its pipes (``bench/_common.py``):

1. reports ``ready`` with its port;
2. on ``links`` (a list of neighbours: certificate hash, name and, for the links this
   node opens, the neighbour's port) adds one destination per neighbour and reports
   ``connected`` once a connection to each is live;
3. on ``flood`` (the flooding leaf only) reports ``start`` and synchronises ``--n``
   objects it owns; every other node reports ``done`` once its registry stored the
   ``--n`` objects;
4. on ``report`` reports ``stats``: frames sent and received over all its connections,
   objects stored, and warnings logged (a copy of an object arriving from a neighbour
   that is not the owner's direction is refused with a warning and an error reply:
   that is how the protocol handles a graph with cycles);
5. exits when its stdin closes.

Warnings are counted by a handler on the ``entanglement`` logger instead of written:
a ring of 32 nodes would log hundreds of thousands of lines, and a deployed mesh
would turn that logger down too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from typing import Any

from _app import Owner, PortDest, make_items, make_store
from _common import commands, emit, now

from entanglement.network import SyncDestination, SyncServer


class CountingHandler(logging.Handler):
    """Counts the records at WARNING and above, writes nothing."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.last = ""
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if not self.first:  # what the first warning was (a refusal, or anything else)
            self.first = record.getMessage()[:500]
        if record.levelno >= logging.ERROR:  # a failure, not a refusal: keep one
            self.last = record.getMessage()[:500]


def frame_counts(manager: SyncServer) -> tuple[int | None, int | None]:
    """Frames sent and received over the live connections (None if not exposed)."""
    sent = received = 0
    for protocol in manager.connections:
        conn = getattr(protocol, "conn", None)
        if conn is None or not hasattr(conn, "out_count"):
            return None, None
        sent += conn.out_count
        received += conn.in_count
    return sent, received


async def connect(manager: SyncServer, links: list[dict[str, Any]]) -> None:
    for link in links:
        if link["port"] is None:  # the neighbour opens this link
            manager.add_destination(
                SyncDestination(link["hash"], link["name"], bw_per_sec=10**10)
            )
        else:
            manager.add_destination(PortDest(link["hash"], link["name"], link["port"]))
    async with asyncio.timeout(120):
        while len(manager.connections) < len(links):  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> None:
    handler = CountingHandler()
    logger = logging.getLogger("entanglement")
    logger.addHandler(handler)
    logger.propagate = False
    store = make_store("app")
    store.target = args.n
    store.done = asyncio.get_running_loop().create_future()
    manager = SyncServer(args.cert, 0, key=args.key, cafile=args.ca, registries=[store])
    async with manager:
        listener = await manager.listen_ssl(0, "127.0.0.1")
        emit("ready", port=listener.sockets[0].getsockname()[1])
        waiting: asyncio.Task[None] | None = None
        async for command in commands():
            if command["cmd"] == "links":
                await connect(manager, command["links"])
                emit("connected")
                waiting = asyncio.create_task(report_done(store))
            elif command["cmd"] == "flood":
                items = make_items(args.n, Owner(uuid.uuid4()))
                emit("start", t=now())
                for item in items:
                    manager.synchronize(item)
            elif command["cmd"] == "report":
                sent, received = frame_counts(manager)
                emit("stats", sent=sent, received=received, stored=store.count,
                     warnings=handler.count, error=handler.last, first=handler.first)  # fmt: skip
        if waiting is not None:
            waiting.cancel()


async def report_done(store: Any) -> None:
    end = await store.done
    emit("done", t=end)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
