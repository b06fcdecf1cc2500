"""Transitions of SQL rows (PROTOCOL.md §15): :class:`SqlTransitionTrackerMixin`.

The object-model side (the per-manager tables, the wire form, ending and breaking) is
:mod:`entanglement.transition`; this module adds what rows in sessions need:

* **Entering a transition detaches the row.**  ``perform_transition`` (first call) and
  ``store_for_transition`` take the row out of its session, with its owner replaced by a
  detached copy, so that nothing of the transition is ever flushed and the row stays
  readable after the session is closed.  The attribute changes made before the first
  call are what the transition carries (they stay in the detached row's history).
* :class:`DirtyTransitionError`: the row cannot enter a transition while its session
  holds sync changes of it that are not committed: a pending insert or delete, or
  changes already *flushed* in the open transaction (an explicit ``flush()`` or an
  autoflush), which the session would otherwise commit behind the transition's back.
  Nothing is sent in that case.
* ``transition_modified_attrs`` is the changed mapped sync properties (their attribute
  history) plus the sync properties that are no column and have a value.
* Relays and the owner keep as provisional object a *detached copy* of the row (a new
  instance of the mapped class with the row's column values and a copy of its owner,
  :meth:`SqlTransitionTrackerMixin.transition_copy`): a shallow copy of an ORM instance
  would share its instance state, so the transition would write into the session's row.
  A row that construction had to create (the transition names keys this node does not
  store) is taken out of the receive session again: a transition never stores a row.
* **A local commit breaks a transition** held at the session's manager for the same row
  by another instance (§15 "SQL"): this module listens to ``SqlSyncSession`` flushes and
  commits itself.  A committed local change or deletion of a row without the
  transition's id breaks it (the initiator upstream gets ``BrokenTransition``; an
  owner's own transition future fails with it).  Committing the row that *is* in
  transition (with its ``transition_id``) is the owner's final ``sync``: the snapshot
  flooded carries the id, so neighbours release the transition, and the row leaves it.

Choices where the specification is silent:

* Only sessions with a manager break transitions at commit (the tables are per
  manager; a session without one cannot name them).  Such sessions still get
  :class:`DirtyTransitionError`.
* The initiator ends its transition with ``manager.synchronize(row,
  operation="forward", response=True)`` (``sync`` for an owner: adding the row to a
  session and committing it), as with in-memory objects: ``sync_commit()`` sends only
  the changed columns, without ``transition_id``, so the owner would take it for
  another change and break the transition.
* ``transition_id`` is a sync property that is no column: the owner drops it from the
  final message before applying it (:mod:`entanglement.transition`), so it is never
  stored; relays carry it on the instance only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from entanglement._exceptions import EntanglementError

# the §15 break (error upstream, or the owner's future fails)
from entanglement._transition_table import break_transition as _break_transition
from entanglement.sql.schema.model import SqlSynchronizable
from entanglement.sql.schema.plan import row_plan
from entanglement.sql.send.capture import (
    key_names,
    materialize,
    owner_of_detached,
    row_record,
    snapshot,
)
from entanglement.sql.send.session import SqlSyncSession
from entanglement.transition import TransitionTrackerMixin

__all__ = ["DirtyTransitionError", "SqlTransitionTrackerMixin"]

# session.info: the transition rows this transaction flushed, by id (object, deleted)
_FLUSHED_KEY = "entanglement_transition_flushed"


class DirtyTransitionError(EntanglementError):
    """A row was put into a transition while its session holds uncommitted changes
    of it (flushed changes, a pending insert or deletion).

    Args:
        obj: the row.
        reason: what the session holds.
    """

    def __init__(self, obj: Any, reason: str) -> None:
        keys = tuple(getattr(obj, name, None) for name in key_names(obj))
        super().__init__(
            f"{obj.sync_type} {keys!r} cannot enter a transition: its session {reason}"
            " (commit or roll back first)"
        )


class SqlTransitionTrackerMixin(TransitionTrackerMixin, SqlSynchronizable):
    """Transitions (§15) for SQL rows; list it before the declarative base.

    A row entering a transition leaves its session (see the module docstring).
    """

    __abstract__ = True

    def transition_modified_attrs(self) -> Iterable[str] | None:
        """The changed mapped sync properties, plus the sync properties that are no
        column (those that have a value)."""
        cls = type(self)
        state = sa.inspect(self)
        names = {
            name
            for name in cls._sync_properties
            if name in state.attrs and state.attrs[name].history.has_changes()
        }
        for name in row_plan(cls).extra_properties:
            if name in vars(self):
                names.add(name)
        return names

    def perform_transition(self, manager: Any) -> Any:
        """Send a step of this row's transition (§15); the first call detaches the row
        from its session.

        Raises:
            DirtyTransitionError: on the first call, if the row's session holds
                uncommitted changes of it; nothing is sent then.
        """
        if "_transition_future" not in vars(self):
            _detach(self)
        return super().perform_transition(manager)

    def store_for_transition(self, manager: Any, **kwargs: Any) -> None:
        """Record this row as in transition, detached from its session."""
        _detach(self)
        super().store_for_transition(manager, **kwargs)

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> SqlSynchronizable:
        """Route the message through the transition table (§15), then find or make
        the row (:meth:`SqlSynchronizable.sync_construct`)."""
        return cast(SqlSynchronizable, super().sync_construct(msg, **info))

    @classmethod
    def transition_copy(cls, obj: Any) -> Any:
        """A detached instance with ``obj``'s column values and a copy of its owner.

        ``obj`` is what construction found or made in the receive session; one made
        for the transition (not stored) is taken out of that session again.
        """
        provisional = materialize(row_record(obj, {}))
        session = Session.object_session(obj)
        if session is not None and obj in session.new:
            session.expunge(obj)
        return provisional


def _detach(row: Any) -> None:
    """Take ``row`` (and its owner, as a detached copy) out of its session."""
    session = Session.object_session(row)
    if session is None:
        return
    reason = _dirty_reason(session, row)
    if reason is not None:
        raise DirtyTransitionError(row, reason)
    with session.no_autoflush:  # the transition's own changes are never flushed
        for prop in sa.inspect(row).mapper.column_attrs:
            getattr(row, prop.key)  # (a subclass's columns may not be loaded yet)
        owner = owner_of_detached(row)
    session.expunge(row)
    if owner is not None:
        # a detached copy with the owner's identity: readable whatever becomes of the
        # session, and attached (never inserted) when the row joins a session again
        copy = snapshot(owner)
        make_transient_to_detached(copy)
        set_committed_value(row, "sync_owner", copy)


@event.listens_for(SqlSyncSession, "before_attach")
def _owner_of_session(session: Session, instance: Any) -> None:
    # A row back from its transition brings its owner copy along; a session that
    # already holds that owner would refuse a second instance of it: the row takes
    # the session's (attaching happens before the cascade to the owner).
    if not isinstance(instance, SqlTransitionTrackerMixin):
        return
    owner = instance_state(instance).dict.get("sync_owner")
    if owner is None or Session.object_session(owner) is session:
        return
    key = instance_state(owner).key
    held = session.identity_map.get(key) if key is not None else None
    if held is not None and held is not owner:
        set_committed_value(instance, "sync_owner", held)


def _dirty_reason(session: Session, row: Any) -> str | None:
    if row in session.new:
        return "has not stored it yet"
    if row in session.deleted:
        return "is deleting it"
    if id(row) in session.info.get(_FLUSHED_KEY, {}):
        return "has flushed changes of it that are not committed"
    return None


@event.listens_for(SqlSyncSession, "after_flush")
def _record_flushed(session: Session, flush_context: Any) -> None:
    # after_flush still shows the flush's objects in new/dirty/deleted, and the local
    # changes change capture recorded (sync_dirty / sync_deleted, managed sessions)
    flushed: dict[int, _Flushed] | None = None
    dirty = getattr(session, "sync_dirty", {})
    doomed = getattr(session, "sync_deleted", {})
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if not isinstance(obj, SqlTransitionTrackerMixin):
            continue
        if flushed is None:
            flushed = session.info.setdefault(_FLUSHED_KEY, {})
        values = instance_state(obj).dict
        deleted = id(obj) in doomed
        flushed[id(obj)] = _Flushed(
            obj,
            tuple(values.get(name) for name in key_names(obj)),
            deleted,
            None if deleted else values.get("transition_id"),
            deleted or id(obj) in dirty,
        )


class _Flushed(NamedTuple):
    obj: Any
    key: tuple[Any, ...]
    deleted: bool
    transition_id: str | None
    local: bool  # a change of a row we own, to be flooded at commit


@event.listens_for(SqlSyncSession, "after_commit")
def _break_on_commit(session: Session) -> None:
    flushed: dict[int, _Flushed] = session.info.pop(_FLUSHED_KEY, {})
    manager = getattr(session, "manager", None)
    if manager is None:
        return
    for entry in flushed.values():
        if entry.local:
            _committed(entry, manager)


@event.listens_for(SqlSyncSession, "after_rollback")
def _forget_flushed(session: Session) -> None:
    session.info.pop(_FLUSHED_KEY, None)


def _committed(entry: _Flushed, manager: Any) -> None:
    """A local commit of a row: the final state of its own transition, or a change
    that breaks the transition another instance of the row is in."""
    obj = entry.obj
    tracked = type(obj).transition_tracked_objects(manager).get(entry.key)
    if tracked is None:
        return
    if tracked is obj or (
        entry.transition_id is not None
        and entry.transition_id == getattr(tracked, "transition_id", None)
    ):
        tracked.remove_from_transition(broken=False)
        return
    _break_transition(tracked, {"manager": manager})
