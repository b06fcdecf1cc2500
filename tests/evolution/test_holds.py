"""The held-serial rules of ``entanglement.sql.receive.holds`` (the end-to-end tests show them
over TLS; these pin each rule down)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from entanglement.sql.receive.holds import Holds


@dataclass
class Peer:
    dest_hash: str


A, B = Peer("ni:///sha-256;a"), Peer("ni:///sha-256;b")
OWNER = uuid.uuid4()


def test_the_first_refused_row_caps_the_serial() -> None:
    holds = Holds()
    assert holds.cap(A, OWNER) == (False, None)
    holds.hold(A, str(OWNER), 9)
    holds.hold(A, str(OWNER).upper(), 5)  # the same owner, spelled differently
    holds.hold(A, str(OWNER), 7)
    assert holds.cap(A, OWNER) == (True, 4)
    assert holds.cap(B, OWNER) == (False, None)  # per neighbour


def test_an_invalid_serial_holds_everything() -> None:
    holds = Holds()
    holds.hold(A, OWNER, 5)
    holds.hold(A, OWNER, 2**64)
    holds.hold(A, OWNER, 3)
    assert holds.cap(A, OWNER) == (True, None)
    holds.hold(B, OWNER, "7")
    assert holds.cap(B, OWNER) == (True, None)


def test_a_hold_lasts_until_the_next_connection() -> None:
    holds = Holds()
    holds.hold(A, OWNER, 5)
    holds.hold(B, OWNER, 6)
    assert holds.cap(A, OWNER) == (True, 4)  # asking does not forget
    holds.forget(A)
    assert holds.cap(A, OWNER) == (False, None)
    assert holds.cap(B, OWNER) == (True, 5)


def test_a_row_announced_and_not_taken_is_held() -> None:
    holds = Holds()
    msg = {"_sync_owner": str(OWNER), "sync_serial": 8}
    holds.expect(A, msg)
    holds.taken()
    holds.settle()
    assert holds.cap(A, OWNER) == (False, None)
    holds.expect(A, msg)
    holds.settle()  # refused between construction and storage
    assert holds.cap(A, OWNER) == (True, 7)
