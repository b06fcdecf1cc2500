"""Send plans: which send policy hooks (§7.2) one call of ``synchronize`` runs.

:func:`send_plan` looks, once per call, at the manager's ``should_send`` and at the
registry's and the object's hooks; :meth:`SendPlan.allows` then asks, per target, only
the hooks the application overrides (the destination's is looked at per target, the
targets being different objects).  :func:`policy_chain` is the one body of the chain,
run by the plan and by the manager's base ``should_send`` (which an override calls).
What plans promise is said in :mod:`entanglement._plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entanglement._destinations import SyncDestinationBase
from entanglement._model import Synchronizable
from entanglement._plan import override_of
from entanglement._registry import SyncRegistry

__all__ = ["SendPlan", "policy_chain", "send_plan"]

Hook = Callable[..., Any] | None


class SendPlan:
    """The policy hooks of one call; :meth:`allows` asks them about one target."""

    __slots__ = (
        "_info",
        "_manager_hook",
        "_obj",
        "_object_hook",
        "_registry",
        "_registry_hook",
    )

    def __init__(self, obj: Any, registry: Any, info: dict[str, Any]) -> None:
        from entanglement._send import SendMixin  # (it imports this module)

        self._obj, self._registry, self._info = obj, registry, info
        self._manager_hook = override_of(info["manager"], SendMixin, "should_send")
        self._registry_hook = override_of(registry, SyncRegistry, "should_send")
        self._object_hook = override_of(obj, Synchronizable, "sync_should_send")

    def allows(self, destination: Any) -> bool:
        """True when the chain lets the object go to ``destination``.

        Raises:
            Exception: whatever a hook raises (it aborts the call, §7.2).
        """
        obj = self._obj
        hook = self._manager_hook
        if hook is not None:
            return bool(hook(obj, destination, self._registry, type(obj), **self._info))
        dest_hook = override_of(destination, SyncDestinationBase, "should_send")
        registry_hook, object_hook = self._registry_hook, self._object_hook
        if dest_hook is None and registry_hook is None and object_hook is None:
            return True
        info = dict(self._info)
        info["registry"], info["sync_type"] = self._registry, type(obj)
        info["destination"] = destination
        return _chain(obj, dest_hook, registry_hook, object_hook, info)


def send_plan(
    manager: Any, obj: Any, registry: Any, operation: Any, context: Any
) -> SendPlan:
    """The plan of one ``synchronize`` call (see the module docstring)."""
    info = {"manager": manager, "response_for": context, "operation": operation}
    return SendPlan(obj, registry, info)


def policy_chain(
    obj: Any, destination: Any, registry: Any, info: dict[str, Any]
) -> bool:
    """Destination, registry, object (§7.2); ``info`` holds the chain's keywords."""
    return _chain(
        obj,
        override_of(destination, SyncDestinationBase, "should_send"),
        override_of(registry, SyncRegistry, "should_send"),
        override_of(obj, Synchronizable, "sync_should_send"),
        info,
    )


def _chain(
    obj: Any, dest_hook: Hook, registry_hook: Hook, object_hook: Hook, info: Any
) -> bool:
    if dest_hook is not None and not dest_hook(obj, **info):
        return False
    if registry_hook is not None and not registry_hook(obj, **info):
        return False
    return object_hook is None or bool(object_hook(**info))
