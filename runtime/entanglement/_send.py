"""Sending: ``synchronize`` and the send policy chain (PROTOCOL.md §7.1, §7.2).

``synchronize`` validates its arguments, finds the object's registry and operation, lets
a response context know its targets (so it can tell whether it was answered, §4.2), runs
the send policy chain per target at enqueue time and queues the object on each target's
connection, where it coalesces (§7.3).

Choices where the spec is silent or where we fixed a quirk:

* A target that is neither live nor connecting raises ``SyncNotConnected``, including
  one that is "connecting" before its transport exists (quirk 18).
* The registry of a class, the "overrides sync_receive" check and which policy hooks
  are the application's are kept in a per-class send plan (:mod:`entanglement.
  _plansend`), made again when the class, its registry or a hook changes.
* An object of a class needing an owner (in-memory stores) without one is refused
  at once, with what to do (issue 10 item 9), not sent for its peers to refuse.
* One body per call (:meth:`SendMixin._enqueue_all`) reading the send plan: only the
  policy hooks the application overrides are called (see :mod:`entanglement._plan`).
  A call with no target (a received object's flood on a node with one link) stops
  once the arguments are validated and the response context has seen its (empty)
  target list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, overload

from entanglement._plansend import SendPlan, allowed, dest_hook, policy_chain
from entanglement._sansio import ResponseContext
from entanglement.interface import (
    EphemeralUnflooded,
    SyncNotConnected,
    overrides_sync_receive,
)

if TYPE_CHECKING:
    from entanglement._hashes import DestHash
    from entanglement.protocol import SyncProtocol

__all__ = ["SendMixin", "SendOptions"]


class SendOptions(TypedDict, total=False):
    """The keywords of ``synchronize`` that do not decide its result type."""

    destinations: Iterable[Any] | None
    exclude: Iterable[Any]
    operation: Any
    attributes_to_sync: Iterable[str] | None
    priority: int | None


class SendMixin:
    """``synchronize``, ``flush`` and ``should_send``; mixed into SyncManager."""

    loop: asyncio.AbstractEventLoop
    _connections: dict[DestHash, SyncProtocol]
    _send_plans: dict[type, SendPlan]

    if TYPE_CHECKING:  # provided by ReceiveMixin and ConnectMixin

        def find_syncable(
            self, sync_type: str, msg: dict[str, Any] | None = None
        ) -> tuple[Any, Any]: ...

        def syncable_candidates(self, sync_type: str) -> list[tuple[Any, Any]]: ...

        def _connecting_protocol(
            self, dest_hash: DestHash | None
        ) -> SyncProtocol | None: ...

    # The overloads name only what tells their results apart; the other keywords
    # are SendOptions, spelled once (the body's own signature lists them all).
    @overload
    def synchronize(
        self,
        obj: Any,
        *,
        response: Literal[False] = False,
        response_for: ResponseContext | None = None,
        **options: Unpack[SendOptions],
    ) -> None: ...

    @overload
    def synchronize(
        self,
        obj: Any,
        *,
        response: Literal[True] | asyncio.Future[Any],
        response_for: None = None,
        **options: Unpack[SendOptions],
    ) -> asyncio.Future[Any]: ...

    def synchronize(
        self,
        obj: Any,
        *,
        destinations: Iterable[Any] | None = None,
        exclude: Iterable[Any] = (),
        operation: Any = "sync",
        attributes_to_sync: Iterable[str] | None = None,
        response: bool | asyncio.Future[Any] = False,
        response_for: ResponseContext | None = None,
        priority: int | None = None,
    ) -> asyncio.Future[Any] | None:
        """Queue ``obj`` for the destinations (default: every live connection).

        Args:
            obj: the Synchronizable to send.
            destinations: target destinations; None means all live connections.
            exclude: destinations to skip (compared with ``==``).
            operation: operation name or object (default ``sync``).
            attributes_to_sync: only these attributes (None: all).
            response: True (or a future to use) to get a future for the answer.
            response_for: the response context when answering/relaying a request.
            priority: queue priority (default ``obj.sync_priority``; lower first).

        Returns:
            The response future, or None.

        Raises:
            ValueError: both ``response`` and ``response_for`` were given, or the
                object's class needs an owner (an in-memory store class) and it has
                none.
            SyntaxError: the class overrides ``sync_receive``.
            UnregisteredSyncClass: no registry knows the class.
            SyncInvalidOperation: its registry does not accept ``operation``.
            SyncNotConnected: a target is neither live nor connecting.
        """
        if response is not False and response_for is not None:
            raise ValueError("response and response_for are mutually exclusive")
        if obj._sync_owner_required:
            _require_owner(obj)
        plan = self._send_plans.get(type(obj))
        if plan is None or not plan.current(self, obj):
            plan = self._send_plan(obj)
        op = plan.registry.get_operation(operation)
        if priority is None:
            priority = obj.sync_priority
        future: asyncio.Future[Any] | None = None
        context = response_for
        if response is not False:
            future = (
                self.loop.create_future() if isinstance(response, bool) else response
            )
            context = ResponseContext(future=future)
        try:
            self._enqueue_all(
                obj, op, plan, destinations, exclude, attributes_to_sync,
                context, priority,
            )  # fmt: skip
        finally:
            if future is not None and context is not None:
                context.release()  # our own hold: queued elements keep theirs
        return future

    def flush(self) -> None:
        """Start writing what is queued, now, on every live connection.

        ``synchronize`` only queues: the connections write when the event loop runs
        next, which joins everything queued meanwhile into large writes.  Code that
        queues a burst and then keeps working without returning to the loop (the SQL
        layer after each commit, say) calls this so the bytes leave at once and the
        peer works in parallel.  Writing stops at the usual limits (bandwidth
        limiter, one turn's budget) and goes on from the loop.
        """
        for protocol in list(self._connections.values()):
            protocol.flush()

    def _send_plan(self, obj: Any) -> SendPlan:
        # Made per class, and again when the class, its registry or a policy hook
        # changed (SendPlan.current).
        cls = type(obj)
        if overrides_sync_receive(cls):
            raise SyntaxError(f"{cls.__name__} overrides sync_receive; it must not")
        plan = SendPlan(self, cls, self._registry_holding(cls, obj.sync_type))
        self._send_plans[cls] = plan
        return plan

    def _registry_holding(self, cls: type, sync_type: str) -> Any:
        # The registry of the object's own class: several registries may hold
        # different classes under one name (memory and SQL SyncOwner, issue 10
        # item 6); the first one by name is only the fallback.
        candidates = self.syncable_candidates(sync_type)
        for found, registry in candidates:
            if found is cls:
                return registry
        for found, registry in candidates:
            if isinstance(found, type) and issubclass(cls, found):
                return registry
        _, registry = self.find_syncable(sync_type)
        return registry

    def _enqueue_all(
        self,
        obj: Any,
        op: Any,
        plan: SendPlan,
        destinations: Iterable[Any] | None,
        exclude: Iterable[Any],
        attributes: Iterable[str] | None,
        context: ResponseContext | None,
        priority: int,
    ) -> None:
        pairs = self.targets(destinations, exclude)
        if context is not None:
            context.mark_targets([dest for _, dest in pairs])
        if not pairs:
            return
        subset = frozenset(attributes) if attributes else None
        asks = plan.asks(obj)
        for protocol, dest in pairs:
            if asks or dest_hook(dest) is not None:
                info = {"manager": self, "response_for": context, "operation": op}
                if not allowed(self, obj, dest, plan.registry, info):
                    continue
            if protocol is None:
                protocol = self._sending_protocol(dest)
            protocol.enqueue(obj, op, subset, context, priority)

    def targets(
        self, destinations: Iterable[Any] | None = None, exclude: Iterable[Any] = ()
    ) -> list[tuple[SyncProtocol | None, Any]]:
        """``(connection, destination)`` for each target of a ``synchronize`` call.

        ``destinations`` None means every live connection (each with its connection);
        a named destination comes with None (see :meth:`connection_to`).  Excluded
        destinations (compared with ``==``) are left out.
        """
        pairs: list[tuple[SyncProtocol | None, Any]]
        if destinations is None:
            pairs = [(p, p.dest) for p in self._connections.values()]
        else:
            pairs = [(None, dest) for dest in destinations]
        if exclude:
            excluded = list(exclude)
            pairs = [pair for pair in pairs if pair[1] not in excluded]
        return pairs

    def links_besides(self, destination: Any) -> bool:
        """True when a live connection leads to another destination than this one
        (a received object's flood has somewhere to go)."""
        for protocol in self._connections.values():
            dest = protocol.dest
            if dest is not destination and dest != destination:
                return True
        return False

    def connection_to(self, dest: Any) -> SyncProtocol | None:
        """The live (or else the connecting) connection to ``dest``, or None."""
        dest_hash = getattr(dest, "dest_hash", None)
        if not dest_hash:
            return None
        protocol = self._connections.get(dest_hash)
        if protocol is None:
            protocol = self._connecting_protocol(dest_hash)
        return protocol

    def _sending_protocol(self, dest: Any) -> SyncProtocol:
        protocol = self.connection_to(dest)
        if protocol is None or protocol.closed:
            raise SyncNotConnected(dest=dest)
        return protocol

    def should_send(
        self, obj: Any, destination: Any, registry: Any, sync_type: type, **info: Any
    ) -> bool:
        """Send policy chain (§7.2): destination, registry, object.

        Each may return False (skip ``destination``) or raise (abort the call).
        """
        info["destination"] = destination
        info["registry"] = registry
        info["sync_type"] = sync_type
        return policy_chain(obj, destination, registry, info)


def _require_owner(obj: Any) -> None:
    owner = obj.sync_owner
    if owner is None or owner is EphemeralUnflooded:
        keys = getattr(obj, "sync_primary_keys", ())
        named = ", ".join(f"{k}={getattr(obj, k, '?')!r}" for k in keys)
        raise ValueError(
            f"{type(obj).__name__}({named}) has no owner, and peers refuse it without"
            " one: send it with its registry's store_synchronize(obj), which gives it"
            " the local owner, stores it and sends the owner first (or set"
            " obj.sync_owner to an owner the peers know, e.g. registry.local_owner"
            " once it was sent)"
        )
