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
* Several registries may hold different classes under one name (a memory and an SQL
  registry both have a ``SyncOwner``, issue 10 item 6): each received message then
  goes to the class its attributes belong to (:mod:`entanglement._lookup`), so both work side
  by side on one manager whatever the order of the registries (§13 says they cannot;
  we prefer that they can).
* Every message runs one body, :func:`entanglement._planreceive.receive_planned`,
  from the receive plan of its ``(sync_type, operation)`` (plus class, when several
  registries hold the name), made once per received chunk: see
  :mod:`entanglement._plan` for what plans promise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from entanglement._lookup import default_registries, find_syncable, syncable_candidates
from entanglement._planreceive import (
    ObjectSteps,
    ReceivePlan,
    check_constructed,
    constructed_check,
    lend,
    listen_hooks,
    make_plan,
    receive_planned,
    run_listen,
    take_back,
)
from entanglement._registry import SyncRegistry
from entanglement._sansio import InvalidMessage, MessageReceived, ResponseContext
from entanglement._sansio.peertext import peer_repr, peer_str
from entanglement._wirecheck import fit_for_frame, validate_message
from entanglement.interface import (
    SyncBadEncodingError,
    SyncError,
    UnregisteredSyncClass,
)
from entanglement.operations import error as error_operation

if TYPE_CHECKING:
    from entanglement.protocol import SyncProtocol

__all__ = ["ReceiveMixin", "default_registries"]

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

        Stops as soon as ``protocol`` closes.  The chunk's plans are made as their
        first message comes and serve every later one of the chunk.
        """
        plans: _Plans = {}
        try:
            for event in events:
                if not isinstance(event, dict):  # not a plain message (conn.events)
                    self._receive_event(protocol, event, plans)
                else:
                    try:
                        plan = self._plan_of(event, protocol, plans)
                        receive_planned(plan, event, plan.info)
                    except Exception as exc:
                        self._receive_failed_safely(exc, event, protocol)
                if protocol.closed:
                    return
        finally:
            take_back(plans)  # (what the chunk's plans lent their registries)

    def _plan_of(
        self, msg: dict[str, Any], protocol: SyncProtocol, plans: _Plans
    ) -> ReceivePlan:
        """The chunk's plan for ``msg`` (made, after validating it, if new).

        Raises:
            SyncBadEncodingError: the message breaks §3.1.
            UnregisteredSyncClass: no registry knows the type.
            SyncInvalidOperation: its registry does not accept the operation.
        """
        operation = msg.setdefault("_sync_operation", "sync")
        try:
            plan = plans[msg["_sync_type"], operation]
        except (KeyError, TypeError):  # new, or not strings: validate
            validate_message(msg)
            key = (msg["_sync_type"], operation)
            if len(self.syncable_candidates(key[0])) > 1:
                plan = plans[key] = None  # the class depends on the message
            else:
                cls, registry = self.find_syncable(key[0])
                plan = plans[key] = make_plan(self, protocol, cls, registry, key[1])
                if plan.lent is not None:
                    lend(plan)
        if plan is None:  # (several registries hold the name: see _lookup.best_fit)
            cls, registry = self.find_syncable(msg["_sync_type"], msg)
            by_class = (msg["_sync_type"], operation, cls)
            plan = plans.get(by_class)
            if plan is None:
                plan = make_plan(self, protocol, cls, registry, operation)
                plans[by_class] = plan
                if plan.lent is not None:
                    lend(plan)
        return plan

    def _receive_failed_safely(
        self, exc: Exception, msg: dict[str, Any], protocol: SyncProtocol
    ) -> None:
        try:
            self._receive_failed(exc, msg, protocol, None)
        except Exception:  # never let one frame take the connection down
            number = protocol.frames_received - 1  # (the frame being handled)
            log.exception("%s: error handling frame #%d", protocol.peer_name, number)

    def _receive_event(
        self,
        protocol: SyncProtocol,
        event: MessageReceived | InvalidMessage,
        plans: _Plans,
    ) -> None:
        """Any other event: a request, a response, an invalid frame."""
        context = event.context
        try:
            if type(event) is MessageReceived:
                self._sync_receive(event.message, protocol, context, plans)
            elif isinstance(event, InvalidMessage):
                self._invalid_message(protocol, event)
        except Exception:  # never let one frame take the connection down
            log.exception("%s: error handling frame #%d", protocol.peer_name, event[0])
        finally:
            if context is not None:
                context.release()

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
        plans: _Plans | None = None,
    ) -> None:
        """Process one received message (§9 step 4); errors go back to the sender."""
        own = plans is None  # (a call of its own, not a chunk's: its own plans)
        chunk: _Plans = {} if plans is None else plans
        try:
            plan = self._plan_of(msg, protocol, chunk)
            info = dict(plan.info)
            info["response_for"] = response_for
            obj = receive_planned(plan, msg, info)
        except Exception as exc:
            self._receive_failed(exc, msg, protocol, response_for)
            return
        finally:
            if own:
                take_back(chunk)
        if response_for is not None and response_for.responded:
            if isinstance(obj, BaseException):
                response_for.fail(obj)
            else:
                response_for.resolve(obj)

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
        hooks = listen_hooks(info["sender"], info["registry"], cls)
        run_listen(hooks, msg, cls, info)
        return True

    def should_listen_constructed(
        self, obj: Any, msg: dict[str, Any], **info: Any
    ) -> bool:
        """Registry (ownership checks) then object: each must return True or raise."""
        check = constructed_check(info["registry"], info["operation"])
        check_constructed(check, ObjectSteps(type(obj)), obj, msg, info)
        return True

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
        schema's) is not counted as received (:mod:`entanglement.sql.receive.holds`).  Adding
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
        protocol.enqueue(error, error_operation, None, request, ERROR_PRIORITY)


RefusalListener = Callable[[Any, Any, dict[str, Any], SyncError], None]


_Plans = dict[Any, ReceivePlan | None]


def _storage_unavailable(exc: BaseException) -> bool:
    """A transient fault of an SQL store, raised as is or as the cause of a SyncError
    (only SQLAlchemy errors can be one)."""
    for candidate in (exc, exc.__cause__):
        if candidate is not None and type(candidate).__module__.startswith(
            "sqlalchemy"
        ):
            from entanglement.sql.receive.transient import is_transient

            if is_transient(candidate):
                return True
    return False
