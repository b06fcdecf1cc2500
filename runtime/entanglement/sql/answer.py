"""Answering an IHave (PROTOCOL.md §12.8.3): tombstones, rows, then YouHave.

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
and so the whole send policy chain: filters (:mod:`entanglement.sql.filter`), the
registry's and the object's ``should_send``.  A Core-read instance is transient: its
columns and its ``sync_owner`` are loaded, relationships are not (a hook that reads one
gets what a new object has).  Each row is given the owner snapshot as its loaded
``sync_owner`` through its ``__dict__`` (what ``set_committed_value`` amounts to for an
attribute that is neither loaded nor changed), which keeps the row encodable without a
query.

Row condition C for owner X: ``sync_owner_id = X``, or ``sync_owner_id IS NULL`` when X
is the ``first_local_owner`` we announced to this neighbour (legacy ownerless rows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper, Session, with_polymorphic
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from entanglement.sql.bookkeeping import SyncDeleted, SyncOwner
from entanglement.sql.capture import snapshot
from entanglement.sql.clearing import sql_hierarchies
from entanglement.sql.filter import before_catch_up
from entanglement.sql.meta import YouHave
from entanglement.sql.state import sql_state

__all__ = ["BATCH", "answer_i_have", "core_plan"]

log = logging.getLogger("entanglement")
BATCH = 2000


async def answer_i_have(
    manager: Any, dest: Any, protocol: Any, owner_id: uuid.UUID, serial: int
) -> None:
    """Send ``dest`` what it lacks of owner ``owner_id`` above ``serial``."""
    maker = sql_state(manager).sessionmaker
    assert maker is not None
    with maker(expire_on_commit=False) as session:
        owner = session.get(SyncOwner, owner_id)
        if owner is None:
            return
        owner_snap = snapshot(owner)
        condition = _condition(dest, owner_id)
        limit = _answer_limit(manager, session, condition)
        before_catch_up(manager, session, dest, owner_id, serial, condition)
        top = serial
        if serial > 0:
            replayed = await _replay_tombstones(
                manager, session, dest, protocol, owner, condition, (serial, limit)
            )
            if replayed is None:
                return
            top = max(top, replayed)
        for root in sql_hierarchies(manager.registries):
            top = max(
                top,
                await _send_rows(
                    manager,
                    session,
                    dest,
                    protocol,
                    root,
                    condition,
                    (serial, limit),
                    owner_snap,
                ),
            )
        await protocol.sync_drain()
        dest.received_i_have.add(owner_id)
        if owner.dest_hash is None:
            state = sql_state(manager)
            top = max(top, state.outgoing_serial.get(owner_id, 0))
            announce = top
        else:
            announce = int(owner.incoming_serial)
    log.info(
        "%s: sent owner %s from serial %d up to %d",
        dest.name,
        owner_id,
        serial,
        announce,
    )
    if announce > serial:
        manager.synchronize(YouHave(announce, owner_snap), destinations=[dest])


def _answer_limit(manager: Any, session: Session, condition: Any) -> int:
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


def _condition(dest: Any, owner_id: uuid.UUID) -> Any:
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


async def _replay_tombstones(
    manager: Any,
    session: Session,
    dest: Any,
    protocol: Any,
    owner: SyncOwner,
    condition: Any,
    serials: tuple[int, int],
) -> int | None:
    serial, limit = serials
    tombstones = session.scalars(
        sa.select(SyncDeleted)
        .where(
            condition(SyncDeleted.sync_owner_id),
            SyncDeleted.sync_serial > serial,
            SyncDeleted.sync_serial <= limit,
        )
        .order_by(SyncDeleted.sync_serial)
    ).all()
    top = serial
    owner_snap = snapshot(owner)
    for tomb in tombstones:
        cls = _registered(manager, tomb.sync_type)
        if cls is None:
            force_resync(manager, session, owner)
            return None
        manager.synchronize(
            _deleted_instance(cls, tomb, owner_snap),
            destinations=[dest],
            operation="delete",
            attributes_to_sync=tuple(cls.sync_primary_keys),
        )
        top = max(top, int(tomb.sync_serial))
    await asyncio.sleep(0)
    return top


def _registered(manager: Any, sync_type: str) -> Any:
    for registry in manager.registries:
        cls = registry.registry.get(sync_type)
        if cls is not None:
            return cls
    return None


def _deleted_instance(cls: Any, tomb: SyncDeleted, owner_snap: Any) -> Any:
    mapper = sa.inspect(cls)
    obj = mapper.class_manager.new_instance()
    for name, value in tomb.keys().items():
        set_committed_value(obj, name, cls._sync_properties[name].decode(value))
    set_committed_value(obj, "sync_serial", tomb.sync_serial)
    set_committed_value(obj, "sync_owner", owner_snap)
    obj.sync_deleting = True
    return obj


async def _send_rows(
    manager: Any,
    session: Session,
    dest: Any,
    protocol: Any,
    root: Any,
    condition: Any,
    serials: tuple[int, int],
    owner_snap: Any,
) -> int:
    top = serials[0]
    reader = _reader(session, root, condition, serials, owner_snap.id)
    destinations = [dest]
    while True:
        batch = _next_batch(session, reader, top)
        if not batch:
            return top
        for row in batch:
            # every row here is X's (or, legacy, ownerless and sent as X's: quirk 42)
            row.__dict__["sync_owner"] = owner_snap
            manager.synchronize(row, destinations=destinations)
        top = int(batch[-1].sync_serial)
        del batch  # nothing else holds the rows: they go with the list
        await protocol.sync_drain()


@dataclass(frozen=True, slots=True)
class _Reader:
    """How the rows of one hierarchy are read: statements and their loader."""

    rows_of: Any  # select of the owner's rows up to the answer's limit
    serials_of: Any  # select of their serials alone
    serial: Any  # the sync_serial column expression of both
    load: Callable[[Session, Any], list[Any]]


def _reader(
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


def _next_batch(session: Session, reader: _Reader, after: int) -> list[Any]:
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


def force_resync(manager: Any, session: Session, owner: SyncOwner) -> None:
    """A new outgoing epoch for ``owner``, persisted and announced to all but its hop."""
    owner.outgoing_epoch = dt.datetime.now(dt.UTC)
    session.commit()
    hop = manager.dest_by_hash(owner.dest_hash) if owner.dest_hash else None
    log.warning("forcing a full resynchronisation of owner %s", owner.id)
    manager.synchronize(snapshot(owner), exclude=[hop] if hop else [])
