"""create_bookkeeping: fresh databases, databases of the original, and the Alembic chain.

Each case runs through both entry points: ``SqlSyncRegistry.create_bookkeeping`` (what a
node calls: its version check first, Alembic only when something is to do) and
``create_bookkeeping_tables`` (Alembic always).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from entanglement._hashes import DestHash
from entanglement.sql import SqlSyncRegistry
from entanglement.sql.schema.tables import bookkeeping_metadata
from entanglement.sql.schema.upgrade import (
    bookkeeping_head,
    create_bookkeeping_tables,
    current_revision,
)
from entanglement.sql.schema.versions import BOOKKEEPING_HEAD, bookkeeping_is_current

CREATE: dict[str, Callable[[sa.Engine], None]] = {
    "registry": SqlSyncRegistry.create_bookkeeping,
    "alembic": create_bookkeeping_tables,
}
create_kind = pytest.mark.parametrize("create", sorted(CREATE))

HASH = DestHash.from_string("peer")
OWNER = uuid.uuid4()


def _pk(engine: sa.Engine) -> str:
    return (
        "SERIAL PRIMARY KEY"
        if engine.dialect.name == "postgresql"
        else "INTEGER PRIMARY KEY"
    )


def _original_tables(engine: sa.Engine, *, split: bool) -> None:
    """Tables as the original's model made them with create_all (no tombstone index)."""
    owner_link = (
        "dest_hash VARCHAR(60)"
        if split
        else "destination_id INTEGER REFERENCES sync_destinations(id) ON DELETE CASCADE"
    )
    statements = [
        f"CREATE TABLE sync_serial (serial {_pk(engine)}, timestamp TIMESTAMP)",
        f"CREATE TABLE sync_destinations (id {_pk(engine)}, dest_hash VARCHAR(60) NOT NULL"
        " UNIQUE, name VARCHAR(64) NOT NULL, host VARCHAR(128), bw_per_sec INTEGER NOT NULL,"
        " type VARCHAR NOT NULL)",
        f"CREATE TABLE sync_owners (id VARCHAR(32) PRIMARY KEY, type VARCHAR NOT NULL,"
        f" {owner_link}, incoming_serial INTEGER NOT NULL, incoming_epoch TIMESTAMP NOT NULL,"
        " outgoing_epoch TIMESTAMP NOT NULL, sync_serial INTEGER NOT NULL)",
        "CREATE INDEX ix_sync_owners_sync_serial ON sync_owners (sync_serial)",
        f"CREATE TABLE sync_deleted (id {_pk(engine)}, sync_type VARCHAR(128) NOT NULL,"
        " primary_key TEXT NOT NULL, sync_owner_id VARCHAR(32) REFERENCES sync_owners(id)"
        " ON DELETE CASCADE, sync_serial INTEGER NOT NULL)",
        "INSERT INTO sync_destinations (dest_hash, name, host, bw_per_sec, type) VALUES"
        f" ('{HASH}', 'peer', 'peer.example', 1000, 'SqlSyncDestination')",
        "INSERT INTO sync_serial (timestamp) VALUES ('2020-01-02 03:04:05')",
    ]
    link_index = "dest_hash" if split else "destination_id"
    statements.insert(
        4, f"CREATE INDEX ix_sync_owners_{link_index} ON sync_owners ({link_index})"
    )
    link_value = f"'{HASH}'" if split else "1"
    link_col = "dest_hash" if split else "destination_id"
    statements.append(
        f"INSERT INTO sync_owners (id, type, {link_col}, incoming_serial, incoming_epoch,"
        f" outgoing_epoch, sync_serial) VALUES ('{OWNER.hex}', 'SyncOwner', {link_value}, 7,"
        " '2020-01-02 03:04:05', '2020-01-02 03:04:05', 1)"
    )
    statements.append(
        "INSERT INTO sync_deleted (sync_type, primary_key, sync_owner_id, sync_serial)"
        f" VALUES ('Team', '{{\"id\": 1}}', '{OWNER.hex}', 5)"
    )
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
        if split:
            conn.execute(
                sa.text(
                    "CREATE TABLE entanglement_version (version_num"
                    " VARCHAR(32) NOT NULL PRIMARY KEY)"
                )
            )
            conn.execute(
                sa.text("INSERT INTO entanglement_version VALUES ('dc7778ec1ccc')")
            )


