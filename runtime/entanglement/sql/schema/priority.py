"""``sync_priority`` of SQL classes: parents are sent before the rows that refer to them.

Lower numbers are sent first (§7.3).  Per MetaData the tables are ranked by foreign-key
depth: a table without foreign keys to other tables of its MetaData gets 100, any other
table gets one more than the highest of its parents (self references ignored).  So a child
is always strictly after each of its parents (quirk 40: the original let a parent and its
first child tie) and joined-inheritance subclasses come after their base.  The bookkeeping
``SyncOwner`` has a class-level priority of 50, ahead of every application row (quirk 40:
in the original it tied at 100, so an owner could be sent after its own rows).
Priorities are never transmitted.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper

__all__ = ["BASE_PRIORITY", "SyncPriority", "table_priorities"]

BASE_PRIORITY = 100
_memo: weakref.WeakKeyDictionary[sa.MetaData, dict[str, int]] = (
    weakref.WeakKeyDictionary()
)


def table_priorities(metadata: sa.MetaData) -> dict[str, int]:
    """Map table key → priority for every table of ``metadata`` (memoised).

    The memo is dropped when the MetaData gains tables, so classes declared later count.
    """
    cached = _memo.get(metadata)
    if cached is not None and len(cached) == len(metadata.tables):
        return cached
    result: dict[str, int] = {}
    for table in metadata.sorted_tables:
        parents = {
            fk.column.table.key
            for fk in table.foreign_keys
            if fk.column.table is not table and fk.column.table.key in result
        }
        result[table.key] = BASE_PRIORITY + (
            1 + max(result[p] - BASE_PRIORITY for p in parents) if parents else 0
        )
    _memo[metadata] = result
    return result


class SyncPriority:
    """Class-level descriptor giving a mapped class the priority of its own table.

    A class that assigns ``sync_priority = n`` itself shadows the descriptor.
    """

    # class -> (its MetaData's tables, their number when computed, priority), kept in
    # the class's own __dict__: read for every object sent, so it must be a dictionary
    # lookup (set with type.__setattr__, unseen by the declarative metaclass)

    def __get__(self, obj: object, owner: type | None = None) -> int:
        cls = owner if owner is not None else type(obj)
        cached = cls.__dict__.get(_SLOT)
        if cached is not None and len(cached[0]) == cached[1]:
            return int(cached[2])
        priority = _priority(cls)
        tables = _tables(cls)
        type.__setattr__(cls, _SLOT, (tables, len(tables), priority))
        return priority


_SLOT = "_sync_priority_cache"


def _tables(cls: type) -> Any:
    table = getattr(cls, "__table__", None)
    metadata = getattr(table, "metadata", None)
    return metadata.tables if metadata is not None else {}


def _priority(cls: type) -> int:
    mapper: Any = sa.inspect(cls, raiseerr=False)
    if not isinstance(mapper, Mapper) or not isinstance(mapper.local_table, sa.Table):
        return BASE_PRIORITY
    table = mapper.local_table
    if table.metadata is None:
        return BASE_PRIORITY
    return table_priorities(table.metadata).get(table.key, BASE_PRIORITY)
