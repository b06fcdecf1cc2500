"""The databases of ``bench/catchup.py``: fresh ones per role, the rows, the one-process floors.

* ``Databases``: SQLite files in the work directory, or PostgreSQL schemas on
  127.0.0.1:5432 db ``test`` (``ENTANGLEGEN_POSTGRES_URL`` overrides), a fresh one per
  call, all dropped by ``close()``;
* ``prepare_server``: the answering node's N rows of one local owner, written with Core
  straight into the model's and the bookkeeping's tables (``Serial`` and ``SyncOwner``
  of the public API), one serial per 1,000 rows;
* ``measure_floor``: Core read + executemany insert in one process (a context row);
* ``measure_commit_floor``: plain ORM commits of batches into a table of N rows, the
  floor of the commit floods.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _cu_models import Base, Reading, rows
from sqlalchemy.orm import DeclarativeBase, Session

from entanglement.sql import Serial, SqlSyncRegistry, SyncOwner

PG_URL = os.environ.get(
    "ENTANGLEGEN_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Databases:
    """Creates per-role databases on one backend and drops them afterwards."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend, self.workdir = backend, workdir
        self.schemas: list[str] = []
        self.made = 0
        self.admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT") if (
            backend == "postgres") else None  # fmt: skip

    def url(self, role: str) -> str:
        """A fresh, empty database for ``role``."""
        self.made += 1
        role = f"{role}{self.made}"
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


def _table(model: Any) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def prepare_server(url: str, n: int) -> int:
    """Fill the server database with n rows of one local owner; returns the top serial."""
    engine = sa.create_engine(url)
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    owner_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(sa.insert(_table(SyncOwner)).values(
            id=owner_id, type="SyncOwner", incoming_serial=0, sync_serial=0))  # fmt: skip
        top = 0
        for start in range(0, n, 1000):
            key = conn.execute(sa.insert(_table(Serial))).inserted_primary_key
            assert key is not None
            top = int(key[0])
            chunk = rows(min(1000, n - start), "s")
            for row in chunk:
                row.update(sync_serial=top, sync_owner_id=owner_id)
            conn.execute(sa.insert(_table(Reading)), chunk)
    engine.dispose()
    return top


def measure_floor(src_url: str, dst_url: str) -> tuple[int, float]:
    """Core read of every row + executemany insert into an empty copy, one process."""
    src, dst = sa.create_engine(src_url), sa.create_engine(dst_url)
    meta = sa.MetaData()
    copy = sa.Table("reading_copy", meta, *(
        sa.Column(c.name, c.type, primary_key=c.primary_key)
        for c in _table(Reading).columns))  # fmt: skip
    meta.create_all(dst)
    start = time.perf_counter()
    with src.connect() as conn:
        got = [r._asdict() for r in conn.execute(sa.select(_table(Reading)))]
    with dst.begin() as conn:
        for i in range(0, len(got), 10_000):
            conn.execute(sa.insert(copy), got[i : i + 10_000])
    elapsed = time.perf_counter() - start
    src.dispose()
    dst.dispose()
    return len(got), elapsed


def measure_commit_floor(url: str, batches: int, size: int, prefill: int) -> float:
    """Plain ORM commits of the batches into a table already holding ``prefill`` rows."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table("plain_reading", meta, *(
        sa.Column(c.name, c.type, primary_key=c.primary_key)
        for c in _table(Reading).columns if not c.name.startswith("sync_")))  # fmt: skip

    class Plain(DeclarativeBase):
        pass

    class PlainReading(Plain):
        __table__ = table

    meta.create_all(engine)
    with engine.begin() as conn:
        for chunk in range(0, prefill, 10_000):
            conn.execute(
                table.insert(), rows(min(10_000, prefill - chunk), f"f{chunk}")
            )
    start = time.perf_counter()
    for b in range(batches):
        with Session(engine) as session:
            session.add_all(PlainReading(**r) for r in rows(size, f"p{b}"))
            session.commit()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed
