"""The resynchronisation protocol (PROTOCOL.md §12.8): handlers and the connect step.

On every connection, inside ``SqlSyncDestination.connected()`` (both ends): make sure a
local owner exists, send every owner we can offer this neighbour (local ones first), wait
for the queue to drain, send ``MyOwners``.  The neighbour answers each owner with
``IHave{serial}``; we answer that with the tombstones and rows newer than the serial, and
once they are written, ``YouHave{serial}``.

Fixed quirks:

* 35: a changed epoch really discards the owner's rows (committed) and resets
  ``incoming_serial`` to 0, so the IHave asks for everything.
* 17: a drop during the connect-time drain raises out of ``connected()`` (the driver's
  ``sync_drain`` fails on connection loss), so the connect algorithm retries.
* 19: an IHave is answered even when it arrives before our side registered the
  connection as live (the answer goes to the connecting connection).
* An owner received from another neighbour while a new connection's offer drains is
  offered to it as well (its flood skipped the connection, which was not live yet),
  so the new neighbour does not miss it until the next reconnect.
* Issue 9: a YouHave is recorded only up to the serial before the first row of its
  owner this node refused on this connection (see :mod:`entanglement.sql.receive.holds`);
  the refused rows are then in the next connection's IHave answer.  The wire is
  unchanged: the IHave simply carries a lower serial.
* 36: the forced resync of an owner (tombstone of an unknown type) persists the new
  outgoing epoch.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from entanglement.sql.receive.batch import take_failure
from entanglement.sql.receive.holds import forget_holds, take_hold
from entanglement.sql.receive.registry import SyncContext, commit
from entanglement.sql.receive.transient import drop_link_on_fault
from entanglement.sql.resync import answer
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.messages import IHave, MyOwners, YouHave
from entanglement.sql.schema.state import sql_state
from entanglement.sql.send.announce import schedule_you_have
from entanglement.sql.send.capture import snapshot

__all__ = [
    "incoming_i_have",
    "incoming_owner_delete",
    "incoming_sync",
    "resync_on_connect",
]

log = logging.getLogger("entanglement")


def _name(dest: Any) -> str:
    return f"{getattr(dest, 'name', None)!r} {getattr(dest, 'dest_hash', None)}"


# -- receiving -------------------------------------------------------------------------


def incoming_sync(obj: Any, context: SyncContext, **info: Any) -> None:
    """Dispatch a received SyncOwner, YouHave or MyOwners."""
    if isinstance(obj, SyncOwner):
        _incoming_owner(obj, context, **info)
    elif isinstance(obj, YouHave):
        _incoming_you_have(obj, context, **info)
    elif isinstance(obj, MyOwners):
        _incoming_my_owners(obj, context, **info)


def _incoming_owner(
    owner: SyncOwner, context: SyncContext, manager: Any, sender: Any, **info: Any
) -> None:
    session = context.session
    commit(session, info)
    if owner.clear_requested:
        owner.clear_requested = False
        owner.incoming_serial = 0
        count = owner.clear_all_objects(registries=manager.registries, session=session)
        commit(session, info)
        log.info(
            "%s: owner %s has a new epoch; cleared %d rows",
            _name(sender),
            owner.id,
            count,
        )
    i_have = IHave(int(owner.incoming_serial), snapshot(owner))
    manager.synchronize(i_have, destinations=[sender], operation="forward")


def _incoming_you_have(
    you_have: YouHave, context: SyncContext, manager: Any, sender: Any, **info: Any
) -> None:

    owner = you_have.sync_owner
    serial = int(you_have.serial)
    held, cap = take_hold(manager, sender, owner.id)
    if held and (cap is None or cap < serial):
        serial = _held_serial(sender, owner, serial, cap)
    if take_failure(manager, sender):
        log.error(
            "%s: not recording YouHave %d for %s: received rows were lost; reconnecting",
            _name(sender),
            serial,
            owner.id,
        )
        for protocol in list(manager.connections):  # the resync asks for them again
            if protocol.dest is sender:
                protocol.close()
    elif serial < owner.incoming_serial:
        log.warning(
            "%s: YouHave %d for %s is below our %d",
            _name(sender),
            serial,
            owner.id,
            owner.incoming_serial,
        )
    else:
        owner.incoming_serial = serial
        log.info(
            "%s: up to date with owner %s at serial %d", _name(sender), owner.id, serial
        )
    commit(context.session, info)
    for protocol in manager.connections:
        dest = protocol.dest
        if dest is not sender and owner.id in getattr(dest, "received_i_have", ()):
            schedule_you_have(manager, dest, owner.id)


def _held_serial(sender: Any, owner: SyncOwner, serial: int, cap: int | None) -> int:
    # Rows of this owner were refused (issue 9): record the serial only up to the
    # row before the first refused one, so they are asked for again next time.
    current = int(owner.incoming_serial)
    kept = current if cap is None else max(current, cap)
    log.warning(
        "%s: rows of owner %s were refused; recording serial %d, not %d (they are "
        "asked for again on the next connection)",
        _name(sender),
        owner.id,
        kept,
        serial,
    )
    return kept


def _incoming_my_owners(
    my_owners: MyOwners, context: SyncContext, manager: Any, sender: Any, **info: Any
) -> None:
    listed = my_owners.owner_ids()
    session = context.session
    learned = session.scalars(
        sa.select(SyncOwner).where(SyncOwner.dest_hash == sender.dest_hash)
    ).all()
    for owner in learned:
        if owner.id not in listed:
            log.info(
                "%s no longer offers owner %s; removing it", _name(sender), owner.id
            )
            remove_owner(manager, session, owner, exclude=sender)


def remove_owner(manager: Any, session: Any, owner: SyncOwner, *, exclude: Any) -> None:
    """Clear an owner's rows, tell the other neighbours, delete the owner; commit."""
    owner.clear_all_objects(registries=manager.registries, session=session)
    snap = snapshot(owner)
    session.delete(owner)
    commit(session, {})
    manager.synchronize(
        snap, exclude=[exclude], operation="delete", attributes_to_sync=("id",)
    )


