"""The two common cases of the bookkeeping tables, done without Alembic (§12.1).

:func:`settle_bookkeeping` is what ``SqlSyncRegistry.create_bookkeeping`` runs first, on
every start of an application's node.  Nearly every start finds one of two databases,
and neither needs Alembic (a tenth of a second to import, and some 50,000 objects that
every full garbage collection of a long-running node would traverse).  ``entanglegen
node`` still imports it, for the generated packages' own migration chains:

* bookkeeping at the head revision (the version table holds exactly that row): one
  query, nothing to do;
* an empty database (neither the version table nor ``sync_serial``): ``create_all`` of
  the bookkeeping tables and the version table as Alembic makes it (``version_num
  VARCHAR(32) NOT NULL``, primary key ``<table>_pkc``) holding the head, which is what
  Alembic's "create_all, then stamp head" writes (a test compares both schemas).

Anything else (an older revision, several rows, a database of the original without a
version table) goes to :func:`entanglement.sql.schema.upgrade.create_bookkeeping_tables`
in the same transaction (the registry calls it: this module stays below ``upgrade``),
the one place that stamps and upgrades.  ``BOOKKEEPING_HEAD``
must name the last script of ``migrations/versions``: a test compares it with Alembic's
own view of the chain.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "BOOKKEEPING_HEAD",
    "BOOKKEEPING_VERSION_TABLE",
    "PRE_ALEMBIC_REVISION",
    "PRE_ALEMBIC_TABLE",
    "bookkeeping_is_current",
    "settle_bookkeeping",
]

BOOKKEEPING_VERSION_TABLE: Final = "entanglement_version"
PRE_ALEMBIC_REVISION: Final = "5370406b7505"
BOOKKEEPING_HEAD: Final = "4a6e2f0c9d1b"
# A table whose presence, without the version table, marks a database the original
# made before it used Alembic (stamped PRE_ALEMBIC_REVISION, then upgraded).
PRE_ALEMBIC_TABLE: Final = "sync_serial"


def bookkeeping_is_current(bind: Engine | Connection) -> bool:
    """True when the version table holds exactly the head revision."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return bookkeeping_is_current(conn)
    if not sa.inspect(bind).has_table(BOOKKEEPING_VERSION_TABLE):
        return False
    return _holds_only_head(bind)


def _holds_only_head(conn: Connection) -> bool:
    # (the caller knows the version table exists)
    table = sa.table(BOOKKEEPING_VERSION_TABLE, sa.column("version_num"))
    revisions = conn.execute(sa.select(table.c.version_num)).scalars().all()
    return revisions == [BOOKKEEPING_HEAD]


def settle_bookkeeping(conn: Connection) -> bool:
    """Handle the two common cases (see the module docstring); False when the
    database needs Alembic (the caller then runs ``create_bookkeeping_tables`` on the
    same connection)."""
    tables = set(sa.inspect(conn).get_table_names())
    if BOOKKEEPING_VERSION_TABLE in tables:
        return _holds_only_head(conn)
    if PRE_ALEMBIC_TABLE in tables:  # a database of the original, made before Alembic
        return False
    _create_at_head(conn)
    return True


def _create_at_head(conn: Connection) -> None:
    from entanglement.sql.schema.tables import bookkeeping_metadata

    bookkeeping_metadata.create_all(conn)
    version = sa.Table(
        BOOKKEEPING_VERSION_TABLE,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{BOOKKEEPING_VERSION_TABLE}_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=BOOKKEEPING_HEAD))
