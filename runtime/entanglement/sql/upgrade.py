"""Creating and upgrading the bookkeeping tables with Alembic (PROTOCOL.md §12.1).

Decision rule of :func:`upgrade_database` (the procedure behind
``SqlSyncRegistry.create_bookkeeping``):

1. the version table exists → upgrade to head;
2. else a "user table" exists (``sync_serial`` for the bookkeeping: a database the
   original made before it used Alembic) → stamp the given old revision, then upgrade;
3. else → ``create_all`` from the model and stamp head.

The revision chain starts with the original's ids (``5370406b7505`` → ``dc7778ec1ccc``)
so that databases written by the original upgrade in place; our revisions follow.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from entanglement.sql.tables import bookkeeping_metadata

__all__ = [
    "BOOKKEEPING_VERSION_TABLE",
    "PRE_ALEMBIC_REVISION",
    "bookkeeping_head",
    "create_bookkeeping_tables",
    "current_revision",
    "upgrade_database",
]

BOOKKEEPING_VERSION_TABLE = "entanglement_version"
PRE_ALEMBIC_REVISION = "5370406b7505"
_SCRIPT_LOCATION = str(Path(__file__).with_name("migrations"))


def upgrade_database(
    bind: Engine | Connection,
    metadata: sa.MetaData,
    script_location: str,
    version_table: str,
    user_table: str | None = None,
    user_table_version: str | None = None,
) -> None:
    """Create or upgrade the tables of ``metadata`` following the rule of this module.

    Args:
        bind: an engine or connection to the database.
        metadata: the tables the scripts manage (created directly on an empty database).
        script_location: directory of the Alembic scripts.
        version_table: name of the Alembic version table.
        user_table: a table whose presence marks a database made before Alembic.
        user_table_version: the revision such a database is stamped with.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _upgrade(
                conn,
                metadata,
                script_location,
                version_table,
                user_table,
                user_table_version,
            )
    else:
        _upgrade(
            bind,
            metadata,
            script_location,
            version_table,
            user_table,
            user_table_version,
        )


def _upgrade(
    conn: Connection,
    metadata: sa.MetaData,
    script_location: str,
    version_table: str,
    user_table: str | None,
    user_table_version: str | None,
) -> None:
    config = _config(conn, metadata, script_location, version_table)
    tables = set(sa.inspect(conn).get_table_names())
    if version_table in tables:
        command.upgrade(config, "head")
    elif user_table is not None and user_table in tables:
        command.stamp(config, user_table_version or "base")
        command.upgrade(config, "head")
    else:
        metadata.create_all(conn)
        command.stamp(config, "head")


def _config(
    conn: Connection, metadata: sa.MetaData, script_location: str, version_table: str
) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = conn
    config.attributes["target_metadata"] = metadata
    config.attributes["version_table"] = version_table
    return config


def create_bookkeeping_tables(bind: Engine | Connection) -> None:
    """Create or upgrade the bookkeeping tables (``sync_serial``, ``sync_owners``, ...)."""
    upgrade_database(
        bind,
        bookkeeping_metadata,
        _SCRIPT_LOCATION,
        BOOKKEEPING_VERSION_TABLE,
        user_table="sync_serial",
        user_table_version=PRE_ALEMBIC_REVISION,
    )


def bookkeeping_head() -> str:
    """The head revision of the bookkeeping scripts."""
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # the chain is never empty
    return head


def current_revision(bind: Engine | Connection) -> str | None:
    """The bookkeeping revision a database is at (None when never stamped)."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return current_revision(conn)
    ctx = MigrationContext.configure(
        bind, opts={"version_table": BOOKKEEPING_VERSION_TABLE}
    )
    return ctx.get_current_revision()
