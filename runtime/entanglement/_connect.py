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

Incoming (§5.5): identify the peer (TLS CertHash or unix SO_PEERCRED), look the
destination up (or ask ``unknown_destination``), then:

* a self-connection is read but never registered;
* mutual-open race (quirk 15 fixed): both sides compare the raw digests and agree that
  the connection *initiated by the peer with the smaller hash* survives.  The side with
  the smaller hash, receiving the other's connection while its own outgoing one is in
  flight or live, waits briefly for the peer to drop it and otherwise (the old
  connection was stale) replaces its own;
* otherwise an existing live connection is replaced and an attempt cancelled;
* if ``connected()`` raises, the connection is closed (quirk 16 fixed); when what it
  raises is a :class:`~entanglement._exceptions.TransportError` (the link dropped
  while it waited on a drain) that is an ordinary loss: INFO, no traceback, and an
  outgoing destination reconnects (issue 10 item 17).

Loss (§5.6): the sans-IO connection releases its awaited responses and queued
elements (their requesters get "no response"), ``dest.protocol`` is cleared, the
destination's lost-callbacks run, and a destination that can connect starts again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from entanglement._exceptions import ConnectError, TransportError
from entanglement._hashes import CertHash, DestHash
from entanglement._tls import NoPeerCertificate, peer_cert_hash
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
TIE_BREAK_WAIT: Final = 0.5


@dataclass(slots=True)
class _Attempt:
    task: asyncio.Task[Any] | None
    protocol: SyncProtocol | None = None
    in_flight: bool = False


