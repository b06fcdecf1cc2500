"""Send plans: the registry and the send policy hooks (§7.2) of a class's objects.

A :class:`SendPlan` is made per class of object sent by a manager: the registry the
objects go through and which policy hooks (the manager's ``should_send``, the
registry's, the class's ``sync_should_send``) are the application's.  It stays in use
while what it was made from is unchanged (:meth:`SendPlan.current`: the same class
attributes, no hook set on the manager or registry instance since, the object's type
still registered): a hook changed between two calls applies to the next call.  What
plans promise is said in :mod:`entanglement._plan`, which alone decides what counts
as a base hook.

Per call, :meth:`SendPlan.asks` says whether any hook but the destinations' must be
asked; per target, the destination's own hook is looked at (targets are different
objects), and :func:`policy_chain` is the one body of the chain, run for a target
with a hook to ask and by the manager's base ``should_send`` (which an override calls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entanglement._destinations import SyncDestinationBase
from entanglement._model import Synchronizable
from entanglement._plan import keeps, override_of, override_test, shadowed
from entanglement._registry import SyncRegistry

__all__ = ["SendPlan", "allowed", "dest_hook", "policy_chain"]

Hook = Callable[..., Any] | None


class SendPlan:
    """How one manager sends the objects of one class (see the module docstring)."""

    __slots__ = ("_made_from", "asks_always", "registry")

    def __init__(self, manager: Any, kind: type, registry: Any) -> None:
        from entanglement._send import SendMixin  # (it imports this module)

        self.registry = registry
        # The class attributes the plan is made from (functions compare by identity).
        self._made_from = (
            type(manager).should_send,
            kind.sync_should_send,  # type: ignore[attr-defined]
            type(registry).should_send,
        )
        # A hook other than the destinations' is the application's.
        self.asks_always = (
            override_of(manager, SendMixin, "should_send") is not None
            or override_of(registry, SyncRegistry, "should_send") is not None
            or not keeps(kind, Synchronizable, "sync_should_send")
        )

    def current(self, manager: Any, obj: Any) -> bool:
        """True while the plan still describes ``obj``'s class, registry and hooks."""
        registry = self.registry
        manager_hook, object_hook, registry_hook = self._made_from
        return (
            type(obj).sync_should_send is object_hook
            and type(manager).should_send is manager_hook
            and type(registry).should_send is registry_hook
            and "should_send" not in registry.__dict__
            and "should_send" not in manager.__dict__
            and obj.sync_type in registry.registry
        )

    def asks(self, obj: Any) -> bool:
        """True when a hook other than the destinations' must be asked for ``obj``."""
        return self.asks_always or shadowed(obj, "sync_should_send")


dest_hook = override_test(SyncDestinationBase, "should_send")
"""The destination's ``should_send`` when the application overrides it, else None."""


def allowed(
    manager: Any, obj: Any, destination: Any, registry: Any, info: dict[str, Any]
) -> bool:
    """The whole chain for one target: the manager's ``should_send`` (whose base is
    :func:`policy_chain`); ``info`` holds ``manager``, ``response_for``, ``operation``.

    Raises:
        Exception: whatever a hook raises (it aborts the call, §7.2).
    """
    return bool(manager.should_send(obj, destination, registry, type(obj), **info))


def policy_chain(
    obj: Any, destination: Any, registry: Any, info: dict[str, Any]
) -> bool:
    """Destination, registry, object (§7.2); ``info`` holds the chain's keywords."""
    hook = dest_hook(destination)
    if hook is not None and not hook(obj, **info):
        return False
    hook = override_of(registry, SyncRegistry, "should_send")
    if hook is not None and not hook(obj, **info):
        return False
    hook = override_of(obj, Synchronizable, "sync_should_send")
    return hook is None or bool(hook(**info))
