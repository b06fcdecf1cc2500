"""The pipeline skips only hooks that are still the base "return True" ones.

``is_base_hook`` decides it; an override on the class, on a subclass, or on the
instance itself (a function attribute) must still be called.
"""

from __future__ import annotations

from typing import Any

from entanglement._send import is_base_hook
from entanglement.interface import Synchronizable, SyncRegistry
from entanglement.network import SyncDestination


class Plain(Synchronizable):
    sync_primary_keys = ("id",)


class Picky(Synchronizable):
    sync_primary_keys = ("id",)

    @classmethod
    def sync_should_listen(cls, msg: dict[str, Any], **info: Any) -> bool:
        return True

    def sync_should_send(self, destination: Any = None, **info: Any) -> bool:
        return False


class PickyRegistry(SyncRegistry):
    def should_send(self, obj: Any, destination: Any = None, **info: Any) -> bool:
        return False


def test_base_hooks_are_recognised() -> None:
    assert is_base_hook(Plain().sync_should_send, Synchronizable.sync_should_send)
    assert is_base_hook(
        Plain.sync_should_listen,
        Synchronizable.sync_should_listen.__func__,  # type: ignore[attr-defined]
    )
    assert is_base_hook(SyncRegistry().should_send, SyncRegistry.should_send)
    dest = SyncDestination(None, "d")
    assert is_base_hook(dest.should_send, SyncDestination.should_send)


def test_overrides_on_the_class_are_called() -> None:
    assert not is_base_hook(Picky().sync_should_send, Synchronizable.sync_should_send)
    assert not is_base_hook(
        Picky.sync_should_listen,
        Synchronizable.sync_should_listen.__func__,  # type: ignore[attr-defined]
    )
    assert not is_base_hook(PickyRegistry().should_send, SyncRegistry.should_send)


def test_overrides_on_the_instance_are_called() -> None:
    dest = SyncDestination(None, "d")
    dest.should_send = lambda obj, **info: False  # type: ignore[method-assign]
    assert not is_base_hook(dest.should_send, SyncDestination.should_send)
    obj = Plain()
    obj.sync_should_send = lambda **info: False  # type: ignore[method-assign]
    assert not is_base_hook(obj.sync_should_send, Synchronizable.sync_should_send)
