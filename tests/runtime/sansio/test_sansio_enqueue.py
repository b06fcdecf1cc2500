"""SyncConnection.enqueue is the dirty queue's own ``add``: it wakes the driver on every
add (new element or merge) and refuses once the connection is lost, naming the peer,
without touching what was queued before or the held contexts."""

from __future__ import annotations

import pytest
from sansio_helpers import Future, Item

from entanglement._exceptions import LocalProtocolError
from entanglement._sansio import DirtyQueue, ResponseContext, SyncConnection
from entanglement._sansio.connection import build_payload


def test_every_add_wakes_the_driver_also_a_merge() -> None:
    conn = SyncConnection("peer-X")
    wakes: list[int] = []
    conn.on_wakeup = lambda: wakes.append(len(conn.queue))
    conn.enqueue(Item(1, a=1), "sync", None, None, 100)
    conn.enqueue(Item(1, a=2), "sync", None, None, 100)  # merges
    conn.enqueue(Item(2, a=3), "sync", None, None, 100)
    assert wakes == [1, 1, 2]


def test_enqueue_after_connection_lost_names_the_peer_and_keeps_contexts() -> None:
    conn = SyncConnection("peer-X")
    queued_future = Future()
    queued = ResponseContext(future=queued_future)
    conn.enqueue(Item(1, a=1), "forward", None, queued, 100)
    queued.release()  # the caller's hold: the queued element keeps its own
    assert not queued_future.done()
    conn.connection_lost()
    assert queued_future.done()
    assert queued_future.result is None  # "no response"
    fresh = ResponseContext(future=Future())
    with pytest.raises(LocalProtocolError, match="peer-X: connection is closed"):
        conn.enqueue(Item(2), "sync", None, fresh, 100)
    assert len(conn.queue) == 0
    assert fresh.holds == 1  # the refused call took no hold


def test_a_new_element_gets_its_subset_and_context() -> None:
    queue = DirtyQueue(build_payload)
    ctx = ResponseContext(future=Future())
    element = queue.add(Item(1, a=1, b=2), "sync", frozenset({"a"}), ctx, 7)
    assert element.attributes == frozenset({"a"})
    assert element.contexts == [ctx]
    assert element.priority == 7
    assert build_payload(element) == {"key": 1, "a": 1}


def test_a_closed_queue_refuses_with_the_reason_given() -> None:
    queue = DirtyQueue(build_payload)
    queue.add(Item(1), "sync", None, None, 100)
    dropped = queue.close("gone")
    assert [e.obj.key for e in dropped] == [1]
    with pytest.raises(LocalProtocolError, match=r"^gone$"):
        queue.add(Item(2), "sync", None, None, 100)
    assert len(queue) == 0
