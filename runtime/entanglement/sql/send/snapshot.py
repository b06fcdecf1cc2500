"""Detached snapshots of rows, and the owner a row names (for the send paths).

Snapshots are detached copies built without any query: a new instance of the mapped
class whose column attributes (and owner) are set as committed values, so that the send
loop can encode them long after the session has moved on.  A full snapshot gets its
column values straight into the new instance's ``__dict__`` (what
``set_committed_value`` amounts to on an instance that never joins a session), with the
per-class column list of :func:`~entanglement.sql.schema.plan.row_plan`; it is kept as a
:func:`row_record` until it is sent, then :func:`materialize` makes the instance.

The flush capture (:mod:`entanglement.sql.send.capture`) takes them for every local
change and re-exports these names, their old place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.model import SqlSynchronizable
from entanglement.sql.schema.plan import row_plan

__all__ = [
    "key_names",
    "materialize",
    "owner_of",
    "owner_of_detached",
    "row_record",
    "snapshot",
]


def key_names(obj: Any) -> tuple[str, ...]:
    """The primary-key property names of ``obj``'s class (none for ``Unique``)."""
    keys = type(obj).sync_primary_keys
    return () if keys == "Unique" else tuple(keys)


def owner_of(session: Session, obj: SqlSynchronizable) -> SyncOwner | None:
    """The owner row of ``obj`` (its relationship, else looked up by id)."""
    if isinstance(obj, SyncOwner):
        return obj
    values = instance_state(obj).dict
    owner = values.get("sync_owner")
    if owner is not None:
        return owner  # type: ignore[no-any-return]
    owner_id = values.get("sync_owner_id")
    if owner_id is None:
        return None
    with session.no_autoflush:
        return session.get(SyncOwner, owner_id)


def snapshot(
    obj: Any,
    owners: dict[Any, Any] | None = None,
    *,
    keys_only: bool = False,
    names: set[str] | None = None,
) -> Any:
    """A detached copy of ``obj`` that can be encoded later without a session.

    Args:
        obj: the mapped instance.
        owners: cache of owner snapshots (one per owner per batch).
        keys_only: copy only primary keys, ``sync_serial`` and the owner.
        names: copy only these attributes (plus keys, serial and owner).
    """
    owners = owners if owners is not None else {}
    if names is None and not keys_only:
        return materialize(row_record(obj, owners))
    state = instance_state(obj)
    mapper: Mapper[Any] = state.mapper
    copy = mapper.class_manager.new_instance()
    source = state.dict
    wanted = set(key_names(obj)) | {"sync_serial", "sync_owner_id"}
    for prop in mapper.column_attrs:
        key = prop.key
        if key not in wanted and (names is None or key not in names):
            continue
        value = source[key] if key in source else getattr(obj, key)
        set_committed_value(copy, key, value)
    owner_snap = _owner_snapshot(obj, source, owners)
    if owner_snap is not None:
        copy.__dict__["sync_owner"] = owner_snap  # (a fresh instance, see materialize)
    return copy


def row_record(obj: Any, owners: dict[Any, Any]) -> tuple[Any, ...]:
    """Everything a full snapshot of ``obj`` needs, copied now: ``(class manager,
    column values, owner snapshot, values of sync properties that are no column)``.

    :func:`materialize` turns it into the snapshot instance.
    """
    state = instance_state(obj)
    source = state.dict
    values = {
        key: source[key] if key in source else getattr(obj, key)
        for key in row_plan(type(obj)).column_list
    }
    extras = _extra_values(obj)
    owner_snap = _owner_snapshot(obj, source, owners)
    return (state.mapper.class_manager, values, owner_snap, extras)


def materialize(record: tuple[Any, ...]) -> Any:
    """The detached snapshot instance of a :func:`row_record`."""
    class_manager, values, owner_snap, extras = record
    copy = class_manager.new_instance()
    # the copy is new and never joins a session: its values go straight into its
    # __dict__, which is what set_committed_value does on such an instance
    copy.__dict__.update(values)
    if owner_snap is not None:
        copy.__dict__["sync_owner"] = owner_snap
    if extras:
        for name, value in extras.items():
            setattr(copy, name, value)
    return copy


def _owner_snapshot(obj: Any, source: dict[str, Any], owners: dict[Any, Any]) -> Any:
    if isinstance(obj, SyncOwner):
        return None
    owner_id = source.get("sync_owner_id")
    if owner_id is not None and owner_id in owners:
        return owners[owner_id]  # this batch's snapshot of the owner (by its id)
    owner = source.get("sync_owner")
    if owner is None:
        owner = owner_of_detached(obj)
    if owner is None:
        return None
    owner_snap = owners.get(owner.id)
    if owner_snap is None:
        owner_snap = owners[owner.id] = snapshot(owner, owners)
    return owner_snap


def owner_of_detached(obj: Any) -> SyncOwner | None:
    """The owner of ``obj`` from its loaded state or its session."""
    session = Session.object_session(obj)
    if session is not None:
        return owner_of(session, obj)
    owner: SyncOwner | None = instance_state(obj).dict.get("sync_owner")
    return owner


def _extra_values(obj: Any) -> dict[str, Any] | None:
    # sync properties that are not columns (Python properties over relationships etc.)
    names = row_plan(type(obj)).extra_properties
    if not names:
        return None
    extras: dict[str, Any] = {}
    for name in names:
        try:
            extras[name] = getattr(obj, name)
        except AttributeError:
            continue
    return extras
