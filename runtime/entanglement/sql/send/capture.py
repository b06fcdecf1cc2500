"""The work behind SqlSyncSession's events: recording, serials, snapshots, requests.

Everything here is synchronous.  The snapshots of local changes (detached copies built
without any query) are :mod:`entanglement.sql.send.snapshot`, re-exported here.

A new local row given the local owner at flush gets the owner's id in ``sync_owner_id``
and the relationship set as already loaded when that owner is stored, so the flush has no
relationship change to process (a pending row gets them, and its serial, straight in its
``__dict__``, which its INSERT reads, unless a validator or listener watches those
columns); an owner created in the same flush (quirk 42) is set through the relationship,
which makes the flush insert it first.  The requests for rows owned elsewhere are sent
by :mod:`entanglement.sql.send.requests` (which also records them, ``sync_commit``'s first
step); the queue of committed local changes is :class:`entanglement.sql.send.session.Outbox`.

A flush that deletes an owner first deletes what it owns (:func:`~entanglement.sql.
schema.forget.forget_owner`, issue 10 item 3); a session without a manager that is not one
of the node's own (:data:`NODE_SESSION_KEY`) refuses changes of rows owned elsewhere
(issue 10 item 8, see :mod:`entanglement.sql.send.session`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from entanglement.sql.schema.bookkeeping import (
    SyncOwner,
    remote_owner_refusal,
    remote_row_refusal,
    tombstone_for,
)
from entanglement.sql.schema.forget import forget_owner
from entanglement.sql.schema.model import SqlSynchronizable
from entanglement.sql.schema.plan import row_plan
from entanglement.sql.send.serials import allocate_serial
from entanglement.sql.send.snapshot import (
    key_names,
    materialize,
    owner_of,
    owner_of_detached,
    row_record,
    snapshot,
)

if TYPE_CHECKING:
    from entanglement.sql.send.session import SqlSyncSession

__all__ = [  # key_names ... snapshot: from snapshot.py, their old place
    "NODE_SESSION_KEY",
    "changed_names",
    "key_names",
    "materialize",
    "owner_of",
    "owner_of_detached",
    "prepare_flush",
    "refuse_unmanaged",
    "row_record",
    "snapshot",
    "snapshot_flushed",
]

# session.info key of the node's own sessions (receive contexts, manager.session): they
# store what arrives from an owner's direction, so they may write rows owned elsewhere
NODE_SESSION_KEY = "entanglement_node_session"


def _sync_instance(obj: object) -> bool:
    return isinstance(obj, SqlSynchronizable)


def _local_owner(session: Session, serial: _SerialOnce) -> SyncOwner:
    # The first local owner; one is created in this flush when there is none, so that
    # no row is ever written without an owner (quirk 42: such rows could not be sent).
    # An owner this flush deletes is never chosen.
    cached = session.info.get("entanglement_local_owner")
    if cached is not None and cached in session and cached.id not in serial.doomed:
        return cached  # type: ignore[no-any-return]
    query = sa.select(SyncOwner).where(SyncOwner.dest_hash.is_(None))
    if serial.doomed:
        query = query.where(SyncOwner.id.not_in(serial.doomed))
    with session.no_autoflush:
        owner = session.scalars(
            query.order_by(SyncOwner.sync_serial, SyncOwner.id).limit(1)
        ).first()
    if owner is None:
        owner = SyncOwner(sync_serial=serial())
        session.add(owner)
    session.info["entanglement_local_owner"] = owner
    return owner


def changed_names(obj: SqlSynchronizable, new: bool) -> AbstractSet[str]:
    """The sync properties of ``obj`` this flush writes (all of them for a new row)."""
    if new:  # every property: one shared set per class, not one per row
        return row_plan(type(obj)).property_names
    props = type(obj)._sync_properties
    state = sa.inspect(obj)
    return {
        name
        for name in props
        if name in state.attrs and state.attrs[name].history.has_changes()
    }


class _SerialOnce:
    # the flush's serial (allocated on first use), its local owner (looked up once)
    # and the owners it deletes
    def __init__(self, session: Session) -> None:
        self.session = session
        self.value: int | None = None
        self.owner: Any = None
        self.stored_owner = False
        self.doomed: set[Any] = set()

    def local_owner(self) -> SyncOwner:
        owner = self.owner
        if owner is None:
            owner = self.owner = _local_owner(self.session, self)
            self.stored_owner = instance_state(owner).key is not None
        return owner  # type: ignore[no-any-return]

    def __call__(self) -> int:
        if self.value is None:
            self.value = allocate_serial(self.session.connection())
        return self.value


def prepare_flush(session: SqlSyncSession) -> None:
    """before_flush: owners, serials and tombstones; refuse remote rows when managed."""
    serial = _SerialOnce(session)
    _forget_deleted_owners(session, serial)
    for obj in list(session.new):  # (session.new and .dirty are rebuilt per access)
        if isinstance(obj, SqlSynchronizable):
            _prepare_changed(session, obj, True, serial)
    for obj in list(session.dirty):  # persistent rows only: never one of the above
        if isinstance(obj, SqlSynchronizable) and session.is_modified(
            obj, include_collections=False
        ):
            _prepare_changed(session, obj, False, serial)
    for obj in list(session.deleted):
        if _sync_instance(obj):
            _prepare_deleted(session, obj, serial)


def _prepare_changed(
    session: SqlSyncSession, obj: Any, new: bool, serial: _SerialOnce
) -> None:
    values = instance_state(obj).dict
    if new and _new_local_row(session, obj, values, serial):
        return
    if (
        not isinstance(obj, SyncOwner)
        # a pending row's __dict__ holds all it has; a stored row's may be expired
        and (values.get("sync_owner_id") if new else obj.sync_owner_id) is None
        and values.get("sync_owner") is None
    ):
        owner: Any = serial.local_owner()
        if serial.stored_owner:
            # a stored owner: its id goes in the column and the relationship is set as
            # already loaded, so that the flush has no relationship change to process
            obj.sync_owner_id = owner.id
            set_committed_value(obj, "sync_owner", owner)
        else:  # created in this flush: the relationship makes it inserted first
            obj.sync_owner = owner
    else:
        owner = owner_of(session, obj)
    if owner is None or owner.dest_hash is None:
        obj.sync_serial = serial()
        if session.manager is not None:
            session.sync_dirty[id(obj)] = (obj, changed_names(obj, new))
    elif session.manager is not None:
        raise NotImplementedError(
            f"{obj.sync_type} is owned by {owner.id} at {owner.dest_hash}: call"
            " sync_commit() before commit() to send changes of rows owned elsewhere"
        )
    elif not _stores_owners_version(obj, new):
        refuse_unmanaged(session, obj, owner)


def _stores_owners_version(obj: Any, new: bool) -> bool:
    # A change of a row owned elsewhere that writes a serial stores a version of the
    # owner's (as a receive session, or a tool copying rows, does); one without is an
    # edit the owner has not made.
    if new:
        return instance_state(obj).dict.get("sync_serial") is not None
    return bool(sa.inspect(obj).attrs.sync_serial.history.has_changes())


def _new_local_row(
    session: SqlSyncSession, obj: Any, values: dict[str, Any], serial: _SerialOnce
) -> bool:
    # A new ownerless row while the local owner is stored: the owner's id and the serial
    # go into the pending row's __dict__, which the INSERT reads (no events, no
    # history).  The relationship is left unloaded: set, the flush would compute its
    # history for every row (objects that make the garbage collector run more often).
    # False for any other case, or when a bookkeeping column has a validator or
    # listener.
    if (
        values.get("sync_owner_id") is not None
        or values.get("sync_owner") is not None
        or isinstance(obj, SyncOwner)
        or not row_plan(type(obj)).plain_bookkeeping
    ):
        return False
    owner = serial.local_owner()
    if not serial.stored_owner:
        return False
    values["sync_owner_id"] = owner.id
    values["sync_serial"] = serial()
    if session.manager is not None:
        session.sync_dirty[id(obj)] = (obj, changed_names(obj, True))
    return True


def _forget_deleted_owners(session: SqlSyncSession, serial: _SerialOnce) -> None:
    # An owner's deletion takes its rows and tombstones with it, before anything else
    # of the flush is looked at (see entanglement.sql.schema.bookkeeping).
    for obj in list(session.deleted):
        if isinstance(obj, SyncOwner) and obj.id not in serial.doomed:
            if obj.dest_hash is not None and session.manager is not None:
                raise remote_owner_refusal(obj)
            serial.doomed.add(obj.id)
            forget_owner(session, obj.id)


def _prepare_deleted(session: SqlSyncSession, obj: Any, serial: _SerialOnce) -> None:
    owner = owner_of(session, obj)
    if owner is not None and owner.id in serial.doomed:
        # the owner goes too: no tombstone; ours is flooded as a SyncOwner delete
        if owner is obj and owner.dest_hash is None and session.manager is not None:
            session.sync_deleted[id(obj)] = obj
        return
    if owner is None or owner.dest_hash is None:
        value = serial()
        obj.sync_serial = value
        session.add(tombstone_for(obj, value))
        if session.manager is not None:
            session.sync_deleted[id(obj)] = obj
    elif session.manager is not None:
        raise NotImplementedError(
            f"{obj.sync_type} is owned by {owner.id} at {owner.dest_hash}: call"
            " sync_commit() before commit() to request its deletion from the owner"
        )
    else:
        refuse_unmanaged(session, obj, owner)


def refuse_unmanaged(session: Session, obj: Any, owner: Any) -> None:
    """Refuse an application's manager-less change of a row owned elsewhere.

    Called for an edit without a new serial, a deletion, or anything ``sync_commit``
    would have to send.

    Raises:
        SyncUnauthorized: unless ``session`` is one of the node's own sessions, or
            ``obj`` is an owner (bookkeeping, see :mod:`entanglement.sql.schema.bookkeeping`).
    """
    if not isinstance(obj, SyncOwner) and not session.info.get(NODE_SESSION_KEY):
        raise remote_row_refusal(obj, owner)


def snapshot_flushed(session: SqlSyncSession) -> None:
    """after_flush_postexec: queue snapshots of this flush's local changes."""
    owners: dict[Any, Any] = {}
    for obj, _changed in list(session.sync_dirty.values()):
        session.sync_outbox.add(_identity(obj), "sync", row_record(obj, owners))
    for obj in list(session.sync_deleted.values()):
        snap = snapshot(obj, owners, keys_only=True)
        snap.sync_deleting = True
        session.sync_outbox.add(_identity(obj), "delete", snap)
    session.sync_dirty.clear()
    session.sync_deleted.clear()


def _identity(obj: Any) -> Any:
    state = instance_state(obj)
    return state.identity_key if state.identity_key is not None else id(obj)
