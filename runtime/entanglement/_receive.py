"""The receive pipeline of a SyncManager (PROTOCOL.md §9, §6.2, §6.3).

Theory of operation
-------------------
Each event the sans-IO connection produces is handled synchronously, in frame order:

1. ``_no_resp_for``, ``_resp_for`` and RESPONSE_NEEDED were already turned into a
   response context by :class:`~entanglement._sansio.SyncConnection`.
2. :meth:`ReceiveMixin._sync_receive` validates the message (§3.1), finds its class and
   registry, runs the ``should_listen`` chain, enters ``registry.sync_context``,
   constructs, runs the ``should_listen_constructed`` chain, fills the object and hands
   it to ``registry.sync_receive`` (which runs the operation: incoming hook, flood,
   after-flood hook).  A context recovered from ``_resp_for`` then resolves its local
   futures with the object, or fails them when the object is an error.
3. A SyncError raised anywhere goes back to the sender (§6.2) unless the message was
   itself an error; it answers the request when the frame asked for a response.  Other
   exceptions are programming errors: logged with their traceback, nothing is sent, and
   the request then ends as "no response" when its context is released.

Choices where the spec is silent or where we fixed a quirk:

* Errors go straight onto the sender's connection, without the send policy chain: a
  destination's ``should_send`` is about replicated state, and an error is the answer
  to the sender's own message.
* Errors raised by ``should_listen`` hooks and ``SyncNotConnected`` are sent like any
  other SyncError (quirks 7 and 8; the error classes make their fields JSON-safe).
* ``_no_resp`` is not a reserved key (quirk 5): it is refused like any unknown ``_`` key.
* A malformed frame (bad JSON, not an object, RESPONSE_NEEDED with ``_resp_for``, bad
  number lists) is answered with ``SyncBadEncodingError`` and the connection stays up.
* §3.1's types are checked before any hook runs (issue 10 item 16): ``_sync_owner`` is
  a hyphenated UUID text (or null, "no owner", left to the class), ``_sync_is_error``
  is ``true`` and only on error classes.  A message is "itself an error" (never
  answered, §6.3) only when it carries the flag and its class is an error class (or
  unknown here: an error of a module we lack), so the flag cannot silence answers.
* An error answering a request that is itself relayed from upstream (a recovered
  context) is sent unsolicited; the relayed requesters get "no response".
* Fast paths with the same outcome: hooks that are still the base classes' "return
  True" are not called; a registry whose ``sync_context``, ``should_listen_constructed``
  or ``sync_receive`` is the base one has it inlined (no context manager, the
  operation called directly); the library's own operation hooks and the base fill
  (``fill_from_message``) are called with the info dict itself when a class keeps the
  public hook.  Each saves a keyword-argument dict per object.
* Several registries may hold different classes under one name (a memory and an SQL
  registry both have a ``SyncOwner``, issue 10 item 6): each received message then
  goes to the class its attributes belong to (:mod:`entanglement._lookup`), so both work side
  by side on one manager whatever the order of the registries (§13 says they cannot;
  we prefer that they can).
* Events are handled a received chunk at a time (:meth:`ReceiveMixin._receive_events`).
  A plain message (it asks for nothing and answers nothing) whose
  ``(sync_type, operation)`` *route* keeps every base hook runs
  :func:`_receive_routed`: the calls above in the same order, with the route's
  decisions (class, registry, operation, which hooks to skip, the registry's
  ``incoming_``/``after_flood_`` hooks) made once per chunk, one ``info`` dict per
  route (only ``attributes`` changes, when the keys do) and the §3.1 validation
  reused while the keys repeat.  The one observable difference: a hook installed or
  removed *by a hook* while a chunk is being handled applies from the next chunk;
  anything changed between chunks (by the application) applies to the next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from entanglement._codecplan import RESERVED_KEYS, as_is_names_of, known_keys_of
from entanglement._destinations import SyncDestinationBase
from entanglement._lookup import default_registries, find_syncable, syncable_candidates
from entanglement._model import assign_failed, fill_from_message
from entanglement._opbase import (
    SyncOperation,
    check_constructed,
    hook_names,
    keeps_base_hooks,
    run_incoming,
)
from entanglement._registry import SyncRegistry
from entanglement._sansio import InvalidMessage, MessageReceived, ResponseContext
from entanglement._sansio.peertext import peer_repr, peer_str
from entanglement._send import is_base_hook
from entanglement._wirecheck import (
    check_error_flag,
    check_owner_text,
    fit_for_frame,
    validate_message,
)
from entanglement.interface import (
    SyncBadEncodingError,
    SyncError,
    Synchronizable,
    UnregisteredSyncClass,
)
from entanglement.operations import error as error_operation

if TYPE_CHECKING:
    from entanglement.protocol import SyncProtocol

__all__ = ["RESERVED_KEYS", "ReceiveMixin", "default_registries"]

log = logging.getLogger("entanglement")

ERROR_PRIORITY: Final = 0


class ReceiveMixin:
    """The §9 pipeline; mixed into SyncManager (which provides ``registries``)."""

    registries: list[SyncRegistry]
    _listen_base_ran: bool

    # -- dispatch from the driver ------------------------------------------------

    def _receive_events(
        self,
        protocol: SyncProtocol,
        events: Iterable[MessageReceived | InvalidMessage | dict[str, Any]],
    ) -> None:
        """Run the pipeline for each event of one received chunk, in order.

        Stops as soon as ``protocol`` closes.  Routes (class, registry, operation and
        which hooks are still the base ones) are worked out once per chunk.

        A message answering nothing whose route keeps every base hook (the common
        case) runs inline, here: the same calls in the same order as
        :meth:`_sync_receive`, without the chains' own checks and calls.
        """
        routes: dict[tuple[str, str], _Route | None] = {}
        for event in events:
            if not isinstance(event, dict):  # not a plain message (see conn.events)
                self._receive_event(protocol, event)
            else:
                msg = event
                try:
                    msg.pop("_flags", None)
                    operation_name = msg.setdefault("_sync_operation", "sync")
                    try:
                        route = routes[msg["_sync_type"], operation_name]
                    except (KeyError, TypeError):  # new, or not strings: validate
                        validate_message(msg)
                        key = (msg["_sync_type"], operation_name)
                        route = routes[key] = self._route(key, protocol)
                    if route is None:
                        self._receive_object(msg, _info(self, protocol, None))
                    else:
                        _receive_routed(msg, route)
                except Exception as exc:
                    self._receive_failed_safely(exc, msg, protocol)
            if protocol.closed:
                return

    def _receive_failed_safely(
        self, exc: Exception, msg: dict[str, Any], protocol: SyncProtocol
    ) -> None:
        try:
            self._receive_failed(exc, msg, protocol, None)
        except Exception:  # never let one frame take the connection down
            number = protocol.conn.in_count - 1  # (the frame being handled)
            log.exception("%s: error handling frame #%d", protocol.peer_name, number)

    def _receive_event(
        self, protocol: SyncProtocol, event: MessageReceived | InvalidMessage
    ) -> None:
        """Any other event: a request, a response, an invalid frame."""
        context = event.context
        try:
            if type(event) is MessageReceived:
                self._sync_receive(event.message, protocol, context)
            elif isinstance(event, InvalidMessage):
                self._invalid_message(protocol, event)
        except Exception:  # never let one frame take the connection down
            log.exception("%s: error handling frame #%d", protocol.peer_name, event[0])
        finally:
            if context is not None:
                context.release()

    def _route(self, key: tuple[str, str], protocol: SyncProtocol) -> _Route | None:
        """The route of ``(sync_type, operation)``; None when a hook is overridden.

        Raises:
            UnregisteredSyncClass: no registry knows the type.
            SyncInvalidOperation: its registry does not accept the operation.
        """
        candidates = self.syncable_candidates(key[0])
        if len(candidates) > 1:
            return None  # the class depends on each message's keys (best_fit)
        cls, registry = self.find_syncable(key[0])
        operation = registry.get_operation(key[1])
        sender = protocol.dest
        manager = type(self)
        plain = (
            manager.should_listen is ReceiveMixin.should_listen
            and manager.should_listen_constructed is _BASE_CONSTRUCTED
            and (sender is None or is_base_hook(sender.should_listen, _DEST_LISTEN))
            and is_base_hook(registry.should_listen, _REGISTRY_LISTEN)
            and is_base_hook(cls.sync_should_listen, _CLASS_LISTEN)
            and is_base_hook(registry.sync_context, _REGISTRY_CONTEXT)
            and is_base_hook(registry.should_listen_constructed, _REGISTRY_CONSTRUCTED)
            and is_base_hook(registry.sync_receive, _REGISTRY_RECEIVE)
            and isinstance(operation, SyncOperation)
            and keeps_base_hooks(operation)
        )
        if not plain:
            return None
        incoming, after_flood = hook_names(operation.name)
        info: dict[str, Any] = {
            "protocol": protocol,
            "manager": self,
            "response_for": None,
            "sender": sender,
            "operation": operation,
            "registry": registry,
            "attributes": frozenset(),
            "context": None,
        }
        return _Route(
            cls,
            registry,
            operation,
            getattr(registry, incoming, None),
            getattr(registry, after_flood, None),
            info,
        )

    def _invalid_message(self, protocol: SyncProtocol, event: InvalidMessage) -> None:
        reason = peer_str(event.reason)
        log.warning("%s: bad frame #%d: %s", protocol.peer_name, event.number, reason)
        error = SyncBadEncodingError(
            f"bad frame #{event.number}: {event.reason}", network_msg=event.message
        )
        self._send_error(protocol, error, event.context)

    # -- the pipeline ------------------------------------------------------------

    def _sync_receive(
        self,
        msg: dict[str, Any],
        protocol: SyncProtocol,
        response_for: ResponseContext | None,
    ) -> None:
        """Process one received message (§9 step 4); errors go back to the sender."""
        info = _info(self, protocol, response_for)
        try:
            obj = self._receive_object(msg, info)
        except Exception as exc:
            self._receive_failed(exc, msg, protocol, response_for)
            return
        if response_for is not None and response_for.responded:
            if isinstance(obj, BaseException):
                response_for.fail(obj)
            else:
                response_for.resolve(obj)

    def _receive_object(self, msg: dict[str, Any], info: dict[str, Any]) -> Any:
        validate_message(msg)
        cls, registry = self.find_syncable(msg["_sync_type"], msg)
        if "_sync_is_error" in msg:
            check_error_flag(msg, cls)
        info["operation"] = registry.get_operation(msg["_sync_operation"])
        info["registry"] = registry
        # validate_message left no "_" keys but the reserved ones.
        info["attributes"] = frozenset(msg).difference(RESERVED_KEYS)
        # The manager's own chains are called directly (one kwargs expansion less per
        # hook) unless a subclass overrides them.
        overridden = type(self).should_listen is not ReceiveMixin.should_listen
        if overridden:
            self._listen_base_ran = False
            _require_true(self.should_listen(msg, cls, **info), "manager.should_listen")
            if not self._listen_base_ran:
                raise RuntimeError(
                    f"{type(self).__name__}.should_listen did not call the base method"
                )
        else:
            self._listen_chain(msg, cls, info)
        if is_base_hook(registry.sync_context, _REGISTRY_CONTEXT):
            info["context"] = None  # the base context is a nullcontext
            return self._construct_and_fill(cls, registry, msg, info)
        with registry.sync_context(sync_type=cls, **info) as context:
            info["context"] = context
            return self._construct_and_fill(cls, registry, msg, info)

    def _construct_and_fill(
        self, cls: Any, registry: Any, msg: dict[str, Any], info: dict[str, Any]
    ) -> Any:
        obj = cls.sync_construct(msg, **info)
        if type(self).should_listen_constructed is _BASE_CONSTRUCTED:
            self._constructed_chain(obj, msg, info)
        else:
            _require_true(
                self.should_listen_constructed(obj, msg, **info),
                "manager.should_listen_constructed",
            )
        if type(obj).sync_receive_constructed is _OBJECT_FILL:
            fill_from_message(obj, msg)  # what the base hook does, without **info
        else:
            obj.sync_receive_constructed(msg, **info)
        operation = info["operation"]
        if is_base_hook(registry.sync_receive, _REGISTRY_RECEIVE) and isinstance(
            operation, SyncOperation
        ):
            run_incoming(operation, obj, info)  # what the base sync_receive does
        else:
            registry.sync_receive(obj, **info)
        return obj

    def find_syncable(
        self, sync_type: str, msg: dict[str, Any] | None = None
    ) -> tuple[Any, SyncRegistry]:
        """Return ``(class, registry)`` for a sync_type (registries in order).

        When several registries hold different classes under the name (the memory
        and the SQL ``SyncOwner``), ``msg`` decides: see
        :func:`entanglement._lookup.best_fit`.

        Raises:
            UnregisteredSyncClass: no registry of this manager knows ``sync_type``.
        """
        return find_syncable(self.registries, sync_type, msg)

    def syncable_candidates(self, sync_type: str) -> list[tuple[Any, SyncRegistry]]:
        """Every ``(class, registry)`` knowing ``sync_type``, one per class, in order."""
        return syncable_candidates(self.registries, sync_type)

    # -- the should_listen chains (overridable; call the base) --------------------

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """Sender, registry, class: each must return True or raise.

        Subclasses overriding this must call the base method.
        """
        self._listen_base_ran = True
        self._listen_chain(msg, cls, info)
        return True

    def _listen_chain(
        self, msg: dict[str, Any], cls: Any, info: dict[str, Any]
    ) -> None:
        sender = info["sender"]
        if sender is not None:
            hook = sender.should_listen
            if not is_base_hook(hook, _DEST_LISTEN):
                result = hook(msg, cls, **info)
                if result is not True:
                    _not_true(result, "dest.should_listen")
        hook = info["registry"].should_listen
        if not is_base_hook(hook, _REGISTRY_LISTEN):
            result = hook(msg, cls, **info)
            if result is not True:
                _not_true(result, "registry.should_listen")
        hook = cls.sync_should_listen
        if not is_base_hook(hook, _CLASS_LISTEN):
            result = hook(msg, **info)
            if result is not True:
                _not_true(result, f"{cls.__name__}.sync_should_listen")

    def should_listen_constructed(
        self, obj: Any, msg: dict[str, Any], **info: Any
    ) -> bool:
        """Registry (ownership checks) then object: each must return True or raise."""
        self._constructed_chain(obj, msg, info)
        return True

    def _constructed_chain(
        self, obj: Any, msg: dict[str, Any], info: dict[str, Any]
    ) -> None:
        hook = info["registry"].should_listen_constructed
        operation = info["operation"]
        if is_base_hook(hook, _REGISTRY_CONSTRUCTED) and isinstance(
            operation, SyncOperation
        ):
            result = check_constructed(operation, obj, msg, info)  # what the base does
        else:
            result = hook(obj, msg, **info)
        if result is not True:
            _not_true(result, "registry.should_listen_constructed")
        hook = obj.sync_should_listen_constructed
        if not is_base_hook(hook, _OBJECT_CONSTRUCTED):
            result = hook(msg, **info)
            if result is not True:
                _not_true(
                    result, f"{type(obj).__name__}.sync_should_listen_constructed"
                )

    # -- errors ------------------------------------------------------------------

    def _receive_failed(
        self,
        exc: Exception,
        msg: dict[str, Any],
        protocol: SyncProtocol,
        response_for: ResponseContext | None,
    ) -> None:
        # Peer text, quoted and capped: one line, whatever the peer sent.
        operation = msg.get("_sync_operation", "sync")
        what = f"{peer_str(str(operation), 100)} of {peer_repr(msg.get('_sync_type'))}"
        if _storage_unavailable(exc):
            # A busy or locked database (issue 10 item 10): what this message changed
            # is unknown, so drop the link; the resync after reconnecting asks for
            # everything again.  (Not the peer's fault: no error is sent to it.)  An
            # abort, not a close: the rest of the chunk is not processed, else each
            # of its messages would wait out the busy timeout again, loop blocked.
            log.warning(
                "%s: storage unavailable while processing %s; reconnecting",
                protocol.peer_name,
                what,
            )
            protocol.abort()
            return
        if not isinstance(exc, SyncError):
            log.error(
                "%s: failed to process %s", protocol.peer_name, what, exc_info=exc
            )
            return
        log.warning("%s: rejected %s: %s", protocol.peer_name, what, peer_str(str(exc)))
        self._tell_refusal_listeners(protocol, msg, exc)
        if msg.get("_sync_is_error") is True and self._is_error_class(msg):
            return  # never answer an error with an error (§6.3)
        if exc.network_msg is None:
            exc.network_msg = msg
        request = response_for if response_for and not response_for.responded else None
        self._send_error(protocol, exc, request)

    def add_refusal_listener(self, listener: RefusalListener) -> None:
        """Call ``listener(manager, sender, msg, error)`` for each message refused with
        a SyncError.

        The SQL layer listens so that a row of a type this node does not know (a newer
        schema's) is not counted as received (:mod:`entanglement.sql.holds`).  Adding
        the same listener twice has no effect.
        """
        listeners: list[RefusalListener] = self.__dict__.setdefault(
            "_refusal_listeners", []
        )
        if listener not in listeners:
            listeners.append(listener)

    def _tell_refusal_listeners(
        self, protocol: SyncProtocol, msg: dict[str, Any], exc: SyncError
    ) -> None:
        for listener in self.__dict__.get("_refusal_listeners", ()):
            try:
                listener(self, protocol.dest, msg, exc)
            except Exception:  # a listener's bug must not cost the error reply
                log.exception("%s: a refusal listener failed", protocol.peer_name)

    def _is_error_class(self, msg: dict[str, Any]) -> bool:
        # An error is a message of an error class that says so (§6.1): the flag on
        # a class of ours outside the error tree must not silence the answer (issue
        # 10 item 16).  An unknown class may be an error of a module we lack (§6.1):
        # it keeps the flag's benefit of the doubt.
        sync_type = msg.get("_sync_type")
        if type(sync_type) is not str:
            return False
        try:
            cls, _ = self.find_syncable(sync_type)
        except UnregisteredSyncClass:
            return True
        return isinstance(cls, type) and issubclass(cls, SyncError)

    def _send_error(
        self,
        protocol: SyncProtocol,
        error: SyncError,
        request: ResponseContext | None,
    ) -> None:
        if protocol.closed:
            return
        if request is not None:
            request.answered = True
        fit_for_frame(error)
        protocol.conn.enqueue(error, error_operation, None, request, ERROR_PRIORITY)


RefusalListener = Callable[[Any, Any, dict[str, Any], SyncError], None]


def _receive_routed(msg: dict[str, Any], route: _Route) -> None:
    """The pipeline of a message whose route keeps every base hook (see
    ``ReceiveMixin._receive_events``): validation left to the keys' cache, then
    construct, the operation's check, the object's check, fill, incoming, flood."""
    if msg.keys() != route.keys:  # (messages of a class mostly carry the same keys)
        if not route.known.issuperset(msg):
            validate_message(
                msg, route.cls
            )  # a "_" key to check? (fill names the others)
        route.keys = frozenset(msg)
        # validate_message left no "_" keys but the reserved ones.
        route.info["attributes"] = route.keys.difference(RESERVED_KEYS)
    owner = msg.get("_sync_owner")
    if owner != route.owner and owner is not None:  # (a route's objects mostly
        check_owner_text(owner, msg)  # share an owner: checked once per change)
        route.owner = owner
    operation = route.operation
    info = route.info
    obj = route.cls.sync_construct(msg, **info)
    result = operation._check_info(obj, msg, info)
    if result is not True:
        _not_true(result, "registry.should_listen_constructed")
    hook = obj.sync_should_listen_constructed
    if getattr(hook, "__func__", None) is not _OBJECT_CONSTRUCTED:
        result = hook(msg, **info)
        if result is not True:
            _not_true(result, f"{type(obj).__name__}.sync_should_listen_constructed")
    if type(obj) is route.fill_class and route.as_is.issuperset(msg):
        # fill_from_message's as-is case, inlined (nothing to decode, every key
        # known): the one step left per attribute of every object.
        try:
            for name, value in msg.items():
                if name not in RESERVED_KEYS:
                    setattr(obj, name, value)
        except Exception as exc:
            assign_failed(name, msg, exc)
    elif type(obj).sync_receive_constructed is _OBJECT_FILL:
        fill_from_message(obj, msg)
    else:
        obj.sync_receive_constructed(msg, **info)
    # SyncOperation.incoming, for an operation that keeps it.
    if route.incoming is not None:
        route.incoming(obj, **info)
    operation._flood_info(obj, info)
    if route.after_flood is not None:
        route.after_flood(obj, **info)


class _Route:
    """How messages of one (sync_type, operation) are received, for one chunk."""

    __slots__ = (
        "after_flood",
        "as_is",
        "cls",
        "fill_class",
        "incoming",
        "info",
        "keys",
        "known",
        "operation",
        "owner",
        "registry",
    )

    def __init__(
        self,
        cls: Any,
        registry: SyncRegistry,
        operation: SyncOperation,
        incoming: Callable[..., Any] | None,
        after_flood: Callable[..., Any] | None,
        info: dict[str, Any],
    ) -> None:
        self.cls, self.registry, self.operation = cls, registry, operation
        self.incoming, self.after_flood = incoming, after_flood
        # The info dict of every message of the route: only "attributes" differs
        # between them, and only when the keys do.  Hooks receive copies (**info);
        # the operations' private forms receive it and must not change it.
        self.info = info
        # Keys that need no closer look by validate_message: not the error flag,
        # which is checked against the class whenever a message's keys change.
        self.known = known_keys_of(cls).difference(("_sync_is_error",))
        # The last owner text found valid (check_owner_text).
        self.owner: Any = None
        # Objects of this class (when it keeps the base fill) are filled inline from
        # messages holding only these keys (see fill_from_message).
        fills = cls.sync_receive_constructed is _OBJECT_FILL
        self.fill_class: type | None = cls if fills else None
        self.as_is = as_is_names_of(cls) if fills else frozenset()
        # The last message's keys, validated (its "attributes" are in info).
        self.keys: frozenset[str] = frozenset()


_UNROUTED: Final[Any] = object()


def _info(
    manager: Any, protocol: SyncProtocol, response_for: ResponseContext | None
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "manager": manager,
        "response_for": response_for,
        "sender": protocol.dest,
    }


def _require_true(result: Any, hook: str) -> None:
    if result is not True:
        _not_true(result, hook)


def _not_true(result: Any, hook: str) -> None:
    raise TypeError(f"{hook} returned {result!r}; it must return True or raise")


_BASE_CONSTRUCTED: Final = ReceiveMixin.should_listen_constructed
# Base hooks that only return True (or only delegate), see is_base_hook.
_DEST_LISTEN: Final = SyncDestinationBase.should_listen
_REGISTRY_LISTEN: Final = SyncRegistry.should_listen
_REGISTRY_CONSTRUCTED: Final = SyncRegistry.should_listen_constructed
_REGISTRY_CONTEXT: Final = SyncRegistry.sync_context
_REGISTRY_RECEIVE: Final = SyncRegistry.sync_receive
_CLASS_LISTEN: Final = Synchronizable.sync_should_listen.__func__  # type: ignore[attr-defined]
_OBJECT_CONSTRUCTED: Final = Synchronizable.sync_should_listen_constructed
_OBJECT_FILL: Final = Synchronizable.sync_receive_constructed


def _storage_unavailable(exc: BaseException) -> bool:
    """A transient fault of an SQL store, raised as is or as the cause of a SyncError
    (only SQLAlchemy errors can be one)."""
    for candidate in (exc, exc.__cause__):
        if candidate is not None and type(candidate).__module__.startswith(
            "sqlalchemy"
        ):
            from entanglement.sql.transient import is_transient

            if is_transient(candidate):
                return True
    return False
