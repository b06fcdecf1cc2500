"""The per-connection dirty queue (PROTOCOL.md §7.3 and §7.5).

Theory of operation
-------------------
The queue holds at most one element per object identity.  Identity is decided by the
objects themselves: ``sync_hash()`` buckets them and ``sync_compatible()`` decides within
a bucket (classes whose primary keys are ``Unique`` answer with object identity).
Enqueuing an object whose identity is already queued merges into the queued element:

* the newer object and the newer operation win (a ``delete`` after a ``sync`` replaces
  it and vice versa);
* attribute subsets are unioned; values of attributes only the older request named are
  taken from the older object.  The original copied them onto the caller's newer object
  (quirk 31).  We never touch the caller's objects: those values are encoded from the
  older element at merge time into an *overlay* that fills the missing keys of the
  payload when the frame is built, a merged snapshot at the wire level;
* response contexts are merged (each context is held once per element);
* the priority becomes the minimum of both.

Elements leave in ascending priority, and first-in first-out within one priority
(quirk 41: a sequence number is part of the order key, the original's heap was not
FIFO).  A priority decrease schedules a new key; stale keys are skipped when popped.

Drain generations: :meth:`DirtyQueue.begin_drain` turns everything queued so far into
the generation being drained.  Later enqueues go to the next generation unless they are
compatible with an element of the drained generation, in which case they merge into it
(so the drain still waits for the newest state of that object).  A second
``begin_drain`` while one is pending moves the next generation into the drained one.
Popping always empties the drained generation first, and :attr:`DirtyQueue.draining`
turns False exactly when its last element has been popped.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from entanglement._exceptions import LocalProtocolError
from entanglement._sansio.context import ResponseContext

__all__ = ["DirtyQueue", "QueueElement"]

# Encodes the payload of a queued element (used to snapshot an older element's values).
PayloadBuilder = Callable[["QueueElement"], dict[str, Any]]


class QueueElement:
    """One pending transmission: object, operation, attribute subset, contexts."""

    __slots__ = (
        "attributes",
        "contexts",
        "key",
        "obj",
        "operation",
        "overlay",
        "priority",
        "seq",
    )

    def __init__(
        self, key: int, seq: int, obj: Any, operation: Any, priority: int
    ) -> None:
        # key: the identity bucket, fixed at insertion (keys may be mutated later);
        # seq: the arrival order.  The queue sets the attribute subset and attaches
        # contexts (as it does when merging into an element).
        self.key = key
        self.seq = seq
        self.obj = obj
        self.operation = operation
        self.attributes: frozenset[str] | None = None
        self.overlay: dict[str, Any] | None = None
        # A shared empty tuple until a context arrives: most elements never get one,
        # and a list per element is one more object for the garbage collector.
        self.contexts: list[ResponseContext] | tuple[()] = ()
        self.priority = priority

    def __repr__(self) -> str:
        return (
            f"<QueueElement {type(self.obj).__name__} op={self.operation}"
            f" prio={self.priority} attrs={self.attributes}>"
        )

    def add_context(self, context: ResponseContext) -> None:
        """Attach a context, taking one hold on it (once per element)."""
        if not any(c is context for c in self.contexts):
            context.hold()
            self.contexts = [*self.contexts, context]

    def release_contexts(self) -> None:
        """Give back this element's holds (it was sent or dropped)."""
        contexts, self.contexts = self.contexts, ()
        for context in contexts:
            context.release()

    def named_attributes(self) -> frozenset[str] | None:
        """The attribute set this element stands for (None = all)."""
        if self.attributes is None:
            return None
        if self.overlay:
            return self.attributes | frozenset(self.overlay)
        return self.attributes


# Order keys are single ints, ``priority << _SEQ_BITS | seq``: they order like
# ``(priority, seq)`` (also for negative priorities, as seq < 2**_SEQ_BITS) and compare
# in C, where tuples holding the element cost a third of a pop.
_SEQ_BITS = 48


class _Generation:
    """Order keys, their elements, and an identity index: one generation.

    The keys wait in two sorted structures, popped as one merged sequence: ``fifo``, a
    deque of keys larger than every key before them, and ``heap`` for the others.
    Sequence numbers grow, so as long as priorities do not drop every key goes to the
    deque (a quarter of a heap's cost per element); the heap takes the rest.
    """

    __slots__ = ("fifo", "heap", "index", "live", "order")

    def __init__(self) -> None:
        self.fifo: deque[int] = deque()
        self.heap: list[int] = []
        self.order: dict[int, QueueElement] = {}
        # One element per identity bucket, or a list of them when sync_hash collides.
        self.index: dict[int, QueueElement | list[QueueElement]] = {}
        self.live = 0

    def find(self, obj: Any, key: int) -> QueueElement | None:
        entry = self.index.get(key)
        if entry is None:
            return None
        if type(entry) is list:
            for element in entry:
                if element.obj is obj or obj.sync_compatible(element.obj):
                    return element
            return None
        assert isinstance(entry, QueueElement)
        if entry.obj is obj or obj.sync_compatible(entry.obj):
            return entry
        return None

    def push(self, element: QueueElement) -> None:
        index, key = self.index, element.key
        entry = index.get(key)
        if entry is None:
            index[key] = element
        elif type(entry) is list:
            entry.append(element)
        else:
            assert isinstance(entry, QueueElement)
            index[key] = [entry, element]
        self._schedule(element)
        self.live += 1

    def reprioritise(self, element: QueueElement, priority: int) -> None:
        # The old heap entry stays behind; pop skips it as its order key is gone.
        del self.order[(element.priority << _SEQ_BITS) + element.seq]
        element.priority = priority
        self._schedule(element)

    def _schedule(self, element: QueueElement) -> None:
        order = (element.priority << _SEQ_BITS) + element.seq
        self.order[order] = element
        fifo = self.fifo
        if not fifo or order > fifo[-1]:
            fifo.append(order)
        else:
            heapq.heappush(self.heap, order)

    def pop(self) -> QueueElement | None:
        fifo, heap, order = self.fifo, self.heap, self.order
        while fifo or heap:
            if fifo and (not heap or fifo[0] < heap[0]):
                element = order.pop(fifo.popleft(), None)
            else:
                element = order.pop(heapq.heappop(heap), None)
            if element is None:
                continue  # stale entry left behind by a priority decrease
            index, key = self.index, element.key
            if index.get(key) is element:  # alone in its bucket (the common case)
                del index[key]
            else:
                self._unindex(element)
            self.live -= 1
            return element
        return None

    def _unindex(self, element: QueueElement) -> None:
        index, key = self.index, element.key
        entry = index[key]
        if entry is element:
            del index[key]
            return
        assert isinstance(entry, list)
        entry.remove(element)
        if len(entry) == 1:
            index[key] = entry[0]

    def elements(self) -> Iterator[QueueElement]:
        return iter(list(self.order.values()))


