"""DirtyQueue: coalescing, merge without mutation, priority + FIFO, drain generations."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sansio_helpers import Future, Item, UniqueItem

from entanglement._sansio import DirtyQueue, ResponseContext
from entanglement._sansio.connection import build_payload


def new_queue() -> DirtyQueue:
    return DirtyQueue(build_payload)


def drain_all(q: DirtyQueue) -> list[Any]:
    out = []
    while (element := q.pop()) is not None:
        out.append(element)
    return out


def test_compatible_objects_coalesce_and_newest_wins() -> None:
    q = new_queue()
    first, second = Item(1, a=1), Item(1, a=2)
    q.add(first, "sync", None, None, 100)
    q.add(Item(2, a=9), "sync", None, None, 100)
    q.add(second, "delete", None, None, 100)
    assert len(q) == 2
    elements = drain_all(q)
    assert next(e.obj for e in elements) is second
    assert elements[0].operation == "delete"


def test_unique_objects_never_coalesce() -> None:
    q = new_queue()
    one, two = UniqueItem(1), UniqueItem(1)
    q.add(one, "sync", None, None, 100)
    q.add(two, "sync", None, None, 100)
    q.add(one, "sync", None, None, 100)
    assert [e.obj for e in drain_all(q)] == [one, two]


def test_partial_merge_builds_a_snapshot_without_mutating_objects() -> None:
    q = new_queue()
    older = Item(1, a="old-a", b="old-b", c="old-c")
    newer = Item(1, a="new-a", b="new-b")  # no c at all
    q.add(older, "forward", frozenset({"a", "c"}), None, 100)
    element = q.add(newer, "forward", frozenset({"b"}), None, 100)
    assert element.named_attributes() == frozenset({"key", "a", "b", "c"})
    payload = build_payload(element)
    assert payload == {"key": 1, "a": "old-a", "b": "new-b", "c": "old-c"}
    # Quirk 31 fixed: neither object was touched.
    assert vars(newer) == {"key": 1, "a": "new-a", "b": "new-b"}
    assert vars(older) == {"key": 1, "a": "old-a", "b": "old-b", "c": "old-c"}


def test_partial_after_full_keeps_all_older_values() -> None:
    q = new_queue()
    q.add(Item(1, a=1, b=2, c=3), "sync", None, None, 100)
    element = q.add(Item(1, a=10, b=20, c=30), "sync", frozenset({"a"}), None, 100)
    assert build_payload(element) == {"key": 1, "a": 10, "b": 2, "c": 3}


def test_full_after_partial_is_full() -> None:
    q = new_queue()
    q.add(Item(1, a=1), "sync", frozenset({"a"}), None, 100)
    element = q.add(Item(1, a=5, b=6), "sync", None, None, 100)
    assert element.attributes is None
    assert element.overlay is None
    assert build_payload(element) == {"key": 1, "a": 5, "b": 6}


def test_lowest_priority_first_and_fifo_within_a_priority() -> None:
    q = new_queue()
    for key, prio in [(1, 100), (2, 50), (3, 100), (4, 50), (5, 100), (6, 10)]:
        q.add(Item(key), "sync", None, None, prio)
    assert [e.obj.key for e in drain_all(q)] == [6, 2, 4, 1, 3, 5]


def test_many_equal_priorities_stay_fifo() -> None:
    q = new_queue()
    for key in range(200):
        q.add(Item(key), "sync", None, None, 100)
    assert [e.obj.key for e in drain_all(q)] == list(range(200))


def test_merge_takes_the_minimum_priority() -> None:
    q = new_queue()
    q.add(Item(1), "sync", None, None, 100)
    q.add(Item(2), "sync", None, None, 60)
    q.add(Item(1), "sync", None, None, 50)  # moves key 1 ahead
    q.add(Item(2), "sync", None, None, 90)  # does not raise key 2's priority
    elements = drain_all(q)
    assert [(e.obj.key, e.priority) for e in elements] == [(1, 50), (2, 60)]


def test_merged_contexts_are_held_once_per_element() -> None:
    q = new_queue()
    c1, c2 = ResponseContext(future=Future()), ResponseContext(future=Future())
    q.add(Item(1), "sync", None, c1, 100)
    element = q.add(Item(1), "sync", None, c2, 100)
    q.add(Item(1), "sync", None, c1, 100)
    assert element.contexts == [c1, c2]
    assert (c1.holds, c2.holds) == (2, 2)
    element.release_contexts()
    assert (c1.holds, c2.holds) == (1, 1)


def test_drain_generation() -> None:
    q = new_queue()
    assert not q.begin_drain()  # nothing queued: nothing to wait for
    q.add(Item(1), "sync", None, None, 100)
    q.add(Item(2), "sync", None, None, 100)
    assert q.begin_drain()
    assert q.draining
    q.add(Item(3), "sync", None, None, 1)  # new generation, despite higher priority
    q.add(Item(2, a="late"), "sync", None, None, 100)  # merges into the drained one
    assert len(q) == 3
    assert q.pop().obj.key == 1
    assert q.draining
    second = q.pop()
    assert (second.obj.key, second.obj.a) == (2, "late")
    assert not q.draining
    assert q.pop().obj.key == 3
    assert q.pop() is None


def test_second_drain_extends_the_generation() -> None:
    q = new_queue()
    q.add(Item(1), "sync", None, None, 100)
    assert q.begin_drain()
    q.add(Item(2), "sync", None, None, 100)
    assert q.begin_drain()
    q.add(Item(3), "sync", None, None, 100)
    assert [q.pop().obj.key, q.pop().obj.key] == [1, 2]
    assert not q.draining
    assert q.pop().obj.key == 3


def test_clear_returns_everything() -> None:
    q = new_queue()
    q.add(Item(1), "sync", None, None, 100)
    q.begin_drain()
    q.add(Item(2), "sync", None, None, 100)
    assert sorted(e.obj.key for e in q.clear()) == [1, 2]
    assert len(q) == 0
    assert not q.draining


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "add", "add", "pop"]),
            st.integers(0, 6),  # identity
            st.sampled_from([-5, 0, 10, 50, 100]),  # priority
        ),
        max_size=60,
    )
)
def test_pop_order_matches_a_sorted_reference(ops: list[tuple[str, int, int]]) -> None:
    # Reference: one entry per queued identity, ordered by (priority, first arrival);
    # a merge keeps the arrival and lowers the priority, never raises it.
    q = new_queue()
    ref: dict[int, tuple[int, int]] = {}  # key -> (priority, arrival)
    arrival = 0
    for op, key, prio in ops:
        if op == "add":
            q.add(Item(key), "sync", None, None, prio)
            if key in ref:
                ref[key] = (min(ref[key][0], prio), ref[key][1])
            else:
                ref[key], arrival = (prio, arrival), arrival + 1
        else:
            element = q.pop()
            if not ref:
                assert element is None
                continue
            expected = min(ref, key=lambda k: ref[k])
            assert element is not None
            assert (element.obj.key, element.priority) == (expected, ref[expected][0])
            del ref[expected]
    assert len(q) == len(ref)
    order = sorted(ref, key=lambda k: ref[k])
    assert [e.obj.key for e in drain_all(q)] == order
