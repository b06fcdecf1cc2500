"""The tables of objects in transition (§15), and what a received message does to them.

Per manager and class, a table maps primary-key values to the object in transition.  A
received message for a tracked key either continues the same transition (the tracked
provisional object is returned), ends it (the initiator's final message inherits the
pending response), or breaks it (the held request is answered with
:class:`BrokenTransition`); a ``transition`` for an untracked key makes a provisional
copy and records it.  :mod:`entanglement.transition` (the mixin, sending and the
operation) is built on this module; the choices are in its docstring.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ._model import Unique
from ._properties import sync_property
from ._wire_errors import SyncBadEncodingError, SyncError

__all__ = [
    "BrokenTransition",
    "Table",
    "TransitionKey",
    "break_transition",
    "end_transition",
    "key_from_msg",
    "provisional",
    "same_transition",
    "stored_object",
    "table_of",
    "tracked_everywhere",
]

TransitionKey = tuple[Any, ...]

Table = dict[TransitionKey, Any]

# Per manager, per class, the objects in transition by key.  Weak in both, so that
# managers and classes made by tests or plugins do not live forever because they once
# had a transition.
_TRACKED: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[type, Table]] = (
    weakref.WeakKeyDictionary()
)


def table_of(manager: Any, cls: type) -> Table:
    """The objects of ``cls`` in transition at ``manager``, by key (made on first use)."""
    per_class = _TRACKED.get(manager)
    if per_class is None:
        per_class = _TRACKED[manager] = weakref.WeakKeyDictionary()
    table = per_class.get(cls)
    if table is None:
        table = per_class[cls] = {}
    return table


def tracked_everywhere(cls: type) -> Table:
    """The objects of ``cls`` in transition at every manager of the process (a copy)."""
    merged: Table = {}
    for per_class in list(_TRACKED.values()):
        merged.update(per_class.get(cls, {}))
    return merged


class BrokenTransition(SyncError):
    """A transition was overtaken by another change before the owner accepted it.

    Args:
        obj: the object whose transition broke (its type and keys name it), or None
            when the error is built from a received message.
    """

    transition_id = sync_property()

    def __init__(self, obj: Any = None, *args: Any, **kwargs: Any) -> None:
        if obj is None:
            super().__init__(*args, **kwargs)
            return
        key = obj.transition_key()
        super().__init__(
            f"transition {getattr(obj, 'transition_id', None)} of {obj.sync_type} "
            f"{key!r} was broken by another change",
            *args,
            **kwargs,
        )
        self.transition_id = getattr(obj, "transition_id", None)


def key_from_msg(cls: type[Any], msg: dict[str, Any]) -> TransitionKey | None:
    names = cls.sync_primary_keys
    if names == Unique or any(name not in msg for name in names):
        return None
    try:
        return tuple(cls._sync_properties[name].decode(msg[name]) for name in names)
    except (TypeError, ValueError) as exc:
        raise SyncBadEncodingError(
            f"bad primary key of {cls.sync_type}: {exc}", network_msg=msg
        ) from exc


def same_transition(tracked: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
    if msg.get("transition_id") != getattr(tracked, "transition_id", None):
        return False
    started_by = vars(tracked).get("_transition_from")
    return started_by is not None and started_by == info.get("sender")


def end_transition(tracked: Any, msg: dict[str, Any], info: dict[str, Any]) -> None:
    """The initiator's final message: its context inherits the pending response."""
    pending = vars(tracked).pop("_transition_pending", None)
    response_for = info.get("response_for")
    if pending is not None:
        if response_for is not None:
            response_for.merge(pending)
        pending.release()
    tracked.remove_from_transition(broken=False)
    if tracked.sync_is_local:
        msg.pop("transition_id", None)  # the owner applies the final state as such


def break_transition(tracked: Any, info: dict[str, Any]) -> None:
    """Another change for the key: answer the held request with BrokenTransition."""
    started_by = vars(tracked).get("_transition_from")
    if started_by is None:
        future = vars(tracked).get("_transition_future")
        response_for = info.get("response_for")
        if response_for is not None and future in response_for.futures:
            return  # the answer to our own request ends the transition itself
        if tracked.sync_is_local:
            tracked.remove_from_transition(broken=True)
        return
    pending = vars(tracked).pop("_transition_pending", None)
    manager = info.get("manager")
    if pending is not None and manager is not None:
        try:
            manager.synchronize(
                BrokenTransition(tracked),
                destinations=[started_by],
                operation="error",
                response_for=pending,
            )
        finally:
            pending.release()
    tracked.remove_from_transition(broken=False)


def provisional(
    cls: type[Any],
    msg: dict[str, Any],
    key: TransitionKey | None,
    info: dict[str, Any],
    construct: Callable[..., Any],
) -> Any:
    """A copy of the stored object (else of what ``construct``, the normal
    construction, returns), recorded as in transition."""
    if key is None:
        raise SyncBadEncodingError(
            f"a transition of {cls.sync_type} needs its primary keys", network_msg=msg
        )
    base = construct(msg, **info)
    context = info.get("context")
    saved = getattr(context, "saved", None)
    if isinstance(saved, list):  # a store context must not roll back what we never fill
        saved[:] = [entry for entry in saved if entry[0] is not base]
    stored = stored_object(info.get("registry"), cls, key)
    provisional = cls.transition_copy(stored if stored is not None else base)
    for name in ("_transition_future", "_transition_table", "_transition_key"):
        vars(provisional).pop(name, None)
    provisional.transition_id = msg["transition_id"]
    pending = info.get("response_for")
    if pending is not None:
        pending.hold()
    provisional.store_for_transition(
        info.get("manager"), sender=info.get("sender"), pending=pending, key=key
    )
    return provisional


def stored_object(registry: Any, cls: type[Any], key: TransitionKey) -> Any:
    """The object a memory registry holds under ``key`` (None elsewhere)."""
    store_for_class = getattr(registry, "store_for_class", None)
    if store_for_class is None:
        return None
    found = store_for_class(cls).get(key[0] if len(key) == 1 else key)
    return found if isinstance(found, cls) else None
