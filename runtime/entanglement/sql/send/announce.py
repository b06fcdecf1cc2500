"""YouHave announcements (PROTOCOL.md §12.8.5).

After a local commit (or the owner applying a forward, create or delete) every local
owner's ``outgoing_serial`` is raised to the new serial, and each live neighbour that has
sent us an IHave for that owner gets a YouHave after ``you_have_timeout`` (0.5 s by
default; tests set 0).  Per destination at most one announcement task runs; it sleeps,
takes the pending owners, waits until the connection has written everything queued
before (the rows the serial covers), sends the YouHaves and goes on while owners
accumulated meanwhile.  The task belongs to the manager (``manager.create_task``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import sqlalchemy as sa

from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.messages import YouHave
from entanglement.sql.schema.state import sql_state
from entanglement.sql.send.capture import snapshot

__all__ = ["schedule_you_have", "trigger_you_have"]

log = logging.getLogger("entanglement")


def _local_owner_ids(manager: Any) -> list[uuid.UUID]:
    state = sql_state(manager)
    if state.sessionmaker is None:
        return []
    with state.sessionmaker() as session:
        return list(
            session.scalars(
                sa.select(SyncOwner.id).where(SyncOwner.dest_hash.is_(None))
            )
        )


def trigger_you_have(manager: Any, serial: int) -> None:
    """Record a newly committed local serial and schedule the announcements."""
    if not serial:
        return
    state = sql_state(manager)
    for owner_id in _local_owner_ids(manager):
        state.outgoing_serial[owner_id] = max(
            state.outgoing_serial.get(owner_id, 0), serial
        )
        for protocol in manager.connections:
            dest = protocol.dest
            if owner_id in getattr(dest, "received_i_have", ()):
                schedule_you_have(manager, dest, owner_id)


def schedule_you_have(manager: Any, dest: Any, owner_id: uuid.UUID) -> None:
    """Add an owner to ``dest``'s announcements; start its task if none runs."""
    dest.send_you_have.add(owner_id)
    task = dest.you_have_task
    if task is None or task.done():
        dest.you_have_task = manager.create_task(
            _announce(manager, dest), name=f"YouHave to {dest.name}"
        )


async def _announce(manager: Any, dest: Any) -> None:
    while dest.send_you_have:
        await asyncio.sleep(dest.you_have_timeout)
        protocol = dest.protocol
        if protocol is None or protocol.closed:
            dest.send_you_have.clear()
            return
        owners, dest.send_you_have = dest.send_you_have, set()
        messages = _messages(manager, owners)
        await protocol.sync_drain()
        for message in messages:
            manager.synchronize(message, destinations=[dest])


def _messages(manager: Any, owner_ids: set[uuid.UUID]) -> list[YouHave]:
    state = sql_state(manager)
    assert state.sessionmaker is not None
    result = []
    with state.sessionmaker(expire_on_commit=False) as session:
        for owner_id in owner_ids:
            owner = session.get(SyncOwner, owner_id)
            if owner is None:
                continue
            if owner.dest_hash is None:
                serial = state.outgoing_serial.get(owner_id, 0)
            else:
                serial = int(owner.incoming_serial)
            if serial:
                result.append(YouHave(serial, snapshot(owner)))
    return result
