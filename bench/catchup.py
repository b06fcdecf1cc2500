"""Benchmark: a fresh peer catching up N rows over TLS, beside its physical floor.

Usage::

    .venv/bin/python bench/catchup.py [--rows 100000] [--backend sqlite|postgres|both]
                                      [--batches 10] [--batch-size 1000]

Per backend (SQLite files; PostgreSQL schemas on 127.0.0.1:5432/test):

* **floor**: read the N rows with SQLAlchemy Core from the server's database and
  bulk-insert them (executemany) into an empty table of the same shape; no network.
* **catch-up**: an ``entanglegen node serve`` process holds the N rows; a fresh peer (this
  process, its own database) connects over TLS on loopback; timed from adding the
  destination until the peer has every row and has recorded the owner's serial.
* **commit floor**: the same batches committed with a plain ORM Session, no sync, into
  a table that already holds N rows, as the peer's table does when the library's
  batches are committed (after the catch-up); an empty table would make the floor
  about 1.5x faster on SQLite for reasons that have nothing to do with the library.
* **commit**: ``sync_commit()`` + ``commit()`` of ``--batches`` batches of
  ``--batch-size`` rows in a managed session, flooded to the node process; timed until
  the node's database holds them all.  The batches are committed back to back without
  returning to the event loop; each commit writes its frames at once
  (``manager.flush()``), so the node stores a batch while the next is committed.
* **commit, yielding**: the same, returning to the event loop (``asyncio.sleep(0)``)
  after each batch, as an asyncio application does between transactions (which also
  lets each commit's YouHave go out).  Reported beside the first, against the same
  floor.

Prints a table and writes ``bench/results/catchup-<backend>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from entanglement.network import SyncServer
from entanglement.pki import gen_site_ca, host_cert
from entanglement.sql import (
    GUID,
    SqlSyncDestination,
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncOwner,
)
from entanglement.sql.tables import sync_owners, sync_serial

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PG_URL = os.environ.get(
    "ENTANGLEGEN_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SqlSyncDestination.you_have_timeout = 0.0


class BenchRegistry(SqlSyncRegistry): ...


registry = BenchRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Reading(Base):
    __tablename__ = "reading"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    sensor: Mapped[str] = mapped_column(String(40))
    value: Mapped[float]
    seq: Mapped[int]


def _rows(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": uuid.uuid4(), "sensor": f"{prefix}-{i % 97}", "value": i * 0.5, "seq": i}
        for i in range(n)
    ]


# -- databases -------------------------------------------------------------------------


class Databases:
    """Creates per-role databases on one backend and drops them afterwards."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend, self.workdir = backend, workdir
        self.schemas: list[str] = []
        self.admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT") if (
            backend == "postgres") else None  # fmt: skip

    def url(self, role: str) -> str:
        if self.admin is None:
            return f"sqlite:///{self.workdir / f'{role}.sqlite'}"
        schema = f"bench_{uuid.uuid4().hex[:10]}_{role}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        self.schemas.append(schema)
        return f"{PG_URL}?options=-csearch_path%3D{schema}"

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.connect() as conn:
                for schema in self.schemas:
                    conn.execute(sa.text(f'drop schema "{schema}" cascade'))
            self.admin.dispose()


def prepare_server(url: str, n: int) -> int:
    """Fill the server database with n rows of one local owner; returns the top serial."""
    engine = sa.create_engine(url)
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    owner_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(sa.insert(sync_owners).values(
            id=owner_id, type="SyncOwner", incoming_serial=0, sync_serial=0))  # fmt: skip
        top = 0
        for start in range(0, n, 1000):
            key = conn.execute(sa.insert(sync_serial)).inserted_primary_key
            assert key is not None
            top = int(key[0])
            chunk = _rows(min(1000, n - start), "s")
            for row in chunk:
                row.update(sync_serial=top, sync_owner_id=owner_id)
            conn.execute(sa.insert(Reading), chunk)
    engine.dispose()
    return int(top)