def incoming_owner_delete(
    owner: SyncOwner, context: SyncContext, manager: Any, **info: Any
) -> None:
    """Delete of SyncOwner X from X's direction: clear, delete, commit (flood follows)."""
    owner.clear_all_objects(registries=manager.registries, session=context.session)
    context.session.delete(owner)
    commit(context.session, info)


def incoming_i_have(
    i_have: IHave,
    context: SyncContext,
    manager: Any,
    sender: Any,
    protocol: Any,
    **info: Any,
) -> None:
    """Answer an IHave in the background (the receive pipeline never waits).

    A busy or locked database drops the link (the sender would wait for the answer
    for as long as it lasts): the resync after reconnecting asks again.
    """

    owner_id = i_have.sync_owner.id
    serial = int(i_have.serial)
    manager.create_task(
        drop_link_on_fault(
            answer.answer_i_have(manager, sender, protocol, owner_id, serial),
            protocol,
            f"answering its IHave for {owner_id}",
        ),
        name=f"IHave {owner_id} from {getattr(sender, 'name', '?')}",
    )


# -- connecting ------------------------------------------------------------------------


async def resync_on_connect(dest: Any, manager: Any, protocol: Any) -> None:
    """§12.8.1: offer our owners to a new connection, then MyOwners.

    Owners that arrive while the offer drains are offered too: the connection is not
    live yet, so their flood (§12.8.2 step 6) skipped it, and nothing after this
    point awaits before it becomes live.
    """

    forget_holds(manager, dest)  # what was held is in this connection's IHave answers
    candidates = _offer(manager, dest, set())
    if not candidates:
        dest.first_local_owner = None
        return
    dest.first_local_owner = candidates[0].id
    await protocol.sync_drain()
    candidates += _offer(manager, dest, {owner.id for owner in candidates})
    ids = [str(o.id) for o in candidates]
    manager.synchronize(MyOwners(ids), destinations=[dest])


def _offer(manager: Any, dest: Any, offered: set[Any]) -> list[Any]:
    # The owners we may offer dest (local ones first), not offered yet: each sent.
    maker = sql_state(manager).sessionmaker
    assert maker is not None
    with maker(expire_on_commit=False) as session:
        ensure_local_owner(session)
        owners = session.scalars(
            sa.select(SyncOwner).where(
                sa.or_(
                    SyncOwner.dest_hash.is_(None), SyncOwner.dest_hash != dest.dest_hash
                )
            )
        ).all()
    owners = sorted(owners, key=lambda o: o.dest_hash is not None)
    fresh = [o for o in owners if o.id not in offered]
    candidates = [snapshot(o) for o in fresh if _may_send(manager, o, dest)]
    for owner in candidates:
        manager.synchronize(owner, destinations=[dest])
    return candidates


def _may_send(manager: Any, owner: SyncOwner, dest: Any) -> bool:
    info = {"manager": manager, "response_for": None, "operation": "sync"}
    registry = SyncOwner.sync_registry  # the meta registry (it imports this module)
    return bool(manager.should_send(owner, dest, registry, SyncOwner, **info))


def ensure_local_owner(session: Any) -> SyncOwner:
    """Return the first local owner, creating (and committing) one if there is none."""
    owner: SyncOwner | None = session.scalars(
        sa.select(SyncOwner)
        .where(SyncOwner.dest_hash.is_(None))
        .order_by(SyncOwner.sync_serial, SyncOwner.id)
        .limit(1)
    ).first()
    if owner is None:
        owner = SyncOwner()
        session.add(owner)
        session.commit()
    return owner
