"""The processes of ``bench/catchup.py`` besides the answering node (``entanglegen node``).

Run by the benchmark, not by hand: ``python bench/_cu_nodes.py ROLE [options]``.

Roles:

* ``peer``: the receiving node, a fresh database: it reports ``ready``, waits for the
  parent's ``go``, adds the answering node as a destination and reports ``caught_up``
  (clock at ``add_destination`` and when the database holds every row and the owner's
  serial) and, with ``--batches``, the commit floods (``commit``, ``commit_yielding``:
  seconds until the answering node's database holds the batches).
* ``floor-sender``: the floor's answering side: on a TLS connection, reads every row of
  the table with SQLAlchemy Core (streamed, ``yield_per``) and writes each as a JSON
  frame (the row's columns, the UUIDs as text, ``_sync_owner``/``_sync_type``), in
  writes of 256 KiB with ``drain``.
* ``floor-receiver``: the floor's receiving side: a fresh table of the same shape;
  connects, splits the frames, ``json.loads`` each, turns the id texts back into UUIDs
  and inserts with Core ``executemany`` per 1,000 rows in one transaction; reports
  ``done`` once all are committed.

``--profile PATH`` runs the role under ``cProfile`` and writes its stats to PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
import time
import uuid
from typing import Any

import sqlalchemy as sa
from _common import commands, emit, now
from _cu_models import Base, BenchRegistry, Reading, rows
from _tp_nodes import HEADER, contexts, send_frames

from entanglement.network import SyncServer
from entanglement.sql import SqlSyncDestination, SqlSyncRegistry, SyncOwner


async def poll(predicate: Any, limit: float) -> None:
    """Until ``predicate()``, checked every 10 ms (at most ``limit`` seconds)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the condition is in the database
            await asyncio.sleep(0.01)


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def incoming(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        top = conn.scalar(sa.select(sa.func.max(SyncOwner.__table__.c.incoming_serial)))
        return int(top or 0)


async def run_peer(args: argparse.Namespace) -> None:
    engine = sa.create_engine(args.db)
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    registry = BenchRegistry(bind=engine)
    registry.register_syncable("Reading", Reading)
    manager = SyncServer(args.cert, args.port, key=args.key, cafile=args.ca,
                         registries=[registry])  # fmt: skip
    table = Reading.__table__
    assert isinstance(table, sa.Table)
    try:
        emit("ready")
        async for _ in commands():
            break
        cpu, start = time.process_time(), now()
        manager.add_destination(
            SqlSyncDestination(
                args.peer_hash, "server", host="127.0.0.1", port=args.port
            )
        )
        await poll(lambda: incoming(engine) >= args.top and count(engine, table) >= args.rows,
                   args.timeout)  # fmt: skip
        emit("caught_up", start=start, t=now(), cpu=time.process_time() - cpu,
             received=registry.bench_received)  # fmt: skip
        if args.batches:
            await _commits(args, manager, registry, table)
    finally:
        await manager.aclose()
        session = getattr(manager, "session", None)
        if session is not None:
            session.close()
        engine.dispose()


async def _commits(
    args: argparse.Namespace, manager: Any, registry: Any, table: sa.Table
) -> None:
    server = sa.create_engine(args.server_db)
    try:
        before = args.rows
        for pause in (False, True):
            start = now()
            for b in range(args.batches):
                with registry.sessionmaker(manager=manager) as session:
                    session.add_all(
                        Reading(**r) for r in rows(args.batch_size, f"{pause}{b}")
                    )
                    session.sync_commit()
                    session.commit()
                if pause:
                    await asyncio.sleep(0)
            before += args.batches * args.batch_size
            await poll(lambda n=before: count(server, table) >= n, args.timeout)
            emit("commit_yielding" if pause else "commit", seconds=now() - start)
    finally:
        server.dispose()


# -- the floor ---------------------------------------------------------------------------


async def run_floor_sender(args: argparse.Namespace) -> None:
    engine = sa.create_engine(args.db)
    server_ctx, _ = contexts(args)
    loop = asyncio.get_running_loop()
    sent: asyncio.Future[None] = loop.create_future()
    finished: asyncio.Future[None] = loop.create_future()

    async def on_connect(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await send_frames(writer, _read_messages(engine))
        sent.set_result(None)
        await reader.read()  # until the receiver closes
        writer.close()
        finished.set_result(None)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_ctx)
    try:
        async with server:
            emit("ready", port=server.sockets[0].getsockname()[1])
            async with asyncio.timeout(args.timeout):
                await sent
            async for _ in commands():
                pass
            async with asyncio.timeout(args.timeout):
                await finished
    finally:
        engine.dispose()


def _read_messages(engine: sa.Engine) -> Any:
    """Every row as the message dict the floor sends (streamed from the database)."""
    table = Reading.__table__
    assert isinstance(table, sa.Table)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=1000).execute(sa.select(table))
        for row in result.mappings():
            msg = dict(row)
            msg["id"] = str(msg["id"])
            msg["_sync_owner"] = str(msg.pop("sync_owner_id"))
            msg["_sync_type"] = "Reading"
            yield msg


