"""Filtered destinations (§14): which objects a peer may see, and withdrawal when it may not.

A *filter* gives an opinion per object: True (recommend), False (veto: stops the
evaluation) or None (neutral).  A filtered destination runs its filters, lowest ``order``
first, on every object the manager is about to send it (its ``should_send`` is the first
link of the send policy chain, §7.2): any veto rejects, else any recommendation allows,
else the destination's ``filter_default_permissive`` decides.

The destination remembers what it sent, by ``(sync_type, primary-key values)``.  When a
``sync`` of an object it sent before is now rejected, the object left the peer's scope: a
synthetic ``delete`` (primary keys and owner only) is queued to that peer, so the peer
drops it (a peer must never keep an object it may no longer see).  A ``delete`` of an
object the peer holds is always let through, and forgotten.

Choices where the specification is silent:

* What was sent is remembered across connections: the peer keeps what it received while
  we were apart.  On every new connection, objects remembered as sent that no longer pass
  are withdrawn first, then ``send_initial_objects`` sends every enumerated object that
  passes, even those sent on an earlier connection (they may have changed meanwhile and
  memory objects have no catch-up of their own).  "Not sent yet" in §14 is taken per
  connection.
* The sent-set keeps the last object sent under each key, so that a withdrawal can be
  sent long after the application dropped the object; it holds one reference per
  object the peer holds, which is what the peer holds too.
* The destination is the first link of the send chain, so an object it lets through may
  still be refused by the registry or the object; it is remembered as sent all the same.
  A later withdrawal of it costs the peer one ``SyncNotFound`` answer, never an object kept.
* Objects with ``sync_primary_keys = Unique`` (events) have no key to remember: they are
  filtered but never withdrawn.
* Enumeration for the initial send: filters in order, each object once, a filter whose
  ``all_objects()`` is unavailable (``NotImplementedError``) skipped.  §14 also stops the
  enumeration after the first filter that is not ``dynamic``; with the usual
  ``SyncOwnerFilter`` first (order 1) that would send the owners and nothing else, and with
  two type filters only the first type's objects.  We go through every filter, so every
  object some filter enumerates and the filters pass reaches a newly connected peer
  (docs/quirks.md lists this).

The filters themselves (``FilterBase``, ``Filter``, ``SyncOwnerFilter``) live in
:mod:`entanglement._filters` and are re-exported here, their public path.
"""

from __future__ import annotations

import bisect
import copy
import logging
from collections.abc import Callable, Container, Iterator
from typing import Any

from ._destinations import SyncDestination
from ._filters import Filter, FilterBase, SyncOwnerFilter
from ._model import Unique

__all__ = [
    "Filter",
    "FilterBase",
    "FilterPolicy",
    "FilterScope",
    "FilteredDestinationMixin",
    "FilteredMixin",
    "FilteredSyncDestination",
    "SyncOwnerFilter",
]

log = logging.getLogger("entanglement")

SentKey = tuple[str, tuple[Any, ...]]


def _operation_name(info: dict[str, Any]) -> str:
    op = info.get("operation", "sync")
    return op if isinstance(op, str) else str(getattr(op, "name", op))


def sent_key(obj: Any) -> SentKey | None:
    """The key a filtered destination remembers ``obj`` under (None for Unique)."""
    names = type(obj).sync_primary_keys
    if names == Unique:
        return None
    return obj.sync_type, tuple(getattr(obj, name, None) for name in names)


