"""The operation object contract (§10.2), method operations and the ``error`` operation.

These live apart from :mod:`entanglement.operations` because the registry and the error
registry need them while the ownership-checking operations need the error classes; this
module depends on nothing, which keeps the import graph acyclic.

Floods only ever go through ``manager.synchronize(obj, destinations=..., exclude=...,
operation=..., attributes_to_sync=..., response_for=info["response_for"])``
(docs/architecture.md), with ``destinations=None`` meaning every live connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ErrorOperation", "MethodOperation", "SyncOperation", "error"]


class SyncOperation:
    """An operation accepted by a registry: a name, ownership checks and a flood rule.

    An operation compares equal to its name string and hashes like it, and ``str(op)`` is
    the name, so ``info["operation"] == "sync"`` works in hooks.
    """

    primary_keys_required: bool = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SyncOperation):
            return self.name == other.name
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def should_listen_constructed(
        self, obj: Any, msg: dict[str, Any], **info: Any
    ) -> bool:
        """Ownership checks on a constructed object: return True or raise."""
        return True

    def flood(self, obj: Any, **info: Any) -> None:
        """Send the object on after it was processed (none by default)."""

    def incoming(self, obj: Any, **info: Any) -> Any:
        """``registry.incoming_<op>`` if defined → flood → ``registry.after_flood_<op>``."""
        registry = info.get("registry")
        hook = getattr(registry, f"incoming_{self.name}", None)
        result = hook(obj, **info) if hook is not None else None
        self.flood(obj, **info)
        after = getattr(registry, f"after_flood_{self.name}", None)
        if after is not None:
            after(obj, **info)
        return result


class MethodOperation(SyncOperation):
    """An operation that just calls ``fn(obj, **info)``: no hooks, no flood."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        super().__init__(name)
        self.fn = fn

    def incoming(self, obj: Any, **info: Any) -> Any:
        """Call the wrapped callable."""
        return self.fn(obj, **info)


class ErrorOperation(SyncOperation):
    """``error`` (§10.7): accept everything; relay to the requesters of the context."""

    def flood(self, obj: Any, **info: Any) -> None:
        """Relay the error along the reverse request path, with ``_resp_for``."""
        response_for = info.get("response_for")
        manager = info.get("manager")
        if response_for is None or manager is None:
            return  # an error that answers nothing is discarded (§6.3)
        destinations = list(response_for.requester_destinations())
        if destinations:
            manager.synchronize(
                obj,
                destinations=destinations,
                operation=self.name,
                response_for=response_for,
            )


error = ErrorOperation("error")
