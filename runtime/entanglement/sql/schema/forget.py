"""Deleting an owner's rows and tombstones with the owner (issue 10 items 3 and 4).

Deleting a ``SyncOwner`` (the spec is silent): the owner and everything it owns are gone,
as the schema's ``ON DELETE CASCADE`` says, on every backend (SQLite enforces foreign
keys only when asked, and databases created by the original's migration have no cascade
on ``sync_deleted``).  The flush that deletes an owner first calls :func:`forget_owner`:
it deletes the owner's tombstones and its rows in every mapped SqlSynchronizable table
present in the database with Core statements (nothing is loaded; no tombstones for them),
and expunges the session's objects of that owner.  The rest of the rule (who may delete
an owner, what is flooded) is in :mod:`entanglement.sql.schema.bookkeeping`.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, Session

from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.model import SqlSynchronizable
from entanglement.sql.schema.tables import sync_deleted

__all__ = ["forget_owner"]


def forget_owner(session: Session, owner_id: uuid.UUID) -> None:
    """In a flush deleting owner ``owner_id``: delete its tombstones and its rows.

    Rows go with Core ``DELETE`` statements (hierarchies of children first; in a
    joined-table hierarchy, the subclass tables before the base table), so no row is
    loaded; the session's objects of that owner are expunged.  Only tables present in
    the database are touched (a process may map classes of other databases).
    """
    inspector = sa.inspect(session.connection())
    seen: set[tuple[str | None, str]] = set()

    def present(table: sa.Table) -> bool:
        where = (table.schema, table.name)
        if where in seen or not inspector.has_table(table.name, schema=table.schema):
            return False
        seen.add(where)
        return True

    session.execute(
        sa.delete(sync_deleted).where(sync_deleted.c.sync_owner_id == owner_id)
    )
    for root in sorted(_mapped_roots(), key=lambda m: -int(m.class_.sync_priority)):
        base = root.local_table
        if isinstance(base, sa.Table) and "sync_owner_id" in base.c and present(base):
            _delete_owned(session, root, base, owner_id, present)
    for obj in [*session.identity_map.values(), *session.new]:
        values = sa.inspect(obj).dict
        if not isinstance(obj, SyncOwner) and (
            values.get("sync_owner_id") == owner_id
            or getattr(values.get("sync_owner"), "id", None) == owner_id
        ):
            session.expunge(obj)  # its row is gone (or never comes)


def _delete_owned(
    session: Session,
    root: Mapper[Any],
    base: sa.Table,
    owner_id: uuid.UUID,
    present: Any,
) -> None:
    owned = sa.select(*base.primary_key.columns).where(base.c.sync_owner_id == owner_id)
    depth: dict[sa.Table, int] = {}
    for mapper in root.self_and_descendants:
        table = mapper.local_table
        if isinstance(table, sa.Table) and table is not base:
            depth[table] = max(depth.get(table, 0), len(list(mapper.iterate_to_root())))
    for table in sorted(depth, key=lambda t: -depth[t]):
        if not present(table):
            continue
        keys = list(table.primary_key.columns)  # joined to the base table's keys
        match = keys[0].in_(owned) if len(keys) == 1 else sa.tuple_(*keys).in_(owned)
        session.execute(sa.delete(table).where(match))
    session.execute(sa.delete(base).where(base.c.sync_owner_id == owner_id))


def _mapped_roots() -> list[Mapper[Any]]:
    # the base mappers of every mapped SqlSynchronizable class but the owners
    roots: dict[Mapper[Any], None] = {}
    pending = list(SqlSynchronizable.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if issubclass(cls, SyncOwner):
            continue
        mapper = sa.inspect(cls, raiseerr=False)
        if isinstance(mapper, Mapper):
            roots.setdefault(mapper.base_mapper, None)
    return list(roots)
