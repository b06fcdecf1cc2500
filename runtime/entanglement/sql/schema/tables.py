"""The bookkeeping tables of the SQL layer (PROTOCOL.md §12.1), as SQLAlchemy Core tables.

They live in a private :data:`bookkeeping_metadata` (applications' tables reference
``sync_owners`` by column object).  The ORM classes of :mod:`entanglement.sql.schema.bookkeeping`
map these tables; migrations and :func:`~entanglement.sql.schema.upgrade.create_bookkeeping`
only need the tables.

Choices and fixed quirks:

* ``sync_deleted_serial_idx`` is declared on the table, so ``create_all`` creates it too
  (quirk 39: the original only had it on migrated databases).  The FK of
  ``sync_deleted.sync_owner_id`` keeps ON DELETE CASCADE as the original's model says.
* ``sync_destinations.port`` (nullable) is ours (quirk 20): a per-destination port; NULL
  means the manager's port.  It is added to existing databases by our own migration.
* Epoch columns are ``DateTime(timezone=True)``; SQLite returns naive values, which the
  code reads as UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from entanglement.sql.schema.types import GUID, SqlDestHash

__all__ = [
    "bookkeeping_metadata",
    "migration_naming_convention",
    "sync_deleted",
    "sync_destinations",
    "sync_owners",
    "sync_serial",
    "utcnow",
]

migration_naming_convention = {
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ix": "ix_%(column_0_label)s",
}

bookkeeping_metadata = MetaData(naming_convention=migration_naming_convention)


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime (default of the epoch columns)."""
    return dt.datetime.now(dt.UTC)


def _local_now() -> dt.datetime:
    # The original stamps serial rows with the local wall clock; informative only.
    return dt.datetime.now()


sync_serial = Table(
    "sync_serial",
    bookkeeping_metadata,
    Column("serial", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", DateTime, nullable=True, default=_local_now),
)

sync_destinations = Table(
    "sync_destinations",
    bookkeeping_metadata,
    Column("id", Integer, primary_key=True),
    Column("dest_hash", SqlDestHash, nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("host", String(128), nullable=True),
    Column("bw_per_sec", Integer, nullable=False, default=10_000_000),
    Column("type", String, nullable=False),
    Column("port", Integer, nullable=True),
)

sync_owners = Table(
    "sync_owners",
    bookkeeping_metadata,
    Column("id", GUID, primary_key=True),
    Column("type", String, nullable=False),
    Column("dest_hash", SqlDestHash, nullable=True, index=True),
    Column("incoming_serial", Integer, nullable=False, default=0),
    Column("incoming_epoch", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("outgoing_epoch", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("sync_serial", Integer, nullable=False, index=True),
)

sync_deleted = Table(
    "sync_deleted",
    bookkeeping_metadata,
    Column("id", Integer, primary_key=True),
    Column("sync_type", String(128), nullable=False),
    Column("primary_key", Text, nullable=False),
    Column(
        "sync_owner_id",
        GUID,
        ForeignKey("sync_owners.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("sync_serial", Integer, nullable=False),
    Index("sync_deleted_serial_idx", "sync_owner_id", "sync_serial"),
)