class FilteredMixin:
    """The filter list and the decision; mixed into a destination.

    Subclasses provide ``filter_default_permissive`` (what all-neutral filters mean).
    ``should_listen`` is refused unless ``filter_should_listen_returns_true`` is set:
    filters say what a peer may *see*; what it may *tell us* is another policy, and a
    destination that forgets to decide it should not silently accept everything.
    """

    filter_default_permissive: bool
    filter_should_listen_returns_true = False

    @property
    def filter_target(self) -> Any:
        """The destination withdrawals go to (the destination itself, or a scope's)."""
        return self

    def init_filters(self) -> None:
        """Set up the empty filter list and sent-set (call once, from ``__init__``)."""
        self.filters: list[FilterBase] = []
        self.old_filters: list[FilterBase] = []
        self.sent: dict[SentKey, Any] = {}

    def add_filter(self, filter: FilterBase) -> None:
        """Attach ``filter`` (kept sorted by order; the previous list is kept)."""
        self.old_filters = list(self.filters)
        filter.attachment = self
        orders = [f.order for f in self.filters]
        self.filters.insert(bisect.bisect_right(orders, filter.order), filter)

    def remove_filter(self, filter: FilterBase) -> None:
        """Detach ``filter`` (the previous list is kept)."""
        self.old_filters = list(self.filters)
        self.filters.remove(filter)
        filter.attachment = None

    def filters_pass(self, obj: Any, *, old_filters: bool = False, **info: Any) -> bool:
        """The filters' verdict on ``obj`` alone (nothing remembered, nothing sent)."""
        recommended = False
        for f in self.old_filters if old_filters else self.filters:
            opinion = f.should_send(obj, **info)
            if opinion is False:
                return False
            recommended = recommended or opinion is True
        return recommended or bool(self.filter_default_permissive)

    def should_send(self, obj: Any, old_filters: bool = False, **info: Any) -> bool:
        """Filter ``obj`` for this destination; withdraw it when it stops passing."""
        operation = _operation_name(info)
        key = sent_key(obj)
        if operation == "delete":
            if key is not None:
                self.sent.pop(key, None)
            return True
        allowed = self.filters_pass(obj, old_filters=old_filters, **info)
        if operation != "sync" or key is None:
            return allowed
        if allowed:
            self.sent[key] = obj
            self.note_sent(key)
        elif key in self.sent:
            self.withdraw(info.get("manager"), key)
        return allowed

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """Refused unless ``filter_should_listen_returns_true`` is set."""
        if self.filter_should_listen_returns_true:
            return True
        raise NotImplementedError(
            f"{type(self).__name__} must override should_listen (or set "
            "filter_should_listen_returns_true) to accept objects from its peer"
        )

    def note_sent(self, key: SentKey) -> None:
        """Hook: ``key`` was let through to the peer (per-connection bookkeeping)."""

    def withdraw(self, manager: Any, key: SentKey) -> None:
        """Queue a synthetic ``delete`` of the object remembered under ``key``."""
        obj = self.sent.pop(key)
        if manager is None:
            return
        try:
            manager.synchronize(
                obj, destinations=[self.filter_target], operation="delete"
            )
        except Exception as exc:  # not connected: the next connection withdraws it
            self.sent[key] = obj
            log.info("%r: withdrawal of %s %r deferred: %s", self, *key, exc)


class FilteredDestinationMixin(FilteredMixin):
    """Filters plus the initial send and the helpers to re-evaluate them."""

    def init_filters(self) -> None:
        super().init_filters()
        self._sent_this_connection: set[SentKey] = set()

    def note_sent(self, key: SentKey) -> None:
        self._sent_this_connection.add(key)

    def enumerate_objects(self) -> Iterator[Any]:
        """The filters' candidates, in filter order, each object once (§14)."""
        seen: set[int] = set()
        for f in list(self.filters):
            try:
                objects = f.all_objects()
            except NotImplementedError:
                continue
            for obj in objects:
                if id(obj) not in seen:
                    seen.add(id(obj))
                    yield obj

    def send_initial_objects(self, manager: Any) -> int:
        """Send every enumerated object that passes and was not sent on this connection.

        Returns:
            How many objects were queued.
        """
        return self._send_passing(manager, self._sent_this_connection)

    def potential_new_objects(self, manager: Any) -> int:
        """After a filter change: send what now passes and the peer does not hold."""
        return self._send_passing(manager, self.sent)

    def _send_passing(self, manager: Any, skip: Container[SentKey]) -> int:
        count = 0
        for obj in list(self.enumerate_objects()):
            key = sent_key(obj)
            if key is not None and key in skip:
                continue
            if self.filters_pass(obj, manager=manager, destination=self):
                manager.synchronize(obj, destinations=[self])
                count += 1
        return count

    def potential_withdrawn_objects(self, manager: Any) -> int:
        """After a filter change: withdraw what the peer holds and may no longer see."""
        stale = [
            key
            for key, obj in list(self.sent.items())
            if not self.filters_pass(obj, manager=manager, destination=self)
        ]
        for key in stale:
            self.withdraw(manager, key)
        return len(stale)

    def start_connection(self, manager: Any) -> None:
        """A new connection: withdraw what stopped passing, then the initial send."""
        self._sent_this_connection = set()
        self.potential_withdrawn_objects(manager)
        self.send_initial_objects(manager)


