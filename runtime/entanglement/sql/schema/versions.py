"""Where the bookkeeping tables stand, read without Alembic (PROTOCOL.md §12.1).

:func:`ensure_bookkeeping` is what ``SqlSyncRegistry.create_bookkeeping`` runs on every
node start.  Most starts find a database whose bookkeeping is already at the head
revision; reading its version table answers that with one query, so the node neither
imports Alembic (a tenth of a second, and some 50,000 objects that every full garbage
collection of a long-running node would traverse) nor builds a migration context.
Anything else (no version table, another revision, several rows) goes to
:func:`entanglement.sql.schema.upgrade.create_bookkeeping_tables`, the one place that
creates, stamps and upgrades.  ``BOOKKEEPING_HEAD`` must name the last script of
``migrations/versions``: a test compares it with Alembic's own view of the chain.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "BOOKKEEPING_HEAD",
    "BOOKKEEPING_VERSION_TABLE",
    "PRE_ALEMBIC_REVISION",
    "bookkeeping_is_current",
    "ensure_bookkeeping",
]

BOOKKEEPING_VERSION_TABLE: Final = "entanglement_version"
PRE_ALEMBIC_REVISION: Final = "5370406b7505"
BOOKKEEPING_HEAD: Final = "4a6e2f0c9d1b"


def bookkeeping_is_current(bind: Engine | Connection) -> bool:
    """True when the version table holds exactly the head revision."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return bookkeeping_is_current(conn)
    if not sa.inspect(bind).has_table(BOOKKEEPING_VERSION_TABLE):
        return False
    table = sa.table(BOOKKEEPING_VERSION_TABLE, sa.column("version_num"))
    revisions = bind.execute(sa.select(table.c.version_num)).scalars().all()
    return revisions == [BOOKKEEPING_HEAD]


def ensure_bookkeeping(bind: Engine | Connection) -> None:
    """Create or upgrade the bookkeeping tables unless they are at head already."""
    if bookkeeping_is_current(bind):
        return
    from entanglement.sql.schema.upgrade import create_bookkeeping_tables

    create_bookkeeping_tables(bind)
