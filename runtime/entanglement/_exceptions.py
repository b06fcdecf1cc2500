"""The root of the runtime's exception tree.

Every exception the runtime raises on purpose derives from :class:`EntanglementError`:

    EntanglementError
     ├─ SyncError (entanglement.interface)     errors that travel on the wire (§6)
     ├─ ProtocolError                          a peer or we broke the framing rules (§2)
     │   ├─ LocalProtocolError                 we were asked to send something invalid
     │   └─ RemoteProtocolError                the peer sent something invalid
     │       ├─ FrameTooLargeError
     │       ├─ UnknownCriticalFlagsError
     │       └─ BadPayloadError
     └─ TransportError                         the connection itself failed
         ├─ ConnectError
         ├─ ReadError
         └─ WriteError

Protocol errors carry a ``wire_code``: a short stable token used in log lines and tests.
"""

from __future__ import annotations

__all__ = [
    "BadPayloadError",
    "ConnectError",
    "EntanglementError",
    "FrameTooLargeError",
    "LocalProtocolError",
    "ProtocolError",
    "ReadError",
    "RemoteProtocolError",
    "TransportError",
    "UnknownCriticalFlagsError",
    "WriteError",
]


class EntanglementError(Exception):
    """Base of every error the entanglement runtime raises on purpose."""


class ProtocolError(EntanglementError):
    """The framing rules of the wire protocol were broken (abstract)."""

    wire_code: str = "protocol"

    def __init__(self, msg: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise a subclass")
        super().__init__(msg)


class LocalProtocolError(ProtocolError):
    """We were about to send something the protocol forbids (e.g. an oversized payload)."""

    wire_code = "local"


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids; the connection must be closed."""

    wire_code = "remote"


class FrameTooLargeError(RemoteProtocolError):
    """A frame header announced a payload above the size limit."""

    wire_code = "frame-too-large"


class UnknownCriticalFlagsError(RemoteProtocolError):
    """A frame header set a critical flag bit we do not understand."""

    wire_code = "unknown-critical-flags"


class BadPayloadError(RemoteProtocolError):
    """A frame payload was not UTF-8 JSON, or not a JSON object."""

    wire_code = "bad-payload"


class TransportError(EntanglementError):
    """The underlying stream failed."""


class ConnectError(TransportError):
    """Opening a connection (TCP, TLS handshake, unix socket) failed."""


class ReadError(TransportError):
    """Reading from an established connection failed."""


class WriteError(TransportError):
    """Writing to an established connection failed."""
