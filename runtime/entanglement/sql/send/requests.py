"""Requests for rows owned elsewhere: ``forward``, ``create`` and ``delete`` (§12.4).

``sync_commit()`` records the changes of rows owned elsewhere (:func:`prepare_remote`)
and turns them into requests toward each owner's next hop, each sent as a snapshot with
the changed attributes (and keys) and given a ``sync_future``; ``sync_create`` sends a
``create`` for a new object to a chosen owner.  The deletion of an owner learned from a
neighbour is no request the protocol has: its ``sync_future`` fails with
``SyncUnauthorized`` (issue 10 item 4; see :mod:`entanglement.sql.schema.bookkeeping`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from entanglement.interface import SyncNotConnected
from entanglement.sql.schema.bookkeeping import SyncOwner, remote_owner_refusal
from entanglement.sql.schema.model import SqlSynchronizable
from entanglement.sql.send.capture import (
    changed_names,
    key_names,
    owner_of,
    owner_of_detached,
    refuse_unmanaged,
    snapshot,
)

if TYPE_CHECKING:
    from entanglement.sql.send.session import SqlSyncSession

__all__ = ["prepare_remote", "send_create", "send_remote_requests"]

log = logging.getLogger("entanglement")


def prepare_remote(session: SqlSyncSession, *, expunge_nonlocal: bool) -> None:
    """sync_commit step 1: record changes of rows owned elsewhere (and expunge them)."""
    pending = set(map(id, session.new))
    deleted = set(map(id, session.deleted))
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if not isinstance(obj, SqlSynchronizable):
            continue
        owner = owner_of(session, obj)
        if owner is None or owner.dest_hash is None:
            continue
        if session.manager is None:
            # nothing could send it: refused (an owner's deletion is left to commit)
            refuse_unmanaged(session, obj, owner)
            continue
        if id(obj) in deleted:
            session.sync_deleted[id(obj)] = obj
        else:
            new = id(obj) in pending
            if not new and not session.is_modified(obj, include_collections=False):
                continue
            changed = changed_names(obj, new) - {"sync_serial"}
            session.sync_dirty[id(obj)] = (obj, changed | ({"*new*"} if new else set()))
        if owner is not obj and sa.inspect(obj).dict.get("sync_owner") is None:
            set_committed_value(obj, "sync_owner", owner)  # still known once expunged
        if expunge_nonlocal:
            session.expunge(obj)


def send_remote_requests(session: SqlSyncSession, *, update_responses: bool) -> None:
    """sync_commit: forward/create/delete requests toward the owners' next hops."""
    manager = session.manager
    for obj, changed in list(session.sync_dirty.values()):
        if "*new*" in changed:
            # the owner assigns what is left unset (keys from its column defaults)
            state = sa.inspect(obj)
            names = {
                n
                for n in changed - {"*new*", "sync_serial"}
                if state.dict.get(n) is not None
            }
            _request(manager, obj, "create", names, update_responses)
        else:
            names = set(changed) | set(key_names(obj))
            _request(manager, obj, "forward", names, update_responses)
    for obj in list(session.sync_deleted.values()):
        if isinstance(obj, SyncOwner):
            _refuse(manager, obj, remote_owner_refusal(obj), update_responses)
            continue
        _request(manager, obj, "delete", set(key_names(obj)), update_responses)


def _refuse(manager: Any, obj: Any, error: Exception, update_responses: bool) -> None:
    # a change no request can carry: its future fails at once (no future: logged)
    if not update_responses:
        log.error("%s", error)
        return
    future = manager.loop.create_future()
    future.set_exception(error)
    obj.sync_future = future


def _request(
    manager: Any, obj: Any, operation: str, names: set[str], update_responses: bool
) -> None:
    owner = owner_of_detached(obj)
    target = manager.dest_by_hash(owner.dest_hash) if owner is not None else None
    if target is None:
        log.error(
            "cannot send %s of %s: no destination toward its owner",
            operation,
            obj.sync_type,
        )
        return
    snap = snapshot(obj, names=names, keys_only=operation == "delete")
    future = manager.synchronize(
        snap,
        destinations=[target],
        operation=operation,
        attributes_to_sync=sorted(names),
        response=update_responses,
    )
    obj.sync_future = snap.sync_future = future


def send_create(manager: Any, obj: Any, owner: Any) -> Any:
    """Send ``create`` of a new object toward ``owner``; returns the response future."""
    obj.sync_owner = owner
    target = manager.dest_by_hash(owner.dest_hash)
    if target is None:
        raise SyncNotConnected(
            f"no destination toward owner {owner.id} at {owner.dest_hash}",
            dest=owner.dest_hash,
        )
    names = {k for k in sa.inspect(obj).dict if k in type(obj)._sync_properties}
    names -= {"sync_serial"}
    snap = snapshot(obj, names=names)
    future = manager.synchronize(
        snap,
        destinations=[target],
        operation="create",
        attributes_to_sync=sorted(names),
        response=True,
    )
    obj.sync_future = snap.sync_future = future
    return future
