"""Allocation of serial numbers (PROTOCOL.md §12.4): one ``sync_serial`` row per flush.

A serial must be unique, and serials must become visible in increasing order: a peer that
was told "you have everything up to serial s" never asks again for serials ≤ s, so a
transaction that commits serial 5 after another one committed serial 6 would lose its
rows for that peer.  A bare sequence gives uniqueness only.  We therefore serialise the
writers that allocate serials until they commit:

* PostgreSQL: ``LOCK TABLE sync_serial IN EXCLUSIVE MODE`` before the insert; the lock is
  held to the end of the transaction, so the next allocator waits for our commit.
* SQLite: the insert takes the database write lock, held to the end of the transaction,
  which gives the same ordering for free.
"""

from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from entanglement.sql.schema.tables import sync_serial

__all__ = ["allocate_serial"]


def allocate_serial(conn: Connection) -> int:
    """Insert one ``sync_serial`` row in the current transaction and return its number.

    Args:
        conn: a connection inside the transaction that will write the serial's rows.

    Returns:
        The new serial, greater than every serial committed before this transaction ends.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE sync_serial IN EXCLUSIVE MODE"))
    result = conn.execute(insert(sync_serial))
    serial = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if serial is None:  # pragma: no cover - every supported dialect reports the key
        raise RuntimeError("the database did not report the new sync_serial key")
    return int(serial)
