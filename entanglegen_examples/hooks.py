"""User code of the example schemas (schemas/exercise.yaml, schemas/presence.yaml).

Generated packages never contain hand-written logic; the schemas name these functions by
dotted path instead (``policy:``, operation ``handler:``, property ``encoder``/``decoder``,
type ``on_receive``/``on_delete`` and ``table_args``).
Hooks take the same arguments as the registry method that calls them; the registry itself
is ``info["registry"]``.

Exercise policy: a node's *side* is the first dash-separated word of its destination name
(``red``, ``blue`` or ``staff``; ``staff-control`` is staff).  Objects carry a ``side``
property.  Staff nodes see and may send everything; a red or blue node is sent only its
own side's objects and may only send those.  Objects without a side (a delete carrying
only keys) pass: a delete reveals nothing but a key.  Destinations without a recognised
side get nothing sided.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Final

from entanglement.interface import SyncUnauthorized

__all__ = [
    "ARRIVED_HELP",
    "ESCALATIONS",
    "NUDGES",
    "PERSONAL_COLUMNS",
    "RETIRED_MACHINES",
    "decode_rgb",
    "destination_side",
    "encode_rgb",
    "escalate_help_request",
    "exercise_should_listen",
    "exercise_should_send",
    "help_request_arrived",
    "machine_retired",
    "nudge_participant",
    "participant_table_args",
]

logger = logging.getLogger("entanglegen_examples")

SIDES = ("red", "blue", "staff")
ESCALATIONS: deque[Any] = deque(maxlen=1000)
"""Help requests escalated to this node, newest last (the demo prints them)."""
NUDGES: deque[Any] = deque(maxlen=1000)
"""Cursors nudged on this node, newest last."""
ARRIVED_HELP: deque[Any] = deque(maxlen=1000)
"""Help requests received from peers (new or changed), newest last: a staff console
shows them without subclassing the registry (``on_receive``)."""
RETIRED_MACHINES: deque[Any] = deque(maxlen=1000)
"""Machines a peer deleted, newest last (``on_delete``)."""
PERSONAL_COLUMNS: Final = ("callsign", "avatar", "password_hash")
"""Columns of ``participants`` holding personal data: the exercise's retention job
blanks them after the debrief (read from the table's ``info``, see
:func:`participant_table_args`)."""


def destination_side(destination: Any) -> str | None:
    """The side a destination (peer node) plays, from its name."""
    name = str(getattr(destination, "name", "") or "")
    side = name.split("-", 1)[0].lower()
    return side if side in SIDES else None


def _side_value(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def exercise_should_send(obj: Any, destination: Any, **info: Any) -> bool:
    """Send an object to a peer only if the peer's side may see it."""
    side = _side_value(getattr(obj, "side", None))
    if side is None:
        return True
    peer = destination_side(destination)
    return peer == "staff" or peer == side


def exercise_should_listen(msg: Any, cls: Any, **info: Any) -> bool:
    """Accept an object only from a peer whose side may have sent it."""
    side = _side_value(msg.get("side")) if isinstance(msg, dict) else None
    sender = destination_side(info.get("sender"))
    if side is None or sender == "staff" or sender == side:
        return True
    raise SyncUnauthorized(f"a {sender or 'unknown'} node may not send {side} objects")


def escalate_help_request(obj: Any, **info: Any) -> None:
    """Record an escalated help request (custom operation ``escalate``)."""
    logger.warning("help request %s escalated", getattr(obj, "id", obj))
    ESCALATIONS.append(obj)


def nudge_participant(obj: Any, **info: Any) -> None:
    """Record a nudged cursor (custom operation ``nudge``)."""
    NUDGES.append(obj)


def encode_rgb(value: int) -> str:
    """0xRRGGBB → ``"#rrggbb"``."""
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"colour {value!r} is not 0xRRGGBB")
    return f"#{value:06x}"


def decode_rgb(text: str) -> int:
    """``"#rrggbb"`` → 0xRRGGBB."""
    if not (isinstance(text, str) and len(text) == 7 and text[0] == "#"):
        raise ValueError(f"colour {text!r} is not #rrggbb")
    return int(text[1:], 16)


def help_request_arrived(obj: Any, **info: Any) -> None:
    """A help request arrived from a peer (type hook ``on_receive``)."""
    logger.info("help request %s from %s", getattr(obj, "id", obj), info.get("sender"))
    ARRIVED_HELP.append(obj)


def machine_retired(obj: Any, **info: Any) -> None:
    """A peer deleted a machine (type hook ``on_delete``)."""
    RETIRED_MACHINES.append(obj)


def participant_table_args() -> tuple[Any, ...]:
    """What the schema language does not say about ``participants`` (``table_args``):
    which columns hold personal data, as the table's ``info`` (no DDL: tools read it
    from ``Participant.__table__.info``)."""
    return ({"info": {"personal_columns": PERSONAL_COLUMNS}},)
