"""Answering an IHave (PROTOCOL.md §12.8.3): tombstones, rows, then YouHave.

Rows are read one inheritance hierarchy at a time (all subclasses loaded with it), in
batches by ``sync_serial`` (keyset: each batch is its own query, read to the end); after
each batch we wait until the connection has written it, so memory stays bounded however
many rows a fresh peer needs, and no read stays open across that wait (an open SQLite
cursor holds the file's shared lock, which blocks every commit meanwhile).  An answer
covers the serials up to the owner's highest when it starts (rows and tombstones): what
changes meanwhile gets a higher serial and is left to the flood or the next push, so
the YouHave that follows never claims a change the separate reads missed.  The rows are
not expunged: a session's identity map holds unmodified rows weakly, so a written batch
is freed as soon as it is dropped (an expunge per row cost a tenth of the sending side's
time).  Each row is given the owner snapshot as its loaded ``sync_owner`` through its
``__dict__`` (what ``set_committed_value`` amounts to for an attribute that is neither
loaded nor changed), which keeps the row encodable without a query.

Row condition C for owner X: ``sync_owner_id = X``, or ``sync_owner_id IS NULL`` when X
is the ``first_local_owner`` we announced to this neighbour (legacy ownerless rows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, with_polymorphic
from sqlalchemy.orm.attributes import set_committed_value

from entanglement.sql.bookkeeping import SyncDeleted, SyncOwner
from entanglement.sql.capture import snapshot
from entanglement.sql.clearing import sql_hierarchies
from entanglement.sql.filter import before_catch_up
from entanglement.sql.meta import YouHave
from entanglement.sql.state import sql_state

__all__ = ["BATCH", "answer_i_have"]

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
    if getattr(dest, "first_local_owner", None) == owner_id:
        return lambda col: sa.or_(col == owner_id, col.is_(None))
    return lambda col: col == owner_id


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
    top, limit = serials
    entity = with_polymorphic(root, "*")
    rows_of = sa.select(entity).where(
        condition(entity.sync_owner_id), entity.sync_serial <= limit
    )
    destinations = [dest]
    while True:
        batch = _next_batch(session, entity, rows_of, top)
        if not batch:
            return top
        for row in batch:
            # every row here is X's (or, legacy, ownerless and sent as X's: quirk 42)
            row.__dict__["sync_owner"] = owner_snap
            manager.synchronize(row, destinations=destinations)
        top = int(batch[-1].sync_serial)
        del batch  # unmodified rows: the identity map lets them go with the list
        await protocol.sync_drain()


def _next_batch(session: Session, entity: Any, rows_of: Any, after: int) -> list[Any]:
    # Each batch is a query read to its end before the drain: a cursor left open
    # across an await holds SQLite's shared lock, so every commit of this node (and
    # of the applications on its file) waited out the busy timeout meanwhile (issue
    # 10, the fault suite).  Keyset on sync_serial; the rows of the batch's last
    # serial (one flush can give many rows one serial) are all taken with it.
    batch = session.scalars(
        rows_of.where(entity.sync_serial > after)
        .order_by(entity.sync_serial)
        .limit(BATCH)
    ).all()
    if len(batch) < BATCH:
        return list(batch)
    last = batch[-1].sync_serial
    head = [row for row in batch if row.sync_serial != last]
    return head + list(session.scalars(rows_of.where(entity.sync_serial == last)))


def force_resync(manager: Any, session: Session, owner: SyncOwner) -> None:
    """A new outgoing epoch for ``owner``, persisted and announced to all but its hop."""
    owner.outgoing_epoch = dt.datetime.now(dt.UTC)
    session.commit()
    hop = manager.dest_by_hash(owner.dest_hash) if owner.dest_hash else None
    log.warning("forcing a full resynchronisation of owner %s", owner.id)
    manager.synchronize(snapshot(owner), exclude=[hop] if hop else [])