class RowInserter(asyncio.Protocol):
    """Splits frames, decodes each row and inserts per 1,000 rows; commits at ``n``."""

    def __init__(self, conn: sa.Connection, table: sa.Table, n: int,
                 done: asyncio.Future[float]) -> None:  # fmt: skip
        self.buf = bytearray()
        self.conn, self.table, self.n, self.done = conn, table, n, done
        self.pending: list[dict[str, Any]] = []
        self.count = 0

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        while len(buf) - pos >= 8:
            length, _ = HEADER.unpack_from(buf, pos)
            if len(buf) - pos - 8 < length:
                break
            msg = json.loads(bytes(buf[pos + 8 : pos + 8 + length]))
            del msg["_sync_type"]
            msg["id"] = uuid.UUID(msg["id"])
            msg["sync_owner_id"] = uuid.UUID(msg.pop("_sync_owner"))
            self.pending.append(msg)
            pos += 8 + length
        del buf[:pos]
        if len(self.pending) >= 1000 or self.count + len(self.pending) >= self.n:
            self.conn.execute(self.table.insert(), self.pending)
            self.count += len(self.pending)
            self.pending = []
        if self.count >= self.n and not self.done.done():
            self.conn.commit()
            self.done.set_result(now())


async def run_floor_receiver(args: argparse.Namespace) -> None:
    engine = sa.create_engine(args.db)
    source = Reading.__table__
    assert isinstance(source, sa.Table)
    meta = sa.MetaData()
    table = sa.Table("reading_copy", meta, *(
        sa.Column(c.name, c.type, primary_key=c.primary_key) for c in source.columns))  # fmt: skip
    meta.create_all(engine)
    _, client_ctx = contexts(args)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    try:
        with engine.connect() as conn:
            emit("ready")
            async for _ in commands():
                break
            cpu, start = time.process_time(), now()
            transport, _ = await loop.create_connection(
                lambda: RowInserter(conn, table, args.rows, done), "127.0.0.1", args.port,
                ssl=client_ctx, server_hostname="127.0.0.1",
            )  # fmt: skip
            async with asyncio.timeout(args.timeout):
                end = await done
            emit("done", start=start, t=end, cpu=time.process_time() - cpu,
                 rows=count(engine, table))  # fmt: skip
            transport.close()
    finally:
        engine.dispose()


ROLES = {
    "peer": run_peer,
    "floor-sender": run_floor_sender,
    "floor-receiver": run_floor_receiver,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--db", required=True, help="this process's database URL")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--peer-hash", help="the answering node's certificate hash")
    parser.add_argument("--port", type=int, default=0, help="the answering side's port")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--top", type=int, default=0, help="the owner's top serial")
    parser.add_argument("--server-db", help="the answering node's database (commits)")
    parser.add_argument("--batches", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", help="write this process's cProfile stats here")
    args = parser.parse_args()
    if args.profile:
        with cProfile.Profile() as profile:
            asyncio.run(ROLES[args.role](args))
        profile.dump_stats(args.profile)
    else:
        asyncio.run(ROLES[args.role](args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
