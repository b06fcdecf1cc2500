"""Finding the SQL classes of registries, and clearing an owner's rows (§12.3, §12.8.3).

``sql_hierarchies`` gives one entry per inheritance hierarchy (the base-most mapped class;
its subclasses load polymorphically), in registry iteration order, SyncOwner classes
skipped: the unit of both the IHave answer and of clearing.

Clearing deletes with one ``DELETE ... WHERE sync_owner_id = :owner`` per single-table
hierarchy, and through the ORM where joined-table inheritance spreads a row over several
tables.  Hierarchies are cleared children first (highest ``sync_priority`` first) so
foreign keys between application tables hold at every step.  The session's change capture
is bypassed: clearing writes no serials and no tombstones (§12.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, Session

from entanglement.sql.schema.model import HANDED, SqlSynchronizable

__all__ = ["capture_bypassed", "clear_owner_rows", "sql_hierarchies"]

BYPASS_KEY = "entanglement_sync_bypass"


def sql_hierarchies(registries: Iterable[Any]) -> list[type[Any]]:
    """The base-most mapped SqlSynchronizable classes of ``registries`` (no SyncOwner)."""
    roots: dict[type[Any], None] = {}
    for registry in registries:
        for cls in list(getattr(registry, "registry", {}).values()):
            if not isinstance(cls, type) or not issubclass(cls, SqlSynchronizable):
                continue
            owner_class = HANDED.owner_class  # SyncOwner (bookkeeping imports us)
            if owner_class is not None and issubclass(cls, owner_class):
                continue
            mapper = sa.inspect(cls, raiseerr=False)
            if isinstance(mapper, Mapper):
                roots.setdefault(mapper.base_mapper.class_, None)
    return list(roots)


@contextmanager
def capture_bypassed(session: Session) -> Iterator[None]:
    """Within this block the session's flushes skip serials and tombstones."""
    previous = session.info.get(BYPASS_KEY, False)
    session.info[BYPASS_KEY] = True
    try:
        yield
    finally:
        session.info[BYPASS_KEY] = previous


def clear_owner_rows(
    session: Session, owner_id: uuid.UUID, registries: Iterable[Any]
) -> int:
    """Delete the rows of every hierarchy owned by ``owner_id``; returns the count."""
    roots = sorted(sql_hierarchies(registries), key=lambda c: -int(c.sync_priority))
    deleted = 0
    with capture_bypassed(session):
        for root in roots:
            deleted += _clear_hierarchy(session, root, owner_id)
        session.flush()
    return deleted


def _clear_hierarchy(session: Session, root: type[Any], owner_id: uuid.UUID) -> int:
    mapper: Mapper[Any] = sa.inspect(root)
    tables = {m.local_table for m in mapper.self_and_descendants}
    if len(tables) == 1:
        table = mapper.local_table
        assert isinstance(table, sa.Table)
        result = session.execute(
            sa.delete(table).where(table.c.sync_owner_id == owner_id),
            execution_options={"synchronize_session": False},
        )
        for obj in list(session.identity_map.values()):
            if isinstance(obj, root) and obj.sync_owner_id == owner_id:
                session.expunge(obj)  # its row is gone
        return int(getattr(result, "rowcount", 0) or 0)
    rows = session.scalars(sa.select(root).where(root.sync_owner_id == owner_id)).all()
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