def measure_floor(src_url: str, dst_url: str) -> tuple[int, float]:
    """Core read of every row + executemany insert into an empty copy of the table."""
    src, dst = sa.create_engine(src_url), sa.create_engine(dst_url)
    meta = sa.MetaData()
    copy = sa.Table("reading_copy", meta, *(
        sa.Column(c.name, c.type, primary_key=c.primary_key)
        for c in Reading.__table__.columns))  # fmt: skip
    meta.create_all(dst)
    start = time.perf_counter()
    with src.connect() as conn:
        rows = [r._asdict() for r in conn.execute(sa.select(Reading.__table__))]
    with dst.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(sa.insert(copy), rows[i : i + 10_000])
    elapsed = time.perf_counter() - start
    src.dispose()
    dst.dispose()
    return len(rows), elapsed


def measure_commit_floor(url: str, batches: int, size: int, prefill: int) -> float:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table("plain_reading", meta, *(
        sa.Column(c.name, c.type, primary_key=c.primary_key)
        for c in Reading.__table__.columns if not c.name.startswith("sync_")))  # fmt: skip

    class Plain(DeclarativeBase):
        pass

    class PlainReading(Plain):
        __table__ = table

    meta.create_all(engine)
    # The library's batches go into the peer's table, which holds the N caught-up
    # rows by then; inserting into a table of N rows costs more than into an empty
    # one (SQLite: about 1.5x at N = 100k), so the floor's table holds N rows too.
    with engine.begin() as conn:
        for chunk in range(0, prefill, 10_000):
            conn.execute(
                table.insert(), _rows(min(10_000, prefill - chunk), f"f{chunk}")
            )
    start = time.perf_counter()
    for b in range(batches):
        with Session(engine) as session:
            session.add_all(PlainReading(**r) for r in _rows(size, f"p{b}"))
            session.commit()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


# -- the node process and the peer -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_node(
    url: str,
    pki: dict[str, tuple[Path, Path]],
    ca: Path,
    port: int,
    peer_hash: str,
    log: Path,
) -> subprocess.Popen[bytes]:
    cert, key = pki["server"]
    node = [
        sys.executable,
        "-c",
        "import sys; from entanglement.node import main; "
        "sys.exit(main(sys.argv[1:]))",
        "--db",
        url,
        "--base",
        "catchup.Base",
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    subprocess.run(
        [*node, "add", "--hash", peer_hash], check=True, env=env, capture_output=True
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *node,
                "serve",
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--ca",
                str(ca),
                "--listen",
                f"127.0.0.1:{port}",
                "--poll",
                "0.2",
            ],
            stdout=out,
            stderr=out,
            env=env,
        )
    return proc


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count(Reading.id))) or 0)


def _incoming(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.max(SyncOwner.incoming_serial))) or 0)


async def _poll(predicate: Any, limit: float = 900.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.01)  # the overshoot of a commit run is at most this


async def run_peer(
    url: str,
    pki: dict[str, tuple[Path, Path]],
    ca: Path,
    server_hash: Any,
    port: int,
    n: int,
    top: int,
    batches: int,
    size: int,
    server_url: str,
) -> tuple[float, float, float]:
    engine = sa.create_engine(url)
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    peer_registry = BenchRegistry(bind=engine)
    peer_registry.register_syncable("Reading", Reading)
    cert, key = pki["peer"]
    manager = SyncServer(cert, port, key=key, cafile=ca, registries=[peer_registry])
    server_engine = sa.create_engine(server_url)
    try:
        await _wait_listening(port)
        start = time.perf_counter()
        manager.add_destination(
            SqlSyncDestination(server_hash, "server", host="127.0.0.1", port=port)
        )
        await _poll(lambda: _count(engine) >= n and _incoming(engine) >= top)
        catchup = time.perf_counter() - start

        commit = await _commit_batches(
            manager, peer_registry, server_engine, n, batches, size, "c", pause=False
        )
        commit_yielding = await _commit_batches(
            manager,
            peer_registry,
            server_engine,
            n + batches * size,
            batches,
            size,
            "y",
            pause=True,
        )
    finally:
        await manager.aclose()
        manager.session.close()  # type: ignore[attr-defined]
        engine.dispose()
        server_engine.dispose()
    return catchup, commit, commit_yielding


