"""Response contexts: who is waiting for an answer to a request (PROTOCOL.md §4.2).

Theory of operation
-------------------
A :class:`ResponseContext` travels with a request through the receive pipeline and into
every ``synchronize()`` call the request causes.  It records

* *requesters*: ``(connection, in_number)`` pairs, the frames of our peers that asked for
  a response (RESPONSE_NEEDED) and are still owed one;
* *futures*: local waiters (anything with ``set_result``/``set_exception``/``done``, so
  asyncio futures plug in without this module importing asyncio);
* ``answered``: set when a ``synchronize()`` call targets a requester's destination,
  which means the frame queued for that destination will carry ``_resp_for``.

The original emits "no response" when the context object is garbage collected.  That is
not deterministic (quirk 4), so we count *holds* instead.  Everything that keeps the
context alive takes a hold and gives it back:

* the receive pipeline processing the request (one hold, released when it finishes);
* each queued element carrying the context (released when the frame is built or the
  element is dropped unsent);
* each awaited-response entry of a connection (released on ``_no_resp_for`` from
  upstream or on connection loss; a real response transfers it to the pipeline).

When the last hold goes, every requester still owed an answer gets ``_no_resp_for`` and
every pending future resolves with None.  This is the only place "no response" is
decided, so it happens exactly once and at a well defined moment.

Merging (coalescing or one frame answering several requests) moves requesters and
futures into one context and leaves the others empty; an empty context's release is
harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FutureLike", "Requester", "RequesterEndpoint", "ResponseContext"]


class FutureLike(Protocol):
    """What a local waiter must offer (asyncio.Future fits)."""

    def done(self) -> bool: ...  # pragma: no cover - protocol

    def set_result(self, result: Any, /) -> None: ...  # pragma: no cover - protocol

    def set_exception(
        self, exception: BaseException, /
    ) -> None: ...  # pragma: no cover - protocol


class RequesterEndpoint(Protocol):
    """The connection side of a requester: where a ``_no_resp_for`` goes."""

    @property
    def dest(self) -> Any: ...  # pragma: no cover - protocol

    def add_no_response(self, number: int) -> None: ...  # pragma: no cover - protocol


Requester = tuple[RequesterEndpoint, int]


class ResponseContext:
    """Bookkeeping for one (possibly merged) request; see the module docstring."""

    __slots__ = ("_holds", "_settled", "answered", "futures", "requesters", "responded")

    def __init__(
        self,
        requester: Requester | None = None,
        future: FutureLike | None = None,
    ) -> None:
        self.requesters: list[Requester] = [requester] if requester else []
        self.futures: list[FutureLike] = [future] if future is not None else []
        self.answered = False
        # Set once an answer came back from upstream: local futures no longer make
        # frames carrying this context ask for a response.
        self.responded = False
        self._holds = 1  # the creator's hold
        self._settled = False

    def __repr__(self) -> str:
        return (
            f"<ResponseContext requesters={[n for _, n in self.requesters]}"
            f" futures={len(self.futures)} answered={self.answered}"
            f" holds={self._holds}>"
        )

    # -- holds -------------------------------------------------------------------

    def hold(self) -> None:
        """Record one more owner (queued element, awaited entry, pipeline)."""
        self._holds += 1

    def release(self) -> None:
        """Give back one hold; the last one settles the context as "no response"."""
        self._holds -= 1
        if self._holds <= 0 and not self._settled:
            self.settle_no_response()

    @property
    def holds(self) -> int:
        """Number of current holds (for tests and debugging)."""
        return self._holds

    # -- answering ---------------------------------------------------------------

    def mark_targets(self, destinations: Iterable[Any]) -> None:
        """Mark the context answered if a requester's destination is a target."""
        if self.answered or not self.requesters:
            return
        targets = list(destinations)
        for endpoint, _ in self.requesters:
            if any(endpoint.dest is t or endpoint.dest == t for t in targets):
                self.answered = True
                return

    def needs_response(self) -> bool:
        """True when a frame carrying this context must set RESPONSE_NEEDED."""
        if self.answered or self._settled:
            return False
        if self.requesters:
            return True
        return not self.responded and any(not f.done() for f in self.futures)

    def take_requesters(self, endpoint: object) -> list[int]:
        """Remove and return the in-numbers owed to ``endpoint`` (for ``_resp_for``)."""
        if not self.requesters:
            return []
        numbers = [n for e, n in self.requesters if e is endpoint]
        if numbers:
            self.requesters = [(e, n) for e, n in self.requesters if e is not endpoint]
        return numbers

    def requester_destinations(self) -> set[Any]:
        """Destinations of the requesters still owed an answer (the error flood)."""
        return {endpoint.dest for endpoint, _ in self.requesters}

    def merge(self, other: ResponseContext) -> None:
        """Move ``other``'s requesters and futures into this context."""
        if other is self:
            return
        self.requesters.extend(other.requesters)
        self.futures.extend(other.futures)
        self.answered = self.answered or other.answered
        self.responded = self.responded or other.responded
        other.requesters = []
        other.futures = []

    # -- settling ----------------------------------------------------------------

    def resolve(self, value: Any) -> None:
        """Resolve the pending local futures with a received response object."""
        for fut in self.futures:
            if not fut.done():
                fut.set_result(value)

    def fail(self, error: BaseException) -> None:
        """Fail the pending local futures with a received error object."""
        for fut in self.futures:
            if not fut.done():
                fut.set_exception(error)

    def settle_no_response(self) -> None:
        """Tell every requester still owed an answer, and every future, "no response"."""
        self._settled = True
        requesters, self.requesters = self.requesters, []
        for endpoint, number in requesters:
            endpoint.add_no_response(number)
        self.resolve(None)
