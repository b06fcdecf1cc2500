"""Storing a receive batch's rows in one transaction, referenced rows first.

The receive batch (:mod:`entanglement.sql.receive.batch`) keeps, for each received row, a
:class:`Pending` entry: its class, its *snapshot* (the column values its hooks left in
it, and its owner's id) and the names its message carried.  :func:`store` writes a list
of them in the caller's transaction:

* which rows exist is asked with one light query per class and chunk (keys, owner and
  discriminator from the base table; ``IN`` a list of keys, or on PostgreSQL ``= ANY``
  one array of them, on SQLite ``IN`` the ``json_each`` of one JSON array of their
  stored values: the same statement whatever the number of keys);
* existing rows are loaded through the ORM and get the received attributes (only those
  the message carried), flushed at the commit;
* new rows are inserted with one ``executemany`` per table and set of columns, from the
  snapshots by the class's plan (:mod:`entanglement.sql.schema.plan`), compiled once
  (:mod:`entanglement.sql.receive.insert`), or with the ORM bulk INSERT for shapes the
  plan does not cover.

Rows of a class whose whole hierarchy lives in one table (on SQLite from 3.24) are
inserted first, unless their key is stored (``ON CONFLICT (key) DO
NOTHING``), rather than asked for: a catching-up peer receives mostly new rows, and
the existence query cost about as much as the insert.  Only when a table's inserts
left rows out are its rows looked up as above: the stored ones get the update (owner
and class checked; those just inserted are found too, and their update changes
nothing).  Other constraints than the key still refuse a row (the batch's isolation).
Joined-table hierarchies are asked first: a key stored in the parent's table as
another class must not get a child row.

Insert order (issue 13): PostgreSQL checks a foreign key at once, and a burst mixes
classes in the order the sender sent them (a catch-up answers one hierarchy at a time).
So the inserts of every class go table by table in the foreign-key order of the tables
involved (``sort_tables_and_constraints``; a joined child's table comes after its parent
and after every table its own keys name), and in a table that references itself the
rows a row names are inserted before it.  An ORM bulk INSERT (several tables in one
statement) takes the place of its class's last table.  Rows in a cycle of foreign keys
cannot be ordered; the database then refuses them (see the batch's isolation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import sort_tables_and_constraints

from entanglement.sql.receive.insert import insert_rows
from entanglement.sql.schema.plan import RowPlan, TablePlan, row_plan

__all__ = ["Pending", "store", "table_ranks"]

log = logging.getLogger("entanglement")
IN_CHUNK = 500
ARRAY_CHUNK = 2000


class Pending:
    """One received row waiting in the batch (its object is not kept).

    ``key`` is its key in the batch: its class's base mapper, then its primary-key
    values (``ident``).  A catch-up keeps thousands of entries alive until the
    commit, long enough for the cyclic garbage collector to move them to its oldest
    generation, whose full collections grow with what was moved there: an entry
    is kept to few objects (itself, its key, its values and theirs).
    """

    __slots__ = ("attributes", "cls", "key", "sender", "values")

    def __init__(
        self,
        cls: type[Any],
        key: tuple[Any, ...],
        values: dict[str, Any],
        attributes: frozenset[str],
        sender: Any,
    ) -> None:
        self.cls, self.key, self.values = cls, key, values
        self.attributes, self.sender = attributes, sender

    @property
    def ident(self) -> tuple[Any, ...]:
        """The row's primary-key values."""
        return self.key[1:]


def store(session: Any, entries: list[Pending]) -> None:
    """Write ``entries`` in ``session``'s transaction (the caller commits)."""
    groups: dict[type[Any], list[Pending]] = {}
    for entry in entries:
        groups.setdefault(entry.cls, []).append(entry)
    first = _inserts_first(session.get_bind().dialect)
    new: list[tuple[RowPlan, list[Pending]]] = []
    for cls, group in groups.items():
        plan = row_plan(cls)
        if first and plan.single_table:
            new.append((plan, group))  # its stored rows are found by the insert
            continue
        fresh, updates = _split(session, plan, group)
        if updates:
            _update(session, plan, updates)
        if fresh:
            new.append((plan, fresh))
    if not new:
        return
    conflicts: dict[type[Any], list[Pending]] = {}
    for entry in _insert(session, new):
        conflicts.setdefault(entry.cls, []).append(entry)
    for cls, group in conflicts.items():
        # rows of a table some of which were stored before: those get the update
        # (the others, just inserted, are found too, and their update changes nothing)
        plan = row_plan(cls)
        _, updates = _split(session, plan, group)
        if updates:
            _update(session, plan, updates)


def _inserts_first(dialect: Any) -> bool:
    # INSERT ... ON CONFLICT (key) DO NOTHING: SQLite from 3.24.  (PostgreSQL asks
    # first, with one array of keys: its new rows are then written by COPY, which
    # cannot leave stored keys out; see entanglement.sql.receive.insert.)
    return bool(
        dialect.name == "sqlite" and dialect.dbapi.sqlite_version_info >= (3, 24)
    )