class FilteredSyncDestination(FilteredDestinationMixin, SyncDestination):
    """A TLS destination whose peer sees only what its filters pass.

    Args:
        *args, **kwargs: as for :class:`SyncDestination`.
        filter_default_permissive: what all-neutral filters mean (default False: a
            peer sees only what a filter recommends).
    """

    def __init__(
        self, *args: Any, filter_default_permissive: bool = False, **kwargs: Any
    ) -> None:
        self.filter_default_permissive = filter_default_permissive
        self.init_filters()
        super().__init__(*args, **kwargs)

    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        """As SyncDestination's, then schedule the withdrawal check and initial send."""
        result = await super().connected(manager, protocol, bwprotocol)
        manager.loop.call_soon(self._start_if_connected, manager, protocol)
        return result

    def _start_if_connected(self, manager: Any, protocol: Any) -> None:
        if self.protocol is not protocol or protocol is None or protocol.closed:
            return
        try:
            self.start_connection(manager)
        except Exception:  # a filter's own bug: name the peer, keep the connection
            log.exception("%r: initial send of the filtered objects failed", self)


class FilterScope(FilteredMixin):
    """The filter state a :class:`FilterPolicy` keeps for one destination.

    Args:
        destination: the peer the decisions are for (withdrawals go to it).
        filter: the filter deciding for it (attached to the scope; its
            ``attachment.destination`` is the peer).
    """

    filter_default_permissive = True  # a policy filter vetoes; neutral means send

    def __init__(self, destination: Any, filter: FilterBase) -> None:
        self.destination = destination
        self.init_filters()
        self.add_filter(filter)

    @property
    def filter_target(self) -> Any:
        return self.destination

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.destination!r}>"


class FilterPolicy:
    """A registry's filter (the schema's ``policy.filter``), one scope per destination.

    The registry's ``should_send`` calls :meth:`should_send`, so the filter applies to
    the registry's objects on every destination, plain or filtered, and the decision
    (withdrawal included) is the destinations' own body (:class:`FilteredMixin`).

    Args:
        source: a :class:`FilterBase` (each destination gets a shallow copy, so that
            ``attachment`` is its own), or a callable ``source(destination)`` returning
            a FilterBase, or None to leave that destination unfiltered.
    """

    scope_class: type[FilterScope] = FilterScope

    def __init__(self, source: FilterBase | Callable[[Any], FilterBase | None]) -> None:
        if not isinstance(source, FilterBase) and not callable(source):
            raise TypeError(
                f"a filter policy needs a FilterBase or a callable returning one, "
                f"not {type(source).__name__}"
            )
        self.source = source

    def scope(self, destination: Any) -> FilterScope | None:
        """The scope of ``destination`` (made on first use; None: unfiltered)."""
        scopes = destination.__dict__.setdefault("_filter_policy_scopes", {})
        if self in scopes:
            found: FilterScope | None = scopes[self]
            return found
        if isinstance(self.source, FilterBase):
            made: FilterBase | None = copy.copy(self.source)
        else:
            made = self.source(destination)
            if made is not None and not isinstance(made, FilterBase):
                raise TypeError(
                    f"filter policy {self.source!r} returned {type(made).__name__}, "
                    "not a FilterBase"
                )
        scope = self.make_scope(destination, made) if made is not None else None
        scopes[self] = scope
        return scope

    def make_scope(self, destination: Any, filter: FilterBase) -> FilterScope:
        """A new scope of ``destination`` deciding with ``filter``."""
        return self.scope_class(destination, filter)

    def should_send(self, obj: Any, destination: Any, **info: Any) -> bool:
        """The scope's decision for ``obj`` on ``destination`` (True: unfiltered)."""
        scope = self.scope(destination) if destination is not None else None
        return True if scope is None else scope.should_send(obj, **info)
