"""Reading the rows of an answer: one owner's rows of one hierarchy, in batches.

Rows are read one inheritance hierarchy at a time (all subclasses loaded with it), in
batches by ``sync_serial`` (keyset: each batch is its own query, read to the end); after
each batch we wait until the connection has written it, so memory stays bounded however
many rows a fresh peer needs, and no read stays open across that wait (an open SQLite
cursor holds the file's shared lock, which blocks every commit meanwhile).  An answer
covers the serials up to the owner's highest when it starts (rows and tombstones): what
changes meanwhile gets a higher serial and is left to the flood or the next push, so
the YouHave that follows never claims a change the separate reads missed.  A batch ends
with the serial of its BATCH-th row, found by a query of serials alone, so no row is read
twice; when the owner has more rows than a batch, SQLite is told to walk the
``sync_serial`` index (:class:`_Likely`), else each batch sorted all of them.

Reading (issue 12 item 2): a hierarchy stored in one table is read with Core, each row
straight into a new instance of its class (by the discriminator) whose ``__dict__`` gets
the column values: no identity map, no ORM loading.  ``sync_owner_id`` is not read: it is
the owner asked for (a legacy ownerless row, sent as that owner's, gets its id too).  Joined-table hierarchies are read by
the ORM.  Either way the instances go through the same send body, ``manager.synchronize``
and so the whole send policy chain: filters (:mod:`entanglement.sql.resync.filter`), the
registry's and the object's ``should_send``.  A Core-read instance is transient: its
columns and its ``sync_owner`` are loaded, relationships are not (a hook that reads one
gets what a new object has).  Each row is given the owner snapshot as its loaded
``sync_owner`` through its ``__dict__`` (what ``set_committed_value`` amounts to for an
attribute that is neither loaded nor changed), which keeps the row encodable without a
query.

Row condition C for owner X: ``sync_owner_id = X``, or ``sync_owner_id IS NULL`` when X
is the ``first_local_owner`` we announced to this neighbour (legacy ownerless rows).

Split off :mod:`entanglement.sql.resync.answer`, so that the filters' refilter
(:mod:`entanglement.sql.resync.filter`) reads rows the same way without importing the
answer, which calls the filters.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper, Session, with_polymorphic
from sqlalchemy.sql.elements import ColumnElement

from entanglement.sql.schema.bookkeeping import SyncDeleted
from entanglement.sql.schema.clearing import sql_hierarchies

__all__ = [
    "BATCH",
    "CorePlan",
    "answer_limit",
    "core_plan",
    "next_batch",
    "owner_condition",
    "row_reader",
]

BATCH = 2000


def answer_limit(manager: Any, session: Session, condition: Any) -> int:
    # The highest serial of the owner's rows and tombstones when the answer starts:
    # the answer covers (serial, limit] only.  Its batches are separate reads (no
    # cursor across the drains), so a row deleted or changed meanwhile gets a serial
    # above the limit and is no part of this answer: its tombstone or new version is
    # not claimed by the YouHave that follows (and is flooded or pushed on its own).
    tops = [
        session.scalar(
            sa.select(sa.func.max(SyncDeleted.sync_serial)).where(
                condition(SyncDeleted.sync_owner_id)
            )
        )
    ]
    for root in sql_hierarchies(manager.registries):
        tops.append(
            session.scalar(
                sa.select(sa.func.max(root.sync_serial)).where(
                    condition(root.sync_owner_id)
                )
            )
        )
    return max((int(top) for top in tops if top is not None), default=0)


def owner_condition(dest: Any, owner_id: uuid.UUID) -> Any:
    # walk=True: the owner's rows are many, so the serial index should lead (see
    # _Likely); otherwise the database's own choice (the owner's index)
    def owned(col: Any, walk: bool = False) -> Any:
        mark = _Likely if walk else _same
        if getattr(dest, "first_local_owner", None) == owner_id:
            return sa.or_(mark(col == owner_id), mark(col.is_(None)))
        return mark(col == owner_id)

    return owned


def _same(clause: Any) -> Any:
    return clause


class _Likely(ColumnElement[bool]):
    """``likely(clause)`` on SQLite, ``clause`` elsewhere.

    Without statistics SQLite reads an owner's rows through the owner's index and
    sorts them all for every batch (``ORDER BY sync_serial LIMIT``): an answer of N rows
    cost N²/BATCH row visits.  ``likely()`` (a planner hint, nothing at run time)
    makes it walk the ``sync_serial`` index instead, which reads each row once over
    the whole answer.  PostgreSQL's planner decides from its statistics.
    """

    inherit_cache = True
    type = sa.Boolean()

    def __init__(self, clause: Any) -> None:
        self.clause = clause


@compiles(_Likely)
def _likely_default(element: _Likely, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clause, **kw))


@compiles(_Likely, "sqlite")
def _likely_sqlite(element: _Likely, compiler: Any, **kw: Any) -> str:
    return f"likely({compiler.process(element.clause, **kw)})"


@dataclass(frozen=True, slots=True)
class _Reader:
    """How the rows of one hierarchy are read: statements and their loader."""

    rows_of: Any  # select of the owner's rows up to the answer's limit
    serials_of: Any  # select of their serials alone
    serial: Any  # the sync_serial column expression of both
    load: Callable[[Session, Any], list[Any]]


def row_reader(
    session: Session,
    root: Any,
    condition: Any,
    serials: tuple[int, int],
    owner_id: uuid.UUID,
) -> _Reader:
    plan = core_plan(root)
    entity = with_polymorphic(root, "*") if plan is None else None
    if entity is not None:  # joined-table inheritance: the ORM assembles the rows
        owner_col, serial, what = entity.sync_owner_id, entity.sync_serial, [entity]
    else:
        assert plan is not None
        owner_col, serial = plan.column("sync_owner_id"), plan.column("sync_serial")
        what = list(plan.columns)
    after, limit = serials
    owned = condition(owner_col)
    in_range = sa.and_(serial > after, serial <= limit)
    count = session.scalar(sa.select(sa.func.count()).where(owned, in_range))
    if (count or 0) > BATCH:
        owned = condition(owner_col, walk=True)
    rows_of = sa.select(*what).where(owned, serial <= limit)
    serials_of = sa.select(serial).where(owned, serial <= limit)
    load = _orm_rows if plan is None else functools.partial(plan.load, owner=owner_id)
    return _Reader(rows_of, serials_of, serial, load)


def _orm_rows(session: Session, stmt: Any) -> list[Any]:
    return list(session.scalars(stmt))


def next_batch(session: Session, reader: _Reader, after: int) -> list[Any]:
    # Each batch is a query read to its end before the drain: a cursor left open
    # across an await holds SQLite's shared lock, so every commit of this node (and
    # of the applications on its file) waited out the busy timeout meanwhile (issue
    # 10, the fault suite).  Keyset on sync_serial: the batch ends with the serial
    # of its BATCH-th row, whole (one flush gives many rows one serial), found by a
    # query of serials alone so that no row is read twice.
    serial = reader.serial
    cut = session.scalar(
        reader.serials_of.where(serial > after)
        .order_by(serial)
        .offset(BATCH - 1)
        .limit(1)
    )
    stmt = reader.rows_of.where(serial > after)
    if cut is not None:
        stmt = stmt.where(serial <= cut)
    return reader.load(session, stmt.order_by(serial))


@dataclass(frozen=True, slots=True)
class _ClassRows:
    """How a row of one class is made from a Core row of its table."""

    class_manager: Any
    keys: tuple[str, ...]  # the class's column attributes ...
    pick: Callable[[Any], tuple[Any, ...]]  # ... and their values from a Core row

    def make(self, row: Any, owner: uuid.UUID) -> Any:
        obj = self.class_manager.new_instance()
        values = obj.__dict__
        values.update(zip(self.keys, self.pick(row), strict=True))
        values["sync_owner_id"] = owner
        return obj


@dataclass(frozen=True, slots=True)
class CorePlan:
    """Reading a single-table hierarchy with Core: its columns, and a row per class."""

    columns: tuple[Any, ...]
    by_attr: dict[str, Any]
    discriminator: int | None  # index of the polymorphic column (None: one class)
    classes: dict[Any, _ClassRows]
    root: _ClassRows

    def column(self, key: str) -> Any:
        """The column mapped to attribute ``key``."""
        return self.by_attr[key]

    def load(self, session: Session, stmt: Any, owner: uuid.UUID) -> list[Any]:
        """The instances of the rows ``stmt`` selects, all sent as ``owner``'s."""
        result = session.execute(stmt)
        if self.discriminator is None:
            [make] = [c.make for c in self.classes.values()]
            return [make(row, owner) for row in result]
        where, classes, root = self.discriminator, self.classes, self.root
        # a kind this process does not map is read as the hierarchy's root class
        return [classes.get(row[where], root).make(row, owner) for row in result]


