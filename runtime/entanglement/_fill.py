"""Constructing an object from a message and filling it (the base hooks of §8.6).

``construct`` is the base ``sync_construct`` and ``fill_from_message`` the base
``sync_receive_constructed`` of :class:`~entanglement._model.Synchronizable` (which calls
them); receive plans call them directly.  They live apart from the class so that the
object model (metaclass, base class, keys) and the receive-side decoding each read on
their own.

Choices where the spec is silent:

* a filled object is decoded whole before anything is assigned, so a bad value never
  leaves a stored object half-updated;
* a ``SyncError`` raised by a decoder or setter is the application's own verdict and
  passes unchanged; other decode or assignment failures become ``SyncBadEncodingError``
  naming the key (peer text quoted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from ._codecplan import (
    RESERVED_KEYS,
    as_is_names_of,
    constructor_properties_of,
    decoders_of,
)
from ._properties import SyncProperty
from ._sansio.peertext import peer_repr

if TYPE_CHECKING:
    from ._model import Synchronizable, SynchronizableMeta

__all__ = ["assign_failed", "construct", "fill_from_message"]


def construct(cls: Any, msg: dict[str, Any]) -> Any:
    """The base ``sync_construct`` (without the ``info`` keywords it ignores).

    Raises:
        SyncBadEncodingError: see :meth:`Synchronizable.sync_construct`.
    """
    properties = constructor_properties_of(cls)
    if not properties:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
    else:
        args, kwargs = _constructor_arguments(cls, properties, msg)
    try:
        return cls(*args, **kwargs)
    except TypeError as exc:
        raise _bad_encoding(f"cannot construct {cls.sync_type}: {exc}", msg) from exc


def fill_from_message(obj: Synchronizable, msg: dict[str, Any]) -> None:
    """The base ``sync_receive_constructed``: decode and assign msg's attributes.

    Raises:
        SyncBadEncodingError: see :meth:`Synchronizable.sync_receive_constructed`.
    """
    cls = type(obj)
    as_is = cls.__dict__.get("_sync_as_is_plan")
    if as_is is None:
        as_is = as_is_names_of(cls)
    if as_is.issuperset(msg):  # (faster than msg.keys() <= as_is)
        # Nothing to decode and no unknown key: nothing can fail before assigning.
        try:
            for key, value in msg.items():
                if key not in RESERVED_KEYS:
                    setattr(obj, key, value)
        except Exception as exc:
            assign_failed(key, msg, exc)
        return
    # Decode everything before assigning anything, so that a bad value never leaves
    # a stored object half-updated.
    # The helpers that build the error messages are only called on failure: this
    # loop runs for every property of every received object.
    decoders = decoders_of(cls)
    decoded: list[tuple[str, Any]] = []
    for key, value in msg.items():
        if key[:1] == "_":
            continue
        try:
            decoder = decoders[key]
        except KeyError:
            raise _bad_encoding(
                f"{type(obj).sync_type} has no sync property {peer_repr(key)}", msg
            ) from None
        if decoder is None or value is None:
            decoded.append((key, value))
            continue
        try:
            result = decoder(value)
        except Exception as exc:
            _decode_failed(key, msg, exc)
        # A decoder returning None for a non-null value has handled it itself.
        if result is not None:
            decoded.append((key, result))
    for key, result in decoded:
        try:
            setattr(obj, key, result)
        except Exception as exc:
            assign_failed(key, msg, exc)


def _constructor_arguments(
    cls: SynchronizableMeta,
    properties: tuple[tuple[str, SyncProperty], ...],
    msg: dict[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    positional: dict[int, Any] = {}
    kwargs: dict[str, Any] = {}
    for name, prop in properties:
        if name not in msg:
            continue
        value = _decode(prop, name, msg[name], msg)
        del msg[name]
        if prop.constructor is True:
            kwargs[name] = value
        else:
            positional[int(prop.constructor)] = value
    if positional and sorted(positional) != list(range(1, len(positional) + 1)):
        raise _bad_encoding(
            f"{cls.__name__}: constructor positions {sorted(positional)} have gaps", msg
        )
    return [positional[i] for i in sorted(positional)], kwargs


def _decode(prop: SyncProperty, key: str, value: Any, msg: dict[str, Any]) -> Any:
    try:
        return prop.decode(value)
    except Exception as exc:
        _decode_failed(key, msg, exc)


def _decode_failed(key: str, msg: dict[str, Any], exc: Exception) -> NoReturn:
    error = _bad_encoding(f"cannot decode {peer_repr(key)}: {exc}", msg, exc)
    if error is exc:
        raise exc
    raise error from exc


def assign_failed(key: str, msg: dict[str, Any], exc: Exception) -> NoReturn:
    """Raise the error for a failed assignment of ``key`` while filling ``msg``."""
    error = _bad_encoding(f"cannot set {peer_repr(key)}: {exc}", msg, exc)
    if error is exc or not isinstance(exc, AttributeError | TypeError | ValueError):
        raise exc
    raise error from exc


def _bad_encoding(
    text: str, msg: Mapping[str, Any], cause: Exception | None = None
) -> Exception:
    # Imported here (errors only): _wire_errors depends on this module.  A SyncError raised
    # by a decoder or setter is the application's own verdict and passes unchanged.
    from ._wire_errors import SyncBadEncodingError, SyncError

    if isinstance(cause, SyncError):
        return cause
    return SyncBadEncodingError(text, network_msg=dict(msg))