class DirtyQueue:
    """Coalescing priority queue of outgoing elements; see the module docstring.

    Args:
        payload_builder: builds the wire payload of an element; used to snapshot the
            older element's values when a partial update merges into it.
        on_add: called after every :meth:`add` (the connection wakes its driver).
    """

    def __init__(
        self, payload_builder: PayloadBuilder, on_add: Callable[[], None] | None = None
    ) -> None:
        self._build = payload_builder
        self._on_add = on_add
        self._refusal: str | None = None
        self._main = _Generation()
        self._drained: _Generation | None = None
        self._seq = itertools.count()

    def __len__(self) -> int:
        drained = self._drained.live if self._drained is not None else 0
        return drained + self._main.live

    @property
    def draining(self) -> bool:
        """True while a drain generation still has unsent elements."""
        return self._drained is not None

    def add(
        self,
        obj: Any,
        operation: Any,
        attributes: frozenset[str] | None,
        context: ResponseContext | None,
        priority: int,
    ) -> QueueElement:
        """Queue (or merge) a transmission of ``obj``; return the element holding it.

        Raises:
            LocalProtocolError: the queue was closed (its connection is).
        """
        if self._refusal is not None:
            raise LocalProtocolError(self._refusal)
        key = obj.sync_hash()
        generation = self._main
        element = None
        if self._drained is not None:
            element = self._drained.find(obj, key)
            if element is not None:
                generation = self._drained
        if element is None:
            element = generation.find(obj, key)
        if element is None:
            element = QueueElement(key, next(self._seq), obj, operation, priority)
            element.attributes = attributes
            self._main.push(element)
        else:
            self._merge(element, obj, operation, attributes)
            if priority < element.priority:
                generation.reprioritise(element, priority)
        if context is not None:
            element.add_context(context)
        if self._on_add is not None:
            self._on_add()
        return element

    def pop(self) -> QueueElement | None:
        """Remove and return the next element to send (drained generation first)."""
        if self._drained is not None:
            element = self._drained.pop()
            if self._drained.live == 0:
                self._drained = None
            if element is not None:
                return element
        return self._main.pop()

    def popper(self) -> Callable[[], QueueElement | None]:
        """:meth:`pop`, as the cheapest callable for the queue's current state.

        Valid until the next :meth:`begin_drain` or :meth:`clear`; meant for a loop
        that pops many elements in a row.
        """
        if self._drained is None:
            return self._main.pop
        return self.pop

    def begin_drain(self) -> bool:
        """Start (or extend) a drain generation; False when there is nothing to drain."""
        if self._drained is None:
            if self._main.live == 0:
                return False
            self._drained, self._main = self._main, _Generation()
            return True
        for element in self._main.elements():
            self._main.live -= 1
            self._drained.push(element)
        self._main = _Generation()
        return True

    def close(self, refusal: str) -> list[QueueElement]:
        """Drop everything and refuse later adds with ``refusal`` (the connection was
        lost); return the dropped elements."""
        self._refusal = refusal
        self._on_add = None  # nothing to wake any more; frees a connection's cycle
        return self.clear()

    def clear(self) -> list[QueueElement]:
        """Drop everything; return the dropped elements."""
        dropped = [e for g in self._generations() for e in g.elements()]
        self._main = _Generation()
        self._drained = None
        return dropped

    def _generations(self) -> list[_Generation]:
        if self._drained is None:
            return [self._main]
        return [self._drained, self._main]

    def _merge(
        self,
        element: QueueElement,
        obj: Any,
        operation: Any,
        attributes: frozenset[str] | None,
    ) -> None:
        if attributes is None:
            element.overlay = None
        else:
            element.overlay = self._older_values(element, attributes)
        element.attributes = attributes
        element.obj = obj
        element.operation = operation

    def _older_values(
        self, element: QueueElement, newer: frozenset[str]
    ) -> dict[str, Any] | None:
        # Snapshot, in wire form, the values only the older request named.
        old_payload = self._build(element)
        overlay = {
            k: v
            for k, v in old_payload.items()
            if k not in newer and not k.startswith("_")
        }
        return overlay or None