_PLANS: dict[type, CorePlan | None] = {}


def core_plan(root: Any) -> CorePlan | None:
    """The Core reading plan of a hierarchy (cached); None when it spans tables."""
    if root not in _PLANS:
        _PLANS[root] = _make_core_plan(root)
    return _PLANS[root]


def _make_core_plan(root: Any) -> CorePlan | None:
    mapper: Mapper[Any] = sa.inspect(root)
    table = mapper.local_table
    mappers = list(mapper.self_and_descendants)
    if any(m.local_table is not table for m in mappers):
        return None
    columns: dict[Any, int] = {}
    by_attr: dict[str, Any] = {}
    for m in mappers:
        for prop in m.column_attrs:
            [col] = prop.columns if len(prop.columns) == 1 else [None]
            if not isinstance(col, sa.Column) or col.table is not table:
                return None  # an expression or a column of another table
            by_attr.setdefault(prop.key, col)
            if prop.key != "sync_owner_id":  # known: the owner asked for
                columns.setdefault(col, len(columns))
    classes: dict[Any, _ClassRows] = {}
    for m in mappers:
        props = [prop for prop in m.column_attrs if prop.key != "sync_owner_id"]
        keys = tuple(prop.key for prop in props)
        indexes = [columns[prop.columns[0]] for prop in props]
        pick: Callable[[Any], tuple[Any, ...]] = operator.itemgetter(*indexes)
        if len(indexes) == 1:  # itemgetter of one index gives the value, not a tuple
            pick = _single(indexes[0])
        classes[m.polymorphic_identity] = _ClassRows(m.class_manager, keys, pick)
    on = mapper.polymorphic_on
    if on is not None and on not in columns:
        return None
    discriminator = columns[on] if on is not None else None
    root_rows = classes[mapper.polymorphic_identity]
    return CorePlan(tuple(columns), by_attr, discriminator, classes, root_rows)


def _single(index: int) -> Callable[[Any], tuple[Any, ...]]:
    return lambda row: (row[index],)