async def _commit_batches(
    manager: Any,
    registry: Any,
    server_engine: sa.Engine,
    before: int,
    batches: int,
    size: int,
    prefix: str,
    *,
    pause: bool,
) -> float:
    """Commit the batches (returning to the loop after each if ``pause``); seconds
    until the node's database holds them all."""
    start = time.perf_counter()
    for b in range(batches):
        with registry.sessionmaker(manager=manager) as session:
            session.add_all(Reading(**r) for r in _rows(size, f"{prefix}{b}"))
            session.sync_commit()
            session.commit()
        if pause:
            await asyncio.sleep(0)
    await _poll(lambda: _count(server_engine) >= before + batches * size)
    return time.perf_counter() - start


async def _wait_listening(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError("the node did not start listening")


# -- driver ------------------------------------------------------------------------------


def bench(backend: str, n: int, batches: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ca = gen_site_ca(work / "pki", "Bench CA")
        pki = {
            r: host_cert(work / "pki", "127.0.0.1", prefix=r)
            for r in ("server", "peer")
        }
        from entanglement.pki import cert_hash_text

        dbs = Databases(backend, work)
        try:
            server_url, peer_url = dbs.url("server"), dbs.url("peer")
            top = prepare_server(server_url, n)
            floor_n, floor = measure_floor(server_url, dbs.url("floor"))
            commit_floor = measure_commit_floor(dbs.url("plain"), batches, size, n)
            port = free_port()
            node = start_node(
                server_url,
                pki,
                ca,
                port,
                cert_hash_text(pki["peer"][0]),
                work / "node.log",
            )
            try:
                catchup, commit, commit_yielding = asyncio.run(run_peer(
                    peer_url, pki, ca, cert_hash_text(pki["server"][0]), port, n, top,
                    batches, size, server_url))  # fmt: skip
            finally:
                node.terminate()
                node.wait(timeout=60)
        finally:
            dbs.close()
    committed = batches * size
    return {
        "backend": backend,
        "rows": n,
        "floor_seconds": floor,
        "floor_rows_per_s": floor_n / floor,
        "catchup_seconds": catchup,
        "catchup_rows_per_s": n / catchup,
        "catchup_vs_floor": (n / catchup) / (floor_n / floor),
        "commit_rows": committed,
        "commit_batch": size,
        "commit_floor_rows_per_s": committed / commit_floor,
        "commit_rows_per_s": committed / commit,
        "commit_vs_floor": (committed / commit) / (committed / commit_floor),
        "commit_yielding_rows_per_s": committed / commit_yielding,
        "commit_yielding_vs_floor": commit_floor / commit_yielding,
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both"
    )
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [bench(b, args.rows, args.batches, args.batch_size) for b in backends]
    print(
        f"{'backend':10} {'what':16} {'rows':>8} {'rows/s':>10} {'floor rows/s':>13} "
        f"{'ratio':>6}"
    )
    for r in results:
        print(
            f"{r['backend']:10} {'catch-up':16} {r['rows']:>8} "
            f"{r['catchup_rows_per_s']:>10.0f} {r['floor_rows_per_s']:>13.0f} "
            f"{r['catchup_vs_floor']:>6.2f}"
        )
        print(
            f"{r['backend']:10} {'commit':16} {r['commit_rows']:>8} "
            f"{r['commit_rows_per_s']:>10.0f} {r['commit_floor_rows_per_s']:>13.0f} "
            f"{r['commit_vs_floor']:>6.2f}"
        )
        print(
            f"{r['backend']:10} {'commit, yielding':16} {r['commit_rows']:>8} "
            f"{r['commit_yielding_rows_per_s']:>10.0f} "
            f"{r['commit_floor_rows_per_s']:>13.0f} "
            f"{r['commit_yielding_vs_floor']:>6.2f}"
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"catchup-{r['backend']}.json"
        path.write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
