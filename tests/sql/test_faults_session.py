"""A commit that fails leaves no transaction open (issue 10, the fault suite).

A COMMIT refused on a busy SQLite file (a reader holds its shared lock past the busy
timeout) used to leave the session's transaction open: SQLAlchemy keeps it in its
"prepared" state until ``rollback()``, and SQLite keeps the file's write lock and a hot
journal meanwhile, so every other writer, the node's own receive sessions included,
failed on the busy timeout for as long as the session lived.  A
:class:`~entanglement.sql.SqlSyncSession` now rolls a failed commit back itself: the lock
is released at once and the session is usable again; the destinations loaded in it stay
loaded (a node's live destinations are: reloading them while the database is locked
failed in the middle of connecting).  Real SQLite files, a second connection as the
reader and as the other writer.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_helpers import Team

from entanglement.sql import SqlSyncDestination, SqlSyncRegistry, sync_session_maker


def _database(tmp_path: Path) -> tuple[Path, sa.Engine]:
    path = tmp_path / "app.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}?timeout=0.2")
    SqlSyncRegistry.create_bookkeeping(engine)
    Team.metadata.create_all(engine)
    with sync_session_maker(bind=engine)() as session:
        for i in range(50):
            session.add(Team(id=uuid.uuid4(), name=f"t{i}"))
        session.commit()
    return path, engine


def _other_writer_can_lock(path: Path) -> bool:
    conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def test_a_failed_commit_releases_the_write_lock(tmp_path: Path) -> None:
    path, engine = _database(tmp_path)
    reader = sqlite3.connect(path)
    try:
        session = sync_session_maker(bind=engine)()
        session.add(Team(id=uuid.uuid4(), name="blocked"))
        session.flush()  # the write lock (RESERVED) is taken here
        cursor = reader.execute("SELECT name FROM team")
        cursor.fetchone()  # an open cursor: the shared lock stays until it ends
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            session.commit()
        cursor.close()
        # the failed session no longer holds the file
        assert _other_writer_can_lock(path)
        # and it is usable again: its next transaction commits
        session.add(Team(id=uuid.uuid4(), name="after"))
        session.commit()
        names = set(session.scalars(sa.select(Team.name)))
        assert "after" in names
        assert "blocked" not in names
        session.close()
    finally:
        reader.close()
        engine.dispose()


def test_destinations_stay_loaded_through_that_rollback(tmp_path: Path, pki) -> None:
    path, engine = _database(tmp_path)
    with sync_session_maker(bind=engine)() as session:
        session.add(SqlSyncDestination(pki["b"].hash, "b", host="127.0.0.1", port=1))
        session.commit()
    reader = sqlite3.connect(path)
    locker = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        # as manager.session: no expiry on commit, the destinations loaded in it
        session = sync_session_maker(bind=engine)(expire_on_commit=False)
        dest = session.scalars(sa.select(SqlSyncDestination)).one()
        session.add(Team(id=uuid.uuid4(), name="blocked"))
        session.flush()
        cursor = reader.execute("SELECT name FROM team")
        cursor.fetchone()
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            session.commit()
        cursor.close()
        locker.execute("BEGIN EXCLUSIVE")  # nothing can be read now
        # an expired destination would reload here, and fail
        assert (dest.name, dest.host, dest.port) == ("b", "127.0.0.1", 1)
        assert dest.dest_hash == pki["b"].hash
        assert dest in session
        locker.execute("ROLLBACK")
        session.close()
    finally:
        locker.close()
        reader.close()
        engine.dispose()
