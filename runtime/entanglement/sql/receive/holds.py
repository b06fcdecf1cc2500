"""Held serials: a refused row is never counted as received (issue 9, issue 10 item 5).

§12.8 counts rows by serial: a YouHave ``s`` of owner X from neighbour N means "you hold
every change of X up to ``s``", and the next connection's IHave asks only for what is
newer.  A row this node refused (a property its schema does not know, a value that does
not fit, a ``sync_serial`` that is not one) would then be lost for good.  So, per
neighbour and owner, :class:`Holds` remembers the serial before the first refused row
(or that the refused row's serial is unknown), and the YouHave is recorded at most up to
it (not at all when unknown; see :mod:`entanglement.sql.resync.exchange`).  The next
connection's IHave then carries the lower serial, and its answer brings the refused rows
again: once this node is upgraded and can read them, they are stored.  The wire is
unchanged.

A hold lasts for the connection: it is forgotten when the next connection to the
neighbour starts (its IHave answers hold every row after the recorded serial).

How a refusal is seen: the receive batch's context is entered for every batched row
(:mod:`entanglement.sql.receive.batch`); construction announces the row (:meth:`Holds.expect`),
storing it takes it (:meth:`Holds.taken`), and leaving the context (:meth:`Holds.settle`)
holds a row that was announced and never taken.  A refusal by an application hook
inside the receive context holds the serial the same way (this layer cannot tell it
from a row it cannot read).  Of the refusals before the context, a row of a type this
node does not know at all (a type a newer schema added) is held too, through the
manager's refusal listeners (:func:`entanglement.sql.receive.batch.hold_unknown_type`); ``should_listen`` hooks' are
not (they are policy: the row is not for us).
"""

from __future__ import annotations

import uuid
from typing import Any

from entanglement.sql.schema.state import sql_state
from entanglement.types import INT64_MAX

__all__ = ["Holds", "forget_holds", "take_hold"]

_Key = tuple[str, str]  # (neighbour's hash text, owner id text)


class Holds:
    """The held serials of one manager's received rows (see the module docstring)."""

    def __init__(self) -> None:
        # the serial up to which the owner's rows from that neighbour were all stored
        # (None: a refused row's serial is unknown, record nothing new)
        self.caps: dict[_Key, int | None] = {}
        self._expected: tuple[Any, Any, Any] | None = None

    def expect(self, sender: Any, msg: dict[str, Any]) -> None:
        """A row is being received: held unless :meth:`taken` before :meth:`settle`."""
        self._expected = (sender, msg.get("_sync_owner"), msg.get("sync_serial"))

    def taken(self) -> None:
        """The announced row is stored (it waits in the batch)."""
        self._expected = None

    def settle(self) -> None:
        """The receive context of a row is left: hold it if it was not taken."""
        expected = self._expected
        if expected is not None:
            self._expected = None
            self.hold(*expected)

    def hold(self, sender: Any, owner: Any, serial: Any) -> None:
        """Remember that a row of ``owner`` at ``serial`` from ``sender`` is not stored
        (whole)."""
        key = _key(sender, owner)
        valid = type(serial) is int and 0 < serial <= INT64_MAX
        cap = serial - 1 if valid else None
        if key in self.caps:
            known = self.caps[key]
            cap = None if known is None or cap is None else min(known, cap)
        self.caps[key] = cap

    def cap(self, sender: Any, owner: Any) -> tuple[bool, int | None]:
        """``(held, cap)`` for ``owner``'s rows from ``sender`` on this connection."""
        key = _key(sender, owner)
        if key not in self.caps:
            return False, None
        return True, self.caps[key]

    def forget(self, sender: Any) -> None:
        """A new connection to ``sender``: its IHave answers re-send what was held."""
        text = str(getattr(sender, "dest_hash", None))
        for key in [key for key in self.caps if key[0] == text]:
            del self.caps[key]


def _key(sender: Any, owner: Any) -> _Key:
    try:
        owner_text = str(uuid.UUID(str(owner)))
    except ValueError:
        owner_text = str(owner)
    return str(getattr(sender, "dest_hash", None)), owner_text


def _holds(manager: Any) -> Holds | None:
    batch = sql_state(manager).batch
    holds: Holds | None = None if batch is None else batch.holds
    return holds


def take_hold(manager: Any, sender: Any, owner_id: Any) -> tuple[bool, int | None]:
    """``(held, cap)``: whether rows of the owner from ``sender`` were refused on this
    connection, and the serial up to which all were stored (None: unknown)."""
    holds = _holds(manager)
    return (False, None) if holds is None else holds.cap(sender, owner_id)


def forget_holds(manager: Any, sender: Any) -> None:
    """Forget the held serials of ``sender``'s owners (a new connection begins)."""
    holds = _holds(manager)
    if holds is not None:
        holds.forget(sender)