def _split(
    session: Any, plan: RowPlan, group: list[Pending]
) -> tuple[list[Pending], list[Pending]]:
    # (rows not stored yet, stored rows to update: owner and class checked)
    stored = _stored_rows(session, plan, [entry.ident for entry in group])
    fresh: list[Pending] = []
    updates: list[Pending] = []
    for entry in group:
        found = stored.get(entry.ident)
        if found is None:
            fresh.append(entry)
        elif _acceptable(plan, entry, found):
            updates.append(entry)
    return fresh, updates


def _stored_rows(
    session: Any, plan: RowPlan, idents: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    # which rows exist, with their owner and concrete class: a light query on the base
    # table (a catching-up peer receives mostly new rows)
    base = plan.base_mapper
    pk = base.primary_key
    columns = [*pk, base.columns["sync_owner_id"]]
    discriminator = base.polymorphic_on
    if discriminator is not None:
        columns.append(discriminator)
    width = len(pk)
    stored: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    for condition, params in _key_conditions(session, pk, idents):
        for found in session.execute(sa.select(*columns).where(condition), params):
            kind = found[width + 1] if discriminator is not None else None
            stored[tuple(found[:width])] = (found[width], kind)
    return stored


def _key_conditions(
    session: Any, pk: Any, idents: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, dict[str, Any]]]:
    # PostgreSQL: one array parameter (``= ANY``), the same statement every time; an
    # IN list of hundreds of parameters costs several times more to send and plan
    dialect = session.get_bind().dialect
    if len(pk) == 1 and dialect.name == "postgresql":
        array = sa.bindparam("keys", type_=postgresql.ARRAY(pk[0].type))
        for i in range(0, len(idents), ARRAY_CHUNK):
            keys = [ident[0] for ident in idents[i : i + ARRAY_CHUNK]]
            yield pk[0] == sa.any_(array), {"keys": keys}
        return
    # SQLite: the same, as one JSON array of the stored key values (json_each)
    texts = _json_keys(pk, dialect, idents) if dialect.name == "sqlite" else None
    if texts is not None:
        listed: Any = sa.select(sa.column("value")).select_from(
            sa.func.json_each(sa.bindparam("keys", type_=sa.String()))
        )
        for text in texts:
            yield pk[0].in_(listed.scalar_subquery()), {"keys": text}
        return
    for i in range(0, len(idents), IN_CHUNK):
        chunk = idents[i : i + IN_CHUNK]
        if len(pk) == 1:
            yield pk[0].in_([ident[0] for ident in chunk]), {}
        else:
            yield sa.tuple_(*pk).in_(chunk), {}


def _json_keys(
    pk: Any, dialect: Any, idents: list[tuple[Any, ...]]
) -> list[str] | None:
    # The JSON arrays (one per chunk) of the key values as the column stores them
    # (its bind processor: a GUID's hex text); None when JSON cannot say them as
    # they are stored (not text or integers), or the SQLite has no json_each.
    if len(pk) != 1 or dialect.dbapi.sqlite_version_info < (3, 38, 0):
        return None
    process = pk[0].type._cached_bind_processor(dialect)
    keys = [ident[0] for ident in idents]
    if process is not None:
        keys = [process(key) for key in keys]
    if not all(type(key) is str or type(key) is int for key in keys):
        return None
    return [
        json.dumps(keys[i : i + ARRAY_CHUNK]) for i in range(0, len(keys), ARRAY_CHUNK)
    ]


def _acceptable(plan: RowPlan, entry: Pending, found: tuple[Any, Any]) -> bool:
    owner_id, kind = found
    name, ident = entry.cls.__name__, entry.ident
    received_owner = entry.values.get("sync_owner_id")
    if owner_id is not None and owner_id != received_owner:
        log.error(
            "ignoring %s %s: it is owned by %s, the message says %s",
            name,
            ident,
            owner_id,
            received_owner,
        )
        return False
    if kind is not None and kind not in plan.kinds:  # (a subclass's row is one of cls)
        log.error("ignoring %s %s: the stored row is a %s", name, ident, kind)
        return False
    return True


def _update(session: Any, plan: RowPlan, updates: list[Pending]) -> None:
    # the message's attributes only, through the ORM (validators, joined tables)
    cls = plan.mapper.class_
    loaded: dict[tuple[Any, ...], Any] = {}
    idents = [entry.ident for entry in updates]
    for condition, params in _key_conditions(session, plan.mapper.primary_key, idents):
        for found in session.scalars(sa.select(cls).where(condition), params):
            loaded[plan.ident(found.__dict__)] = found
    stored_columns = plan.stored_columns
    for entry in updates:
        stored = loaded.get(entry.ident)
        if stored is None:  # no discriminator told us: the stored row is no cls
            log.error(
                "ignoring %s %s: the stored row is another class",
                cls.__name__,
                entry.ident,
            )
            continue
        values = entry.values
        for name in entry.attributes:
            for column in stored_columns.get(name, ()):
                if column in values:
                    setattr(stored, column, values[column])


