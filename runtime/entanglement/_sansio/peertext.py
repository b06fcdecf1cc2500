"""Peer-supplied text made safe for log lines and error texts (issue 10 item 13).

Anything a peer chose (a ``_sync_type``, an operation name, a key, a number list, the
text of an exception quoting them) reaches log lines and the ``args`` of the errors we
send back.  Raw, a newline forges a log line, a lone surrogate makes a UTF-8 log
handler drop the record, and a 60 KB name makes 120 KB lines and an error reply too
large for a frame.  :func:`peer_repr` and :func:`peer_str` give one line of text that
any handler can write, at most about :data:`PEER_TEXT_LIMIT` characters.

Choice: values are quoted with ``repr`` (which escapes control characters and lone
surrogates, and shows that the text is quoted); :func:`peer_str`, for texts of ours
that quote peer values (an exception's message), escapes the same way without adding
quotes.  Long values are cut by :mod:`reprlib` before ``repr`` runs, so a huge value
costs no more than the part that is shown.
"""

from __future__ import annotations

import reprlib
from typing import Any, Final

__all__ = ["PEER_TEXT_LIMIT", "peer_repr", "peer_str"]

PEER_TEXT_LIMIT: Final = 200

_REPR: Final = reprlib.Repr()
_REPR.maxstring = PEER_TEXT_LIMIT
_REPR.maxother = PEER_TEXT_LIMIT
_REPR.maxlong = 60
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 10


def peer_repr(value: Any) -> str:
    """A bounded ``repr`` of a peer-supplied value (one line, printable)."""
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        text = f"<{type(value).__name__} too long to show>"
    return peer_str(text, 3 * PEER_TEXT_LIMIT)


def peer_str(text: str, limit: int = 4 * PEER_TEXT_LIMIT) -> str:
    """``text`` with control characters and lone surrogates escaped, capped."""
    cut = ""
    if len(text) > limit:
        cut = f"… ({len(text)} characters)"
        text = text[:limit]
    if not text.isprintable() or not _encodable(text):
        text = repr(text)[1:-1]
    return text + cut


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
