"""Transitions (§15): provisional updates every node can show before the owner decides.

An application moves an object through a transition with ``perform_transition(manager)``
(a drag, say): each call sends the changed attributes with operation ``transition`` and
the same ``transition_id``; only the first message asks for a response.  Every node keeps
the provisional object apart from stored state, in a per-class table keyed by the primary
key values, and shows it through its registry's ``incoming_transition`` hook.  The
initiator ends the transition by sending ``forward`` (or ``sync``, when it owns the object)
with the same ``transition_id``: each node then merges the transition's pending response
into that message's response context and drops its provisional object, so the owner's
resulting ``sync`` answers both requests and the initiator's transition future resolves
with the final object.  Any other change for the key while a node holds a transition
*breaks* it: that node answers the transition request with a ``BrokenTransition`` error.

Wire form (§15): a ``transition`` message carries the primary keys, the changed
attributes, ``_sync_owner`` and ``transition_id`` (UUID text).  Receiving a transition
for a class without transition support is ``SyncInvalidOperation`` (quirk 10 fixed: the
original raised a class that does not exist); one without ``transition_id`` is
``SyncBadEncodingError``.

Choices where the specification is silent:

* ``transition_id`` is a sync property that is absent (not ``null``) outside a transition,
  so ordinary ``sync`` messages of a transition-enabled class are unchanged on the wire.
* A node holds the pending response by taking a hold on its response context (see
  :mod:`entanglement._sansio.context`): that is what keeps the request unanswered until
  the transition ends or breaks, and releasing the hold is what sends ``_no_resp_for``
  for an owner-initiated transition.
* The provisional object at a relay or at the owner is a shallow copy of what normal
  construction returns, so stored objects (memory stores, SQL rows) are never filled by a
  transition; the copy is what ``incoming_transition`` sees.
* At the initiator, the answer to its own request (the owner's final ``sync``) does not
  break the transition; any other change of the key does, for an owner (its future fails
  with ``BrokenTransition``, §15), while a non-owner learns of a break from the error the
  upstream node sends.
* The table of objects in transition is kept per manager, not per process as in the
  original: several nodes in one process (tests, a process serving two sites) would
  otherwise take each other's transitions for their own.  ``transition_tracked_objects()``
  without a manager merges the tables of every manager.
* The SQL mixin of §15 is :class:`entanglement.sql.send.transition.SqlTransitionTrackerMixin`
  (it overrides :meth:`TransitionTrackerMixin.transition_copy`).

This module is the object's face, the sending side and the operation; the tables and
what a received message does to a tracked key (continue, end, break, provisional copy)
are :mod:`entanglement._transition_table`.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterable
from typing import Any

from ._model import EphemeralUnflooded, Synchronizable, Unique
from ._opbase import SyncOperation
from ._properties import sync_property
from ._sansio.context import ResponseContext
from ._transition_table import (
    BrokenTransition,
    Table,
    TransitionKey,
    break_transition,
    end_transition,
    key_from_msg,
    provisional,
    same_transition,
    table_of,
    tracked_everywhere,
)
from ._wire_errors import SyncBadEncodingError, SyncInvalidOperation

__all__ = [
    "BrokenTransition",
    "TransitionOperation",
    "TransitionTrackerMixin",
    "transition_operation",
]


class TransitionTrackerMixin(Synchronizable):
    """Gives a Synchronizable transitions (§15); list it before the other bases."""

    transition_id: str = sync_property()

    # -- the per-class table ---------------------------------------------------------

    @classmethod
    def transition_tracked_objects(cls, manager: Any = None) -> Table:
        """The objects of this class in transition at ``manager``, by key.

        Without ``manager``: those of every manager of the process (a copy).
        """
        if manager is not None:
            return table_of(manager, cls)
        return tracked_everywhere(cls)

    def transition_key(self) -> TransitionKey:
        """The key of this object in the transition table (its primary-key values)."""
        names = type(self).sync_primary_keys
        if names == Unique:
            raise TypeError(f"{type(self).__name__} has no primary keys to track")
        return tuple(getattr(self, name) for name in names)

    @classmethod
    def get_from_transition(cls, *key: Any, manager: Any = None) -> Any:
        """The object in transition under these key values, or None."""
        return cls.transition_tracked_objects(manager).get(tuple(key))

    def store_for_transition(
        self,
        manager: Any,
        *,
        sender: Any = None,
        pending: ResponseContext | None = None,
        future: Any = None,
        key: TransitionKey | None = None,
    ) -> None:
        """Record this object as in transition at ``manager`` (keeping ``pending``'s
        hold); ``key`` defaults to :meth:`transition_key`."""
        table = table_of(manager, type(self))
        vars(self)["_transition_table"] = table
        vars(self)["_transition_from"] = sender
        vars(self)["_transition_pending"] = pending
        if future is not None:
            vars(self)["_transition_future"] = future
        key = self.transition_key() if key is None else key
        vars(self)["_transition_key"] = key
        table[key] = self

    def remove_from_transition(self, *, broken: bool = True) -> None:
        """Leave the transition: drop the id and the pending response.

        A still-pending local future fails with :class:`BrokenTransition` when
        ``broken`` (the default), as §15 asks of a transition abandoned locally.
        """
        table = vars(self).pop("_transition_table", {})
        key = vars(self).pop("_transition_key", None)
        if key is not None and table.get(key) is self:
            del table[key]
        future = vars(self).pop("_transition_future", None)
        if broken and future is not None and not future.done():
            future.set_exception(BrokenTransition(self))
        pending = vars(self).pop("_transition_pending", None)
        if pending is not None:
            pending.release()
        vars(self).pop("_transition_from", None)
        vars(self).pop("transition_id", None)

    def transition_modified_attrs(self) -> Iterable[str] | None:
        """The attributes a transition message carries (None: all of them)."""
        return None

    @classmethod
    def transition_copy(cls, obj: Any) -> Any:
        """The provisional object of a received transition: a copy of ``obj`` (the
        stored object, or what normal construction returned) that stored state never
        shares.  A shallow copy here; the SQL mixin builds a detached instance."""
        return copy.copy(obj)

    # -- sending ---------------------------------------------------------------------

    def perform_transition(self, manager: Any) -> Any:
        """Send the current state as a step of this object's transition.

        The first call starts the transition (a random ``transition_id``, a request for
        a response); later calls reuse the id.  Messages go toward the owner when it is
        remote, else to every live destination.

        Returns:
            The transition's future: the owner's final object, None (an owner's own
            transition, once released) or a :class:`BrokenTransition` error.
        """
        first = "_transition_future" not in vars(self)
        if first:
            self.transition_id = str(uuid.uuid4())
        destinations = None
        owner = self.sync_owner
        if not self.sync_is_local and owner is not EphemeralUnflooded:
            destinations = [manager.dest_by_hash(owner.dest_hash)]
        attributes = self._transition_attributes()
        if not first:
            manager.synchronize(
                self,
                destinations=destinations,
                operation="transition",
                attributes_to_sync=attributes,
            )
            return vars(self)["_transition_future"]
        future = manager.synchronize(
            self,
            destinations=destinations,
            operation="transition",
            attributes_to_sync=attributes,
            response=True,
        )
        self.store_for_transition(manager, future=future)
        future.add_done_callback(self._transition_done)
        return future

    def _transition_attributes(self) -> set[str] | None:
        modified = self.transition_modified_attrs()
        if modified is None:
            return None
        return {*modified, *type(self).sync_primary_keys, "transition_id"}

    def _transition_done(self, future: asyncio.Future[Any]) -> None:
        if vars(self).get("_transition_future") is not future:
            return
        cancelled = future.cancelled()
        result = None if cancelled or future.exception() else future.result()
        if self.sync_is_local and result is None and not cancelled:
            return  # an owner's transition released by its neighbours goes on
        self.remove_from_transition(broken=False)

    # -- receiving -------------------------------------------------------------------

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Synchronizable:
        """Route the message through the transition table, then construct (§15)."""
        key = key_from_msg(cls, msg)
        operation = str(info.get("operation"))
        table = table_of(info.get("manager"), cls)
        tracked = table.get(key) if key else None
        if tracked is not None:
            same = same_transition(tracked, msg, info)
            if same and operation == "transition":
                current: Synchronizable = tracked
                return current
            if same:
                end_transition(tracked, msg, info)
            else:
                break_transition(tracked, info)
        if operation != "transition":
            return super().sync_construct(msg, **info)
        if not isinstance(msg.get("transition_id"), str):
            raise SyncBadEncodingError(
                f"a transition of {cls.sync_type} needs a transition_id text",
                network_msg=msg,
            )
        made: Synchronizable = provisional(cls, msg, key, info, super().sync_construct)
        return made


class TransitionOperation(SyncOperation):
    """``transition`` (§10.8, §15): a provisional change relayed toward the owner.

    Not registered by default: call ``registry.register_operation("transition",
    transition_operation)`` on each registry that takes part.
    """

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        if not isinstance(obj, TransitionTrackerMixin):
            raise SyncInvalidOperation(
                f"{getattr(obj, 'sync_type', type(obj).__name__)} does not support "
                "transitions",
                network_msg=msg,
            )
        return True

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        """Toward the owner with the context, to every other neighbour without it."""
        manager, sender = info["manager"], info.get("sender")
        next_hop = None
        if not obj.sync_is_local:
            next_hop = manager.dest_by_hash(obj.sync_owner.dest_hash)
        sends: list[tuple[list[Any], ResponseContext | None]] = []
        if next_hop is not None and next_hop != sender:
            sends.append(([next_hop], info.get("response_for")))
        others = [
            protocol.dest
            for protocol in manager.connections
            if protocol.dest != sender and protocol.dest != next_hop
        ]
        if others:
            sends.append((others, None))
        for destinations, response_for in sends:
            manager.synchronize(
                obj,
                destinations=destinations,
                operation=self.name,
                attributes_to_sync=info.get("attributes"),
                response_for=response_for,
            )


transition_operation = TransitionOperation("transition")