def _assert_current_shape(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    owner_cols = {c["name"] for c in inspector.get_columns("sync_owners")}
    assert "dest_hash" in owner_cols
    assert "destination_id" not in owner_cols
    assert "port" in {c["name"] for c in inspector.get_columns("sync_destinations")}
    index_names = {ix["name"] for ix in inspector.get_indexes("sync_deleted")}
    assert "sync_deleted_serial_idx" in index_names
    assert "ix_sync_owners_dest_hash" in {
        ix["name"] for ix in inspector.get_indexes("sync_owners")
    }
    assert current_revision(engine) == bookkeeping_head()


def _assert_original_data_kept(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        owner = conn.execute(
            sa.text("SELECT id, dest_hash, incoming_serial FROM sync_owners")
        )
        assert owner.one() == (OWNER.hex, str(HASH), 7)
        assert conn.execute(sa.text("SELECT count(*) FROM sync_deleted")).scalar() == 1
        assert (
            conn.execute(sa.text("SELECT max(serial) FROM sync_serial")).scalar() == 1
        )


@create_kind
def test_empty_database_is_created_and_stamped_at_head(
    engine: sa.Engine, create: str
) -> None:
    CREATE[create](engine)
    _assert_current_shape(engine)
    assert bookkeeping_head() not in {"5370406b7505", "dc7778ec1ccc"}


@create_kind
def test_pre_alembic_database_of_the_original_is_upgraded(
    engine: sa.Engine, create: str
) -> None:
    _original_tables(engine, split=False)
    CREATE[create](engine)
    _assert_current_shape(engine)
    _assert_original_data_kept(engine)


@create_kind
def test_database_at_the_originals_head_is_upgraded(
    engine: sa.Engine, create: str
) -> None:
    # quirk 39: made by create_all, so the tombstone index is missing until our revision
    _original_tables(engine, split=True)
    assert "sync_deleted_serial_idx" not in {
        ix["name"] for ix in sa.inspect(engine).get_indexes("sync_deleted")
    }
    CREATE[create](engine)
    _assert_current_shape(engine)
    _assert_original_data_kept(engine)


@create_kind
def test_create_bookkeeping_is_idempotent(engine: sa.Engine, create: str) -> None:
    CREATE[create](engine)
    CREATE[create](engine)
    _assert_current_shape(engine)


def test_the_head_constant_is_the_chains_head() -> None:
    # The version check trusts BOOKKEEPING_HEAD: a new migration script must move it.
    assert bookkeeping_head() == BOOKKEEPING_HEAD


@create_kind
def test_only_the_head_revision_counts_as_current(
    engine: sa.Engine, create: str
) -> None:
    assert not bookkeeping_is_current(engine)  # no version table
    _original_tables(engine, split=True)  # version table at the original's head
    assert not bookkeeping_is_current(engine)
    CREATE[create](engine)
    assert bookkeeping_is_current(engine)
    with engine.begin() as conn:  # two rows (branches Alembic would have to merge)
        conn.execute(
            sa.text("INSERT INTO entanglement_version VALUES ('dc7778ec1ccc')")
        )
    assert not bookkeeping_is_current(engine)


def _start_imports_alembic(url: str) -> bool:
    """Whether a fresh interpreter's ``create_bookkeeping`` on ``url`` imports Alembic."""
    code = (
        "import sys, sqlalchemy as sa; from entanglement.sql import SqlSyncRegistry;"
        f" e = sa.create_engine({url!r}); SqlSyncRegistry.create_bookkeeping(e);"
        " print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


@pytest.mark.parametrize("start", ["fresh", "at head", "behind"])
def test_only_a_database_needing_alembic_imports_it(tmp_path: Path, start: str) -> None:
    url = f"sqlite:///{tmp_path / 'node.db'}"
    engine = sa.create_engine(url)
    if start == "at head":
        SqlSyncRegistry.create_bookkeeping(engine)
    elif start == "behind":
        _original_tables(engine, split=True)
    assert _start_imports_alembic(url) == (start == "behind")
    assert current_revision(engine) == bookkeeping_head()
    engine.dispose()


def _schema(engine: sa.Engine) -> dict[str, object]:
    inspector = sa.inspect(engine)
    shape: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = (
            [
                (c["name"], str(c["type"]), c["nullable"])
                for c in inspector.get_columns(table)
            ],
            inspector.get_pk_constraint(table),
            sorted(
                (ix["name"], tuple(ix["column_names"]))
                for ix in inspector.get_indexes(table)
            ),
            sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
        )
    return shape


def test_an_empty_database_gets_the_schema_alembic_would_make(
    engine: sa.Engine,
) -> None:
    # The node's own "create_all + version row" must be what Alembic's "create_all,
    # then stamp head" makes, version table included; Alembic then reads it as head.
    create_bookkeeping_tables(engine)
    by_alembic = _schema(engine)
    with engine.begin() as conn:
        for table in (
            "entanglement_version",
            *reversed([t.name for t in bookkeeping_metadata.sorted_tables]),
        ):
            conn.execute(sa.text(f"DROP TABLE {table}"))
    assert sa.inspect(engine).get_table_names() == []
    SqlSyncRegistry.create_bookkeeping(engine)
    assert _schema(engine) == by_alembic
    assert current_revision(engine) == bookkeeping_head()
    create_bookkeeping_tables(engine)  # Alembic finds nothing to do
    assert _schema(engine) == by_alembic
