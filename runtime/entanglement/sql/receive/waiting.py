"""Received rows whose foreign keys name rows that have not arrived yet (issue 13).

A burst is stored in foreign-key order (:mod:`entanglement.sql.receive.store`), but a referenced
row may come in a later burst: a catch-up answers one inheritance hierarchy at a time,
in serial order, so a joined child naming a type of another hierarchy, or a row naming
a row changed after it, can arrive before its target, and PostgreSQL (or SQLite with
``foreign_keys=ON``) refuses it at once.  When the database refuses a batch,
:func:`split_waiting` finds the rows that name (by a foreign key whose columns they all
carry) a row that is neither stored nor among the batch's other rows: the batch keeps
those for its next commit instead of refusing them (see :mod:`entanglement.sql.receive.batch`).
It costs one query per foreign key and chunk of keys, only after a refusal.

Rows inserted with the ORM bulk INSERT (shapes the per-table plan does not cover) are
not looked at: they are stored or refused as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from entanglement.sql.receive.store import IN_CHUNK, Pending
from entanglement.sql.schema.plan import row_plan

__all__ = ["split_waiting"]

# a row's need: (referenced table, referenced column keys, the key values)
_Need = tuple[sa.Table, tuple[str, ...], tuple[Any, ...]]


def split_waiting(
    session: Any, entries: list[Pending]
) -> tuple[list[Pending], list[Pending]]:
    """``(ready, waiting)``: ``waiting`` are the rows of ``entries`` that name a row
    neither stored nor provided by a ready row (both keep their order)."""
    needs = [_needs(entry) for entry in entries]
    if not any(needs):
        return entries, []
    stored = _stored(session, [need for row in needs for need in row])
    targets = {(table, columns) for row in needs for table, columns, _ in row}
    waiting: set[int] = set()
    while True:  # a row waiting for a waiting row waits too
        provided = _provided(entries, waiting, targets)
        more = {
            i
            for i, row in enumerate(needs)
            if i not in waiting
            and any(need not in stored and need not in provided for need in row)
        }
        if not more:
            break
        waiting |= more
    ready = [entry for i, entry in enumerate(entries) if i not in waiting]
    return ready, [entries[i] for i in sorted(waiting)]


def _needs(entry: Pending) -> list[_Need]:
    plan = row_plan(entry.cls)
    if plan.tables is None:
        return []
    needs: list[_Need] = []
    for table_plan in plan.tables:
        values = table_plan.values(entry.values)
        for constraint in table_plan.table.foreign_key_constraints:
            key = tuple(values.get(column) for column in constraint.column_keys)
            if None in key:
                continue  # a key it does not carry (or null) names nothing
            referred = tuple(element.column.key for element in constraint.elements)
            needs.append((constraint.referred_table, referred, key))
    return needs


def _provided(
    entries: list[Pending],
    waiting: set[int],
    targets: set[tuple[sa.Table, tuple[str, ...]]],
) -> set[_Need]:
    # the referenced keys the batch's ready rows would insert themselves
    provided: set[_Need] = set()
    for i, entry in enumerate(entries):
        plan = row_plan(entry.cls)
        if i in waiting or plan.tables is None:
            continue
        for table_plan in plan.tables:
            table = table_plan.table
            values: dict[str, Any] | None = None
            for target, columns in targets:
                if target is not table:
                    continue
                if values is None:
                    values = table_plan.values(entry.values)
                key = tuple(values.get(column) for column in columns)
                provided.add((table, columns, key))
    return provided


def _stored(session: Any, needs: Iterable[_Need]) -> set[_Need]:
    # which referenced keys exist: one query per target and chunk of keys
    wanted: dict[tuple[sa.Table, tuple[str, ...]], set[tuple[Any, ...]]] = {}
    for table, columns, key in needs:
        wanted.setdefault((table, columns), set()).add(key)
    found: set[_Need] = set()
    for (table, columns), keys in wanted.items():
        cols = [table.c[column] for column in columns]
        listed = list(keys)
        for i in range(0, len(listed), IN_CHUNK):
            chunk = listed[i : i + IN_CHUNK]
            if len(cols) == 1:
                condition = cols[0].in_([key[0] for key in chunk])
            else:
                condition = sa.tuple_(*cols).in_(chunk)
            for row in session.execute(sa.select(*cols).where(condition)):
                found.add((table, columns, tuple(row)))
    return found
