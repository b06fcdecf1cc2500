"""The pipeline skips only hooks that are still the base "return True" ones.

``entanglement._plan`` decides it (``keeps_bound``); an override on the class, on a subclass, or on the
instance itself (a function attribute) must still be called.
"""

from __future__ import annotations

from typing import Any

from entanglement._plan import keeps, keeps_bound
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
    assert keeps_bound(Plain().sync_should_send, Synchronizable, "sync_should_send")
    assert keeps_bound(Plain.sync_should_listen, Synchronizable, "sync_should_listen")
    assert keeps_bound(SyncRegistry().should_send, SyncRegistry, "should_send")
    dest = SyncDestination(None, "d")
    assert keeps_bound(dest.should_send, SyncDestination, "should_send")


def test_overrides_on_the_class_are_called() -> None:
    assert not keeps_bound(Picky().sync_should_send, Synchronizable, "sync_should_send")
    assert not keeps_bound(
        Picky.sync_should_listen, Synchronizable, "sync_should_listen"
    )
    assert not keeps_bound(PickyRegistry().should_send, SyncRegistry, "should_send")


def test_overrides_on_the_instance_are_called() -> None:
    dest = SyncDestination(None, "d")
    dest.should_send = lambda obj, **info: False  # type: ignore[method-assign]
    assert not keeps_bound(dest.should_send, SyncDestination, "should_send")
    obj = Plain()
    obj.sync_should_send = lambda **info: False  # type: ignore[method-assign]
    assert not keeps_bound(obj.sync_should_send, Synchronizable, "sync_should_send")


def test_keeps_looks_at_the_class() -> None:
    assert keeps(Plain, Synchronizable, "sync_should_send")
    assert keeps(Plain, Synchronizable, "sync_should_listen")
    assert not keeps(Picky, Synchronizable, "sync_should_send")
    assert not keeps(Picky, Synchronizable, "sync_should_listen")
    assert not keeps(PickyRegistry, SyncRegistry, "should_send")
