"""Accepting connections (PROTOCOL.md §5.5): identify the peer, settle races, go live.

Identify the peer (TLS CertHash or unix SO_PEERCRED), look the destination up (or ask
``unknown_destination``), then:

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

TLS and unix listeners call in here; the WebSocket server (:mod:`entanglement.websocket`)
calls :meth:`AcceptMixin.serve_incoming` with its own transport.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
from typing import TYPE_CHECKING, Any, Final

from entanglement._attempts import Attempt, AttemptsMixin
from entanglement._exceptions import TransportError
from entanglement._hashes import DestHash
from entanglement._tls import NoPeerCertificate, peer_cert_hash
from entanglement.interface import SyncNotConnected
from entanglement.protocol import BandwidthProtocol, SyncProtocol

if TYPE_CHECKING:
    from entanglement._destinations import SyncDestinationBase

__all__ = ["AcceptMixin"]

log = logging.getLogger("entanglement")

TIE_BREAK_WAIT: Final = 0.5


class AcceptMixin(AttemptsMixin):
    """Incoming connections; mixed into SyncManager (through ConnectMixin)."""

    if TYPE_CHECKING:  # provided by ConnectMixin (a loss may start a reconnect)

        def _connection_lost(
            self, protocol: SyncProtocol, exc: BaseException | None
        ) -> None: ...

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
        attempt = Attempt(asyncio.current_task(), protocol, in_flight=True)
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
