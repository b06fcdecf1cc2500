"""Small stand-ins for Synchronizables, enough for the object-agnostic sans-IO core.

The sans-IO queue and connection only call ``sync_hash``, ``sync_compatible``,
``to_sync``, ``sync_type`` and ``str(operation)``; these classes implement exactly that
contract (the network tests use the real model classes).
"""

from __future__ import annotations

from typing import Any

from entanglement._sansio import (
    NEED_DATA,
    MessageReceived,
    SyncConnection,
)


class Item:
    """Keyed object: coalesces with any Item of the same key."""

    sync_type = "Item"
    sync_priority = 100

    def __init__(self, key: int, **attrs: Any) -> None:
        self.key = key
        for name, value in attrs.items():
            setattr(self, name, value)

    def sync_hash(self) -> int:
        return hash((type(self), self.key))

    def sync_compatible(self, other: object) -> bool:
        return type(other) is type(self) and other.key == self.key  # type: ignore[attr-defined]

    def to_sync(self, attributes: Any = None) -> dict[str, Any]:
        names = ["key", "a", "b", "c"]
        return {
            n: getattr(self, n)
            for n in names
            if hasattr(self, n) and (not attributes or n in attributes or n == "key")
        }


class UniqueItem(Item):
    """Never coalesces with another instance."""

    sync_type = "UniqueItem"

    def sync_hash(self) -> int:
        return id(self)

    def sync_compatible(self, other: object) -> bool:
        return other is self


class Future:
    """Minimal future (the context only needs done/set_result/set_exception)."""

    def __init__(self) -> None:
        self.result: Any = None
        self.exception: BaseException | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        assert not self._done
        self.result, self._done = value, True

    def set_exception(self, exc: BaseException) -> None:
        assert not self._done
        self.exception, self._done = exc, True


def pump(src: SyncConnection, dst: SyncConnection) -> list[Any]:
    """Move everything ``src`` has to send into ``dst``; return ``dst``'s events."""
    data = b"".join(src.frames_to_send(1 << 30))
    dst.receive_data(data)
    events = []
    while (event := dst.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def finish(event: MessageReceived) -> None:
    """End the receive pipeline for an event: give back its hold."""
    if event.context is not None:
        event.context.release()
