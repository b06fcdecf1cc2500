"""entanglement.sql.receive.transient against real faults of real databases.

Which errors the node rides out (busy, locked, lock timeouts) and which it reports as a
database that cannot be written, as SQLite and PostgreSQL really raise them.  Not
marked ``faults``: quick.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from entanglement.sql.receive.transient import (
    MAX_DELAY,
    FaultEpisodes,
    database_name,
    is_read_only,
    is_transient,
    write_refusal,
)


def _error(engine: sa.Engine, statement: str) -> sa.exc.DBAPIError:
    with pytest.raises(sa.exc.DBAPIError) as info, engine.connect() as conn:
        conn.execute(sa.text(statement))
    return info.value


def test_a_locked_sqlite_file_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        exc = _error(engine, "SELECT * FROM t")
        assert is_transient(exc)
        assert not is_read_only(exc)
    finally:
        holder.close()
        engine.dispose()


def test_a_read_only_sqlite_file_refuses_the_probe(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    sqlite3.connect(path).executescript(
        "CREATE TABLE sync_destinations (id INTEGER PRIMARY KEY);"
    )
    writable = sa.create_engine(f"sqlite:///{path}")
    read_only = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert write_refusal(writable) is None
        assert write_refusal(read_only) == "attempt to write a readonly database"
        exc = _error(read_only, "INSERT INTO sync_destinations VALUES (1)")
        assert is_read_only(exc)
        assert not is_transient(exc)
        assert database_name(read_only) == str(path)
    finally:
        writable.dispose()
        read_only.dispose()


def test_other_errors_are_neither(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        exc = _error(engine, "SELECT * FROM no_such_table")
        assert not is_transient(exc)
        assert not is_read_only(exc)
        assert not is_transient(ValueError("database is locked"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_lock_timeouts_are_transient(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE t IN ACCESS EXCLUSIVE MODE"))
            waiter = sa.create_engine(postgres_url + "%20-clock_timeout%3D100ms")
            try:
                exc = _error(waiter, "SELECT * FROM t")
            finally:
                waiter.dispose()
            holder.rollback()
        assert is_transient(exc)
        assert not is_read_only(exc)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_read_only_postgresql_session_refuses_the_probe(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    read_only = sa.create_engine(
        postgres_url + "%20-cdefault_transaction_read_only%3Don"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE sync_destinations (id INTEGER)"))
        assert write_refusal(engine) is None
        reason = write_refusal(read_only)
        assert reason == "cannot execute UPDATE in a read-only transaction"
    finally:
        engine.dispose()
        read_only.dispose()


def test_an_episode_logs_once_backs_off_and_logs_its_end(caplog, tmp_path) -> None:
    path = tmp_path / "x.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.01})
    episodes = FaultEpisodes(database_name(engine), logging.getLogger("t"), 0.2)
    try:
        with caplog.at_level(logging.INFO, logger="t"):
            delays = [episodes.failed(_error(engine, "SELECT * FROM t"), "reading")
                      for _ in range(8)]  # fmt: skip
            episodes.succeeded()
            episodes.succeeded()
    finally:
        holder.close()
        engine.dispose()
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, MAX_DELAY, MAX_DELAY]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == (
        f"database {path} is unavailable (OperationalError: database is locked); "
        "reading is retried with backoff"
    )
    assert len(messages) == 2
    assert messages[1].startswith(f"database {path} is available again after ")
    assert messages[1].endswith(" s (8 failed attempt(s))")
    assert not episodes.active
    assert episodes.episodes == 1