def _insert(session: Any, new: list[tuple[RowPlan, list[Pending]]]) -> list[Pending]:
    """Insert the rows of ``new`` in the foreign-key order of their tables; the rows
    of single-table classes are inserted unless their key is stored: the rows of
    the tables where some were stored are returned."""
    per_table: dict[sa.Table, list[tuple[TablePlan, Pending]]] = {}
    bulk: list[tuple[RowPlan, list[Pending]]] = []
    for plan, entries in new:
        if plan.tables is None:
            bulk.append((plan, entries))
            continue
        for table_plan in plan.tables:
            rows = per_table.setdefault(table_plan.table, [])
            rows.extend([(table_plan, entry) for entry in entries])
    rank = table_ranks([*per_table, *(t for plan, _ in bulk for t in _tables(plan))])
    jobs: list[tuple[int, int, Any]] = []
    for table, rows in per_table.items():
        jobs.append((rank[table], len(jobs), (table, rows)))
    for plan, entries in bulk:
        last = max(rank[table] for table in _tables(plan))
        jobs.append((last, len(jobs), (plan, entries)))
    conflicts: list[Pending] = []
    for _, _, job in sorted(jobs, key=lambda job: job[:2]):
        if isinstance(job[0], sa.Table):
            conflicts += _insert_table(session, *job)
        else:
            _insert_bulk(session, *job)
    return conflicts


def _tables(plan: RowPlan) -> list[sa.Table]:
    return [t for t in plan.mapper.tables if isinstance(t, sa.Table)]


def table_ranks(tables: list[sa.Table]) -> dict[sa.Table, int]:
    """The foreign-key order of ``tables`` (a cycle's tables last)."""
    rank: dict[sa.Table, int] = {}
    ordered = sort_tables_and_constraints(set(tables))  # type: ignore[no-untyped-call]
    for table, _constraints in ordered:
        if table is not None:
            rank[table] = len(rank)
    for table in tables:
        rank.setdefault(table, len(rank))
    return rank


def _insert_table(
    session: Any, table: sa.Table, rows: list[tuple[TablePlan, Pending]]
) -> list[Pending]:
    # the rows' entries if some were not inserted (their key was stored), else []
    values = [table_plan.values(entry.values) for table_plan, entry in rows]
    plan = rows[0][0]
    parents, cache = plan.parents, plan.inserts
    # (a table of single-table classes only: checked by store, per class)
    first = (
        _inserts_first(session.get_bind().dialect)
        and row_plan(rows[0][1].cls).single_table
    )
    if parents and len(values) > 1:
        # rows naming other rows of the burst in the same table: those first, and
        # one executemany per run of rows carrying the same columns
        runs = list(_runs(_parents_first(values, parents)))
    else:
        # a partial message makes a row with fewer columns (the column defaults
        # fill the others): rows carrying the same columns share one executemany
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in values:
            groups.setdefault(tuple(row), []).append(row)
        runs = list(groups.values())
    any_order = not parents  # (rows naming rows of the table keep their order)
    counts = [insert_rows(session, table, run, cache, first, any_order) for run in runs]
    # (a count the driver does not know, -1, is taken as rows left out)
    left_out = any(count < len(run) for count, run in zip(counts, runs, strict=True))
    return [entry for _, entry in rows] if first and left_out else []


def _insert_bulk(session: Any, plan: RowPlan, entries: list[Pending]) -> None:
    # the ORM bulk INSERT (see entanglement.sql.plan), from the snapshots' columns
    columns = plan.column_keys
    rows = [
        {k: v for k, v in entry.values.items() if k in columns} for entry in entries
    ]
    session.execute(sa.insert(plan.mapper.class_), rows)


def _runs(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    run: list[dict[str, Any]] = []
    for row in rows:
        if run and row.keys() != run[0].keys():
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _parents_first(
    rows: list[dict[str, Any]], parents: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """``rows`` reordered so that a row another row names (in the same table) comes
    before it; otherwise in their order.  A cycle keeps its order."""
    where = {
        target: {row[target]: i for i, row in enumerate(rows) if target in row}
        for _, target in parents
    }

    def named(i: int) -> list[int]:
        row = rows[i]
        found = (where[target].get(row.get(source)) for source, target in parents)
        return [j for j in found if j is not None and j != i]

    done = [0] * len(rows)  # 0: not yet, 1: on the path, 2: placed
    ordered: list[dict[str, Any]] = []
    for start in range(len(rows)):
        if done[start]:
            continue
        done[start] = 1
        path = [(start, iter(named(start)))]
        while path:
            i, pending = path[-1]
            for j in pending:
                if not done[j]:
                    done[j] = 1
                    path.append((j, iter(named(j))))
                    break
            else:
                path.pop()
                done[i] = 2
                ordered.append(rows[i])
    return ordered
