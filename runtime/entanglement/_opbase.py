"""The operation object contract (§10.2), method operations and the ``error`` operation.

These live apart from :mod:`entanglement.operations` because the registry and the error
registry need them while the ownership-checking operations need the error classes; this
module depends on nothing, which keeps the import graph acyclic.

Floods only ever go through ``manager.synchronize(obj, destinations=..., exclude=...,
operation=..., attributes_to_sync=..., response_for=info["response_for"])``
(docs/architecture.md), with ``destinations=None`` meaning every live connection.

Each public hook (``should_listen_constructed``, ``flood``, ``incoming``, taking
``**info``) delegates to a private form taking the info dict (``_check_info``,
``_flood_info``, ``_incoming_info``).  The library's operations override only the private
forms, and the receive pipeline calls those directly (:func:`check_constructed`,
:func:`run_incoming`) unless a class overrides the public hook: a keyword-argument dict
less per received object and hook.  The private forms must not change the dict.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = [
    "ErrorOperation",
    "MethodOperation",
    "SyncOperation",
    "check_constructed",
    "error",
    "hook_names",
    "keeps_base_hooks",
    "run_incoming",
]


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
        return self._check_info(obj, msg, info)

    def flood(self, obj: Any, **info: Any) -> None:
        """Send the object on after it was processed (the operation's flood rule)."""
        self._flood_info(obj, info)

    def incoming(self, obj: Any, **info: Any) -> Any:
        """``registry.incoming_<op>`` if defined → flood → ``registry.after_flood_<op>``."""
        return self._incoming_info(obj, info)

    def _check_info(self, obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> bool:
        return True

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        return None

    def _incoming_info(self, obj: Any, info: dict[str, Any]) -> Any:
        registry = info.get("registry")
        incoming, after_flood = hook_names(self.name)
        hook = getattr(registry, incoming, None)
        result = hook(obj, **info) if hook is not None else None
        if type(self).flood is _BASE_FLOOD:
            self._flood_info(obj, info)
        else:
            self.flood(obj, **info)
        after = getattr(registry, after_flood, None)
        if after is not None:
            after(obj, **info)
        return result


@functools.cache
def hook_names(operation: str) -> tuple[str, str]:
    """The registry hook names of an operation: ``incoming_<op>``, ``after_flood_<op>``."""
    # Formatting the two names for every received object showed in profiles.
    return f"incoming_{operation}", f"after_flood_{operation}"


_BASE_FLOOD = SyncOperation.flood
_BASE_CHECK = SyncOperation.should_listen_constructed
_BASE_INCOMING = SyncOperation.incoming
_BASE_INCOMING_INFO = SyncOperation._incoming_info


def keeps_base_hooks(operation: SyncOperation) -> bool:
    """True when the operation's class keeps the public hooks and ``incoming``'s
    private form: receiving it is ``_check_info``, then the registry's
    ``incoming_<op>``, ``_flood_info`` and ``after_flood_<op>``, nothing else."""
    kind = type(operation)
    return (
        kind.should_listen_constructed is _BASE_CHECK
        and kind.incoming is _BASE_INCOMING
        and kind._incoming_info is _BASE_INCOMING_INFO
        and kind.flood is _BASE_FLOOD
    )


def check_constructed(
    operation: SyncOperation, obj: Any, msg: dict[str, Any], info: dict[str, Any]
) -> Any:
    """``operation.should_listen_constructed(obj, msg, **info)``, without the kwargs
    expansion when the operation's class keeps the base hook."""
    if type(operation).should_listen_constructed is _BASE_CHECK:
        return operation._check_info(obj, msg, info)
    return operation.should_listen_constructed(obj, msg, **info)


def run_incoming(operation: SyncOperation, obj: Any, info: dict[str, Any]) -> Any:
    """``operation.incoming(obj, **info)``, without the kwargs expansion when the
    operation's class keeps the base hook."""
    if type(operation).incoming is _BASE_INCOMING:
        return operation._incoming_info(obj, info)
    return operation.incoming(obj, **info)


class MethodOperation(SyncOperation):
    """An operation that just calls ``fn(obj, **info)``: no hooks, no flood."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        super().__init__(name)
        self.fn = fn

    def _incoming_info(self, obj: Any, info: dict[str, Any]) -> Any:
        return self.fn(obj, **info)


class ErrorOperation(SyncOperation):
    """``error`` (§10.7): accept everything; relay to the requesters of the context."""

    def _flood_info(self, obj: Any, info: dict[str, Any]) -> None:
        # Relay the error along the reverse request path, with ``_resp_for``.
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
