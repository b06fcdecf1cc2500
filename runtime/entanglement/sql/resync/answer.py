"""Answering an IHave (PROTOCOL.md §12.8.3): tombstones, rows, then YouHave.

An answer covers the serials up to the owner's highest when it starts (rows and
tombstones): what changes meanwhile gets a higher serial and is left to the flood or the
next push, so the YouHave that follows never claims a change the separate reads missed.
The rows are read by :mod:`entanglement.sql.resync.rows` (also used by filters'
refilter), one hierarchy at a time in batches whose memory stays bounded and across
whose waits no read stays open; that module says how.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from entanglement.sql.resync.filter import before_catch_up
from entanglement.sql.resync.rows import (
    BATCH,
    answer_limit,
    core_plan,
    next_batch,
    owner_condition,
    row_reader,
)
from entanglement.sql.schema.bookkeeping import SyncDeleted, SyncOwner
from entanglement.sql.schema.clearing import sql_hierarchies
from entanglement.sql.schema.messages import YouHave
from entanglement.sql.schema.state import sql_state
from entanglement.sql.send.capture import snapshot

__all__ = ["BATCH", "answer_i_have", "core_plan"]  # BATCH, core_plan: from rows

log = logging.getLogger("entanglement")


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
        condition = owner_condition(dest, owner_id)
        limit = answer_limit(manager, session, condition)
        before_catch_up(manager, session, dest, owner_id, serial, condition)
        top = serial
        # A peer asking from 0 has no row of the owner, unless this connection already
        # carried an answer for it: a second IHave(0) sent before the first YouHave
        # arrived.  Then the deletes since 0 are owed too, or a row the first answer
        # sent and the owner deleted meanwhile would stay at the peer for good.
        if serial > 0 or owner_id in dest.received_i_have:
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
    reader = row_reader(session, root, condition, serials, owner_snap.id)
    destinations = [dest]
    while True:
        batch = next_batch(session, reader, top)
        if not batch:
            return top
        for row in batch:
            # every row here is X's (or, legacy, ownerless and sent as X's: quirk 42)
            row.__dict__["sync_owner"] = owner_snap
            manager.synchronize(row, destinations=destinations)
        top = int(batch[-1].sync_serial)
        del batch  # nothing else holds the rows: they go with the list
        await protocol.sync_drain()


def force_resync(manager: Any, session: Session, owner: SyncOwner) -> None:
    """A new outgoing epoch for ``owner``, persisted and announced to all but its hop."""
    owner.outgoing_epoch = dt.datetime.now(dt.UTC)
    session.commit()
    hop = manager.dest_by_hash(owner.dest_hash) if owner.dest_hash else None
    log.warning("forcing a full resynchronisation of owner %s", owner.id)
    manager.synchronize(snapshot(owner), exclude=[hop] if hop else [])
