"""Checks of received messages and of the errors answering them (§3.1, §6, item 13/16).

* :func:`validate_message`: the §3.1 receive rules, plus the types §3.1 gives the
  reserved keys (issue 10 item 16): ``_sync_owner`` is a hyphenated UUID text (or
  null, "no owner", which the class decides about), ``_sync_is_error`` is ``true`` and
  only on error classes, so that the flag cannot silence the error answering a message.
* :func:`fit_for_frame`: an error reply must fit a frame (§2.1) whatever the peer sent
  (issue 10 item 13): texts are capped and an echoed message too large to quote is cut
  down to its reserved keys, each capped.

Choice where the spec is silent: the UUID text may use either case (the spec says
lowercase; uppercase hex names the same owner and decoders accept it).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from entanglement._codecplan import RESERVED_KEYS
from entanglement._sansio.peertext import peer_repr
from entanglement._wire_errors import SyncBadEncodingError, SyncError, json_safe

__all__ = [
    "check_error_flag",
    "check_owner_text",
    "fit_for_frame",
    "validate_message",
]


def validate_message(msg: dict[str, Any], cls: Any = None) -> None:
    """Apply the §3.1 receive rules (defaults ``_sync_operation`` to ``sync``).

    Args:
        msg: the received message.
        cls: its class, when known: only error classes may carry ``_sync_is_error``.

    Raises:
        SyncBadEncodingError: an unknown reserved key, a malformed type, operation,
            owner (not a UUID text) or error flag (not ``true``, or on a class that
            is not an error).
    """
    msg.pop("_flags", None)
    operation = msg.setdefault("_sync_operation", "sync")
    for key in msg:
        if key[:1] == "_" and key not in RESERVED_KEYS:
            raise SyncBadEncodingError(
                f"unknown reserved key {peer_repr(key)}", network_msg=msg
            )
    if not isinstance(msg.get("_sync_type"), str):
        raise SyncBadEncodingError("_sync_type must be a string", network_msg=msg)
    if not isinstance(operation, str):
        raise SyncBadEncodingError("_sync_operation must be a string", network_msg=msg)
    owner = msg.get("_sync_owner")
    if owner is not None:
        check_owner_text(owner, msg)
    if "_sync_is_error" in msg:
        check_error_flag(msg, cls)


_UUID_TEXT: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def check_owner_text(owner: Any, msg: dict[str, Any]) -> None:
    """``_sync_owner`` is the owner's UUID text, hyphenated (§3.1, §8.5).

    Raises:
        SyncBadEncodingError: any other JSON value (null is checked by the caller:
            it stands for "no owner", which the class decides about).
    """
    if type(owner) is not str or _UUID_TEXT.fullmatch(owner) is None:
        raise SyncBadEncodingError(
            f"_sync_owner must be the owner's UUID text, got {peer_repr(owner)}",
            network_msg=msg,
        )


def check_error_flag(msg: dict[str, Any], cls: Any) -> None:
    """``_sync_is_error`` is ``true``, and only on error classes (§3.1, §6.1).

    Raises:
        SyncBadEncodingError: another value, or a class outside the error tree (the
            flag would otherwise silence the error answering the message, §6.2).
    """
    flag = msg["_sync_is_error"]
    if flag is not True:
        raise SyncBadEncodingError(
            f"_sync_is_error must be true, got {peer_repr(flag)}", network_msg=msg
        )
    if cls is not None and not (isinstance(cls, type) and issubclass(cls, SyncError)):
        raise SyncBadEncodingError(
            f"_sync_is_error on {cls.__name__}, which is not an error class",
            network_msg=msg,
        )


# An error reply must fit a frame (§2.1) whatever the peer sent: its texts are capped
# and an echoed message too large to quote is cut down to its reserved keys.
ERROR_TEXT_LIMIT: Final = 2000
NETWORK_MSG_LIMIT: Final = 16 * 1024


def fit_for_frame(error: SyncError) -> None:
    """Cap ``error``'s texts and echoed message so that its frame fits (item 13)."""
    args = error.args
    if any(isinstance(a, str) and len(a) > ERROR_TEXT_LIMIT for a in args):
        error.args = tuple(_capped(a) for a in args)
    msg = error.network_msg
    if isinstance(msg, dict) and len(msg) and _too_large(msg):
        error.network_msg = {
            key: _capped(value) if isinstance(value, str) else peer_repr(value)
            for key, value in msg.items()
            if key in RESERVED_KEYS
        }


def _capped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > ERROR_TEXT_LIMIT:
        return f"{value[:ERROR_TEXT_LIMIT]}… ({len(value)} characters)"
    return value


def _too_large(msg: dict[str, Any]) -> bool:
    try:
        return len(json_safe_text(msg)) > NETWORK_MSG_LIMIT
    except (TypeError, ValueError, RecursionError):
        return True


def json_safe_text(msg: dict[str, Any]) -> str:
    """The JSON text of ``msg`` as the error's encoder will make it safe."""
    return json.dumps(json_safe(msg))
