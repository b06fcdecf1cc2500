"""Opening, accepting and losing connections (PROTOCOL.md §5.4-§5.6).

Theory of operation
-------------------
Per destination at most one *attempt* is in progress: an outgoing connect task, or an
accepted connection whose ``connected()`` hook is running.  A connection becomes *live*
(``manager._connections``) only after ``connected()`` returned; while it runs the
destination is "connecting" and explicit ``synchronize(..., destinations=[dest])`` can
already use the connection.

Outgoing (§5.4): wait until ``dest.connect_at``, open the transport, confirm the peer's
CertHash (TLS only), start reading, ``await dest.connected(...)``, register.  A failure
is logged and retried after a delay that starts at ``initial_backoff`` and doubles up to
``max_backoff``.  ``WrongSyncDestination`` (and ValueError, TypeError, LookupError,
SyntaxError, which are configuration errors) end the attempts for good.  Quirk 14
fixed: a connection that stayed up at least as long as the current delay resets it, and
the reconnect starts at once; one that dropped sooner counts as a failed attempt.

Incoming (§5.5) is :mod:`entanglement._accept` (``AcceptMixin``, a base of
``ConnectMixin``); the attempt and live-connection state both sides keep is
:mod:`entanglement._attempts`.

Loss (§5.6): the sans-IO connection releases its awaited responses and queued
elements (their requesters get "no response"), ``dest.protocol`` is cleared, the
destination's lost-callbacks run, and a destination that can connect starts again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any, Final

from entanglement._accept import AcceptMixin
from entanglement._attempts import Attempt
from entanglement._exceptions import ConnectError, TransportError
from entanglement._tls import peer_cert_hash
from entanglement.interface import SyncNotConnected, WrongSyncDestination
from entanglement.protocol import BandwidthProtocol, SyncProtocol

if TYPE_CHECKING:
    from entanglement._destinations import SyncDestinationBase

__all__ = ["ConnectMixin"]

log = logging.getLogger("entanglement")

PERMANENT_ERRORS: Final = (
    WrongSyncDestination,
    ValueError,
    TypeError,
    LookupError,
    SyntaxError,
)


class ConnectMixin(AcceptMixin):
    """Connection management; mixed into SyncManager."""

    def _start_connecting(self, dest: SyncDestinationBase) -> asyncio.Task[Any]:
        assert dest.dest_hash is not None
        name = f"connect to {dest.name}"
        task = self.create_task(self._connect_loop(dest), name=name)
        self._attempts[dest.dest_hash] = Attempt(task)
        return task

    async def _connect_loop(
        self, dest: SyncDestinationBase
    ) -> tuple[asyncio.BaseTransport, SyncProtocol]:
        assert dest.dest_hash is not None
        try:
            while True:
                delay = dest.connect_at - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    return await self._connect_once(dest)
                except PERMANENT_ERRORS as exc:
                    log.error("%s: giving up connecting: %s", _describe(dest), exc)
                    raise
                except (OSError, ConnectError, ssl.SSLError, TimeoutError) as exc:
                    self._schedule_retry(dest, f"{type(exc).__name__}: {exc}")
                except (TransportError, SyncNotConnected) as exc:
                    # The link dropped while connected() waited on it (a drain) or
                    # sent on it: an ordinary loss, and we reconnect (issue 10 item
                    # 17).
                    reason = f"lost during set-up: {exc}"
                    self._schedule_retry(dest, reason, logging.INFO)
                except Exception as exc:  # errors from connected() hooks
                    log.exception("%s: connection setup failed", _describe(dest))
                    self._schedule_retry(dest, repr(exc))
        finally:
            attempt = self._attempts.get(dest.dest_hash)
            if attempt is not None and attempt.task is asyncio.current_task():
                del self._attempts[dest.dest_hash]

    def _schedule_retry(
        self, dest: SyncDestinationBase, reason: str, level: int = logging.WARNING
    ) -> None:
        assert dest.dest_hash is not None
        delay = self._backoff.get(dest.dest_hash, self.initial_backoff)
        dest.connect_at = self.loop.time() + delay
        self._backoff[dest.dest_hash] = min(2 * delay, self.max_backoff)
        log.log(
            level,
            "%s: connection failed (%s); retrying in %.1f s",
            _describe(dest),
            reason,
            delay,
        )

    async def _connect_once(
        self, dest: SyncDestinationBase
    ) -> tuple[asyncio.BaseTransport, SyncProtocol]:
        assert dest.dest_hash is not None
        attempt = self._attempts.get(dest.dest_hash)
        if attempt is None or attempt.task is not asyncio.current_task():
            attempt = self._attempts[dest.dest_hash] = Attempt(asyncio.current_task())
        protocol = SyncProtocol(self, incoming=False, dest=dest)
        attempt.protocol, attempt.in_flight = protocol, True
        try:
            transport, bw = await dest.open_transport(
                self, lambda: BandwidthProtocol(protocol)
            )
            assert isinstance(bw, BandwidthProtocol)
            self._confirm_identity(dest, protocol, transport)
            protocol.start_reading()
            await dest.connected(self, protocol, bw)
            if protocol.closed:
                raise ConnectError(f"{protocol.peer_name}: lost during connected()")
        except BaseException:
            protocol.abort()
            attempt.protocol, attempt.in_flight = None, False  # back to waiting
            raise
        if self._attempts.get(dest.dest_hash) is attempt:
            del self._attempts[dest.dest_hash]
        self._register_live(dest, protocol)
        return transport, protocol

    def _confirm_identity(
        self,
        dest: SyncDestinationBase,
        protocol: SyncProtocol,
        transport: asyncio.BaseTransport,
    ) -> None:
        if not dest.verifies_identity:
            protocol.dest_hash = dest.dest_hash
            return
        got, der = peer_cert_hash(transport)
        protocol.dest_hash, protocol.der_cert = got, der
        if got != dest.dest_hash:
            raise WrongSyncDestination(dest=dest, got_hash=got)

    # -- loss --------------------------------------------------------------------

    def _connection_lost(
        self, protocol: SyncProtocol, exc: BaseException | None
    ) -> None:
        self._protocols.discard(protocol)
        dest: SyncDestinationBase | None = protocol.dest
        if dest is None or dest.dest_hash is None:
            return
        if dest.protocol is protocol:
            dest.protocol = None
        if self._connections.get(dest.dest_hash) is not protocol:
            return  # never live, or replaced: nothing else to do
        del self._connections[dest.dest_hash]
        log.info("%s: connection lost%s", protocol.peer_name, f": {exc}" if exc else "")
        dest.connection_lost(self)
        if self._closing or self._destinations.get(dest.dest_hash) is not dest:
            return
        if dest.can_connect and dest.dest_hash not in self._attempts:
            self._reset_backoff_after(dest)
            self._start_connecting(dest)

    def _reset_backoff_after(self, dest: SyncDestinationBase) -> None:
        assert dest.dest_hash is not None
        now = self.loop.time()
        since = self._connected_since.pop(dest.dest_hash, now)
        delay = self._backoff.get(dest.dest_hash, self.initial_backoff)
        if now - since >= delay:
            self._backoff[dest.dest_hash] = self.initial_backoff
            dest.connect_at = now
        else:
            dest.connect_at = since + delay
            self._backoff[dest.dest_hash] = min(2 * delay, self.max_backoff)


def _describe(dest: Any) -> str:
    return f"{dest.name!r} {dest.dest_hash}"
