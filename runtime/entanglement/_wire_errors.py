"""The SyncError tree: the errors that travel on the wire (§6).

Each of these exceptions is also a Synchronizable, sent to a peer as an ``error``
message and rebuilt there (public face: :mod:`entanglement.interface`).  The rest of the
runtime's exceptions (protocol and transport errors, which never leave the process) and
their root ``EntanglementError`` are :mod:`entanglement._exceptions`; ``SyncError``
derives from that root, so one ``except EntanglementError`` catches both kinds.

An error travels as ``{"args": [...], "network_msg": {...} | null, "context": text | null,
"cause": text | null, "_sync_is_error": true}`` with ``_sync_type`` = its class name and
operation ``error``.  Every class of the tree, including application subclasses, is
registered under its class name in :data:`error_registry`, which every manager carries;
receiving an error therefore rebuilds the right exception class.

Choices and fixed quirks:

* Quirk 7 fixed: ``network_msg`` and ``args`` are made JSON-safe when encoded (values with
  ``sync_encode_value()`` use it, any other non-JSON object becomes its ``str()``), so an
  error raised from a ``should_listen`` hook can always be sent.
* Quirk 8 fixed: ``SyncNotConnected`` puts the destination's name and hash text into its
  message; the destination object itself stays in the non-synchronised attribute
  ``destination``.  Its ``dest`` sync property (declared by the original too, so original
  peers accept it) carries that same text.
* ``context`` / ``cause`` are the one-line text (``"ValueError: msg"``) of ``__context__`` /
  ``__cause__``; on a received error they are the received texts.
* Keyword arguments of the constructor set sync properties of that name (e.g. an
  application subclass's own properties); unknown keywords are a TypeError.
* Received errors are built without calling ``__init__`` (``sync_construct``), so
  application subclasses may give their constructors any signature.
"""

from __future__ import annotations

import traceback
from typing import Any

from ._exceptions import EntanglementError
from ._model import EphemeralUnflooded, Synchronizable, Unique
from ._opbase import error
from ._properties import sync_property
from ._registry import SyncRegistry
from .types import default_encoder

__all__ = [
    "ErrorRegistry",
    "SyncBadEncodingError",
    "SyncBadOwner",
    "SyncError",
    "SyncInvalidOperation",
    "SyncNotConnected",
    "SyncNotFound",
    "SyncUnauthorized",
    "UnregisteredSyncClass",
    "WrongSyncDestination",
    "describe_destination",
    "error_registry",
]


class ErrorRegistry(SyncRegistry):
    """The built-in registry of SyncError classes; accepts the ``error`` operation."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("error", error)


error_registry = ErrorRegistry()


def json_safe(value: Any) -> Any:
    """Return ``value`` with every non-JSON object replaced by a JSON-safe form."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    encoded = default_encoder(value)
    if encoded is not value:
        return json_safe(encoded)
    return str(value)


def _decode_args(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _exception_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _chained_property(attribute: str) -> property:
    received = f"_received_{attribute}"

    def get(self: SyncError) -> str | None:
        if received in self.__dict__:
            text: str | None = self.__dict__[received]
            return text
        return _exception_text(getattr(self, f"__{attribute}__"))

    def set_(self: SyncError, value: str | None) -> None:
        self.__dict__[received] = value

    return property(get, set_)


class SyncError(EntanglementError, Synchronizable):
    """An error that can be sent to a peer (base of the tree, wire name ``SyncError``).

    Args:
        *args: the exception arguments (normally one message text).
        network_msg: the offending message, if any.
        **kwargs: values for sync properties declared by subclasses.
    """

    sync_registry = error_registry
    sync_primary_keys = Unique
    sync_owner = EphemeralUnflooded

    args = sync_property(encoder=json_safe, decoder=_decode_args)
    network_msg = sync_property(encoder=json_safe)
    context = sync_property(_chained_property("context"))
    cause = sync_property(_chained_property("cause"))

    def __init__(
        self, *args: Any, network_msg: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args)
        self.network_msg = network_msg
        properties = type(self)._sync_properties
        for key, value in kwargs.items():
            if key not in properties:
                raise TypeError(
                    f"{type(self).__name__}() got an unexpected keyword {key!r}"
                )
            setattr(self, key, value)

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> SyncError:
        """Make an empty instance without calling ``__init__``.

        Application subclasses may have constructors with required arguments; the
        received ``args`` and properties are filled in afterwards.
        """
        obj = cls.__new__(cls)
        EntanglementError.__init__(obj)
        obj.network_msg = None
        return obj

    def to_sync(self, attributes: Any = None) -> dict[str, Any]:
        """Encode the error; adds ``_sync_is_error: true``."""
        result = super().to_sync(attributes)
        result["_sync_is_error"] = True
        return result


class SyncUnauthorized(SyncError):
    """The receiver refuses the message (policy / authorisation)."""


class UnregisteredSyncClass(SyncError):
    """No registry of the receiver knows the message's ``_sync_type``."""


class SyncBadEncodingError(SyncError):
    """The message is malformed: reserved keys, unknown attributes, undecodable values."""


class SyncInvalidOperation(SyncError):
    """The class's registry does not accept the requested operation."""


class SyncBadOwner(SyncError):
    """Ownership rules were violated (wrong direction, unknown or missing owner)."""


class SyncNotFound(SyncError):
    """The object the message refers to does not exist at the receiver."""


def describe_destination(dest: Any) -> str:
    """Text naming a destination by name and hash text (for messages and logs)."""
    if dest is None:
        return "an unknown destination"
    if isinstance(dest, str):
        return dest
    name = getattr(dest, "name", None)
    dest_hash = getattr(dest, "dest_hash", None)
    if name is None and dest_hash is None:
        return str(dest)
    if name is None:
        return str(dest_hash)
    return f"{name!r} ({dest_hash})" if dest_hash is not None else repr(name)


class WrongSyncDestination(SyncError):
    """The peer's identity is not the one expected (or a ``create`` looped back).

    Args:
        msg: message text; built from ``dest``/``got_hash`` when omitted.
        dest: the destination we expected (kept as a plain attribute).
        got_hash: the hash the peer presented (kept as a plain attribute).
    """

    def __init__(
        self,
        msg: str | None = None,
        *args: Any,
        dest: Any = None,
        got_hash: Any = None,
        **kwargs: Any,
    ) -> None:
        if msg is None and (dest is not None or got_hash is not None):
            msg = f"expected {describe_destination(dest)} but the peer is {got_hash}"
        super().__init__(*((msg, *args) if msg is not None else args), **kwargs)
        self.dest = dest
        self.got_hash = got_hash


def _dest_text_property() -> property:
    def get(self: SyncNotConnected) -> str | None:
        text: str | None = self.__dict__.get("_dest_text")
        return text

    def set_(self: SyncNotConnected, value: Any) -> None:
        self.__dict__["_dest_text"] = None if value is None else str(value)

    return property(get, set_)


class SyncNotConnected(SyncError):
    """The next hop for a message has no live connection.

    Args:
        msg: message text; built from ``dest`` when omitted.
        dest: the destination object (kept in ``destination``; its name and hash text
            go into the message and the ``dest`` property).
    """

    dest = sync_property(_dest_text_property())

    def __init__(
        self, msg: str | None = None, *args: Any, dest: Any = None, **kwargs: Any
    ):
        if msg is None:
            msg = f"not connected to {describe_destination(dest)}"
        super().__init__(msg, *args, **kwargs)
        self.destination = dest
        self.dest = describe_destination(dest) if dest is not None else None