class ConnectMixin:
    """Connection management; mixed into SyncManager."""

    loop: asyncio.AbstractEventLoop
    cert_hash: CertHash | None
    initial_backoff: float
    max_backoff: float
    handshake_timeout: float
    _destinations: dict[DestHash, SyncDestinationBase]
    _connections: dict[DestHash, SyncProtocol]
    _closing: bool

    if TYPE_CHECKING:  # provided by SyncManager

        def create_task(
            self, coro: Any, *, name: str | None = None
        ) -> asyncio.Task[Any]: ...

        async def unknown_destination(self, protocol: SyncProtocol) -> Any: ...

        def _receive_events(self, protocol: SyncProtocol, events: Any) -> None: ...

        def add_destination(self, dest: Any) -> Any: ...

    def _init_connect_state(self) -> None:
        # Every protocol with a transport, live or not (self-connections, connections
        # waiting on a tie-break): shutdown closes them all.
        self._protocols: set[SyncProtocol] = set()
        self._attempts: dict[DestHash, _Attempt] = {}
        self._backoff: dict[DestHash, float] = {}
        self._connected_since: dict[DestHash, float] = {}

    # -- bookkeeping -------------------------------------------------------------

    def _connecting_protocol(self, dest_hash: DestHash | None) -> SyncProtocol | None:
        attempt = self._attempts.get(dest_hash) if dest_hash else None
        return attempt.protocol if attempt is not None else None

    def _all_protocols(self) -> list[SyncProtocol]:
        protocols = set(self._protocols) | set(self._connections.values())
        for attempt in self._attempts.values():
            if attempt.protocol is not None:
                protocols.add(attempt.protocol)
        return list(protocols)

    def _connection_made(self, protocol: SyncProtocol) -> None:
        if self._closing:
            protocol.abort()
            return
        self._protocols.add(protocol)

    def _stop_connecting(self, dest_hash: DestHash) -> None:
        attempt = self._attempts.pop(dest_hash, None)
        if attempt is None:
            return
        if attempt.task is not None and attempt.task is not asyncio.current_task():
            attempt.task.cancel()
        if attempt.protocol is not None:
            attempt.protocol.abort()

    def _register_live(self, dest: SyncDestinationBase, protocol: SyncProtocol) -> None:
        dest_hash = dest.dest_hash
        assert dest_hash is not None
        old = self._connections.get(dest_hash)
        self._connections[dest_hash] = protocol
        self._connected_since[dest_hash] = self.loop.time()
        if old is not None and old is not protocol:
            old.close()
        log.info("%s: connected", protocol.peer_name)

    # -- outgoing ----------------------------------------------------------------

    def _start_connecting(self, dest: SyncDestinationBase) -> asyncio.Task[Any]:
        assert dest.dest_hash is not None
        name = f"connect to {dest.name}"
        task = self.create_task(self._connect_loop(dest), name=name)
        self._attempts[dest.dest_hash] = _Attempt(task)
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
            attempt = self._attempts[dest.dest_hash] = _Attempt(asyncio.current_task())
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

    # -- incoming ----------------------------------------------------------------

    async def _accept_tls(
        self, raw: asyncio.BaseTransport, ctx: ssl.SSLContext, peer: Any
    ) -> None:
        protocol = SyncProtocol(self, incoming=True, peer_address=peer)
        bw = BandwidthProtocol(protocol)
        try:
            async with asyncio.timeout(self.handshake_timeout):
                transport = await self.loop.start_tls(
                    raw,  # type: ignore[arg-type]
                    bw,
                    ctx,
                    server_side=True,
                    ssl_handshake_timeout=self.handshake_timeout,
                )
            assert transport is not None
            dest_hash, der = peer_cert_hash(transport)
        except (OSError, TimeoutError, ConnectionError, NoPeerCertificate) as exc:
            # A client that rejected *our* certificate just drops the link: the
            # exception then has no text, so name its type instead.
            reason = str(exc) or type(exc).__name__
            log.warning("refused a TLS connection %s: %s", protocol.peer_name, reason)
            raw.abort()  # type: ignore[attr-defined]
            return
        protocol.dest_hash, protocol.der_cert = dest_hash, der
        bw.connection_made(transport)
        await self.serve_incoming(protocol, bw)

    @property
    def closing(self) -> bool:
        """True once the manager started closing: transports accept no new peers."""
        return self._closing

    async def serve_incoming(
        self, protocol: SyncProtocol, bw: BandwidthProtocol
    ) -> None:
        """Run the set-up of a connection a listener accepted, until it is live.

        For transports (TLS and unix listeners here, the WebSocket server in
        :mod:`entanglement.websocket`): ``protocol.dest_hash`` is the authenticated
        peer and ``bw`` already has its transport.  Finds (or asks for) the peer's
        destination, settles a simultaneous connect, runs ``dest.connected()`` and
        registers the connection; a failure closes it (logged, never raised).
        """
        peer_hash = protocol.dest_hash
        assert peer_hash is not None
        dest = await self._destination_for(protocol, peer_hash)
        if dest is None:
            return
        protocol.bind(dest)
        if peer_hash == self.cert_hash:
            protocol.start_reading()  # self-connection: read, never register
            return
        if await self._lost_tie_break(protocol, peer_hash):
            return
        self._replace_for_incoming(peer_hash)
        attempt = _Attempt(asyncio.current_task(), protocol, in_flight=True)
        self._attempts[peer_hash] = attempt
        protocol.start_reading()
        try:
            await dest.connected(self, protocol, bw)
        except (TransportError, SyncNotConnected) as exc:  # the link dropped
            log.info("%s: lost during set-up: %s", protocol.peer_name, exc)
            protocol.abort()
            return
        except Exception:
            log.exception("%s: connected() failed; closing", protocol.peer_name)
            protocol.abort()
            return
        finally:
            if self._attempts.get(peer_hash) is attempt:
                del self._attempts[peer_hash]
        if not protocol.closed and not self._closing:
            self._register_live(dest, protocol)

    async def _destination_for(
        self, protocol: SyncProtocol, peer_hash: DestHash
    ) -> SyncDestinationBase | None:
        dest = self._destinations.get(peer_hash)
        if dest is not None:
            return dest
        try:
            dest = await self.unknown_destination(protocol)
        except Exception:
            log.exception("%s: unknown_destination failed", protocol.peer_name)
            dest = None
        if dest is not None and dest.dest_hash not in self._destinations:
            try:
                self.add_destination(dest)
            except (ValueError, KeyError) as exc:
                log.error("%s: cannot add %r: %s", protocol.peer_name, dest, exc)
                dest = None
        if dest is None:
            log.warning("%s: unknown peer; closing", protocol.peer_name)
            protocol.abort()
        return dest

    async def _lost_tie_break(
        self, protocol: SyncProtocol, peer_hash: DestHash
    ) -> bool:
        # True when this incoming connection must give way to our own outgoing one.
        if self.cert_hash is None or bytes(peer_hash) < bytes(self.cert_hash):
            return False
        live = self._connections.get(peer_hash)
        attempt = self._attempts.get(peer_hash)
        ours_out = (live is not None and not live.incoming) or (
            attempt is not None and attempt.in_flight and attempt.task is not None
        )
        if not ours_out:
            return False
        protocol.watch_for_close()
        try:
            async with asyncio.timeout(TIE_BREAK_WAIT):
                await protocol.wait_closed()
        except TimeoutError:
            return False  # the peer kept it: our connection was stale
        log.debug("%s: mutual open resolved in favour of ours", protocol.peer_name)
        return True

    def _replace_for_incoming(self, peer_hash: DestHash) -> None:
        self._stop_connecting(peer_hash)
        old = self._connections.pop(peer_hash, None)
        if old is not None:
            log.info("%s: new connection replaces the old one", old.peer_name)
            old.close()

    def _accept_unix(self, protocol: SyncProtocol, bw: BandwidthProtocol) -> None:
        transport = bw.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        fmt = "3I"
        raw = sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(fmt)
        )
        pid, uid, gid = struct.unpack(fmt, raw)
        path = sock.getsockname()
        protocol.dest_hash = DestHash.from_unix_dest_info(path, pid, uid, gid)
        protocol.peer_address = f"unix:{path} pid {pid} uid {uid}"
        self.create_task(self.serve_incoming(protocol, bw), name="incoming unix")

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
