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
forms, and a receive plan (:mod:`entanglement._planreceive`) calls those directly unless a
class overrides the public hook: a keyword-argument dict less per received object and
hook.  The private forms must not change the dict.

Running an operation on a received object is :func:`steps_of` (which registry hooks and
which flood, looked up once) and :func:`run_steps` (calling them): ``_incoming_info``
does both per call; a receive plan keeps the steps and only runs them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._plan import dict_form, keeps

__all__ = [
    "LENT_STEPS",
    "ErrorOperation",
    "MethodOperation",
    "Steps",
    "SyncOperation",
    "error",
    "floods_only_elsewhere",
    "hook_names",
    "run_steps",
    "steps_of",
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
        return run_steps(steps_of(self, info.get("registry")), obj, info)


@functools.cache
def hook_names(operation: str) -> tuple[str, str]:
    """The registry hook names of an operation: ``incoming_<op>``, ``after_flood_<op>``."""
    # Formatting the two names for every received object showed in profiles.
    return f"incoming_{operation}", f"after_flood_{operation}"


# What running an operation on a received object calls, in order: the registry's
# ``incoming_<op>``, the flood ``(obj, info)`` (None: nowhere to flood), the
# registry's ``after_flood_<op>``.  Each registry hook is a pair: the hook called as
# ``(obj, **info)``, or its info-dict form (:func:`entanglement._plan.dict_form`)
# called as ``(obj, info)``, or neither (no such hook).  A plain tuple: it is made per
# object when a registry's ``sync_receive`` override calls back into the base one.
Hook = Callable[..., Any] | None
Steps = tuple[Hook, Hook, Callable[[Any, dict[str, Any]], None] | None, Hook, Hook]


def floods_only_elsewhere(flood: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ``_flood_info`` that only sends to links other than the sender's.

    A receive plan leaves such a flood out while no other link exists (see
    :func:`steps_of`); an override of the marked method is not marked.
    """
    flood._sync_floods_elsewhere = True  # type: ignore[attr-defined]
    return flood


def steps_of(operation: SyncOperation, registry: Any, elsewhere: bool = True) -> Steps:
    """The steps of ``operation`` on ``registry``: its hooks and the flood rule (the
    private form, unless the operation's class overrides the public ``flood``).

    Args:
        operation: the operation run.
        registry: the registry whose hooks are looked up.
        elsewhere: False when the manager has no live link besides the sender, which
            lets a flood marked by :func:`floods_only_elsewhere` be left out (links
            only appear between received chunks, which is how long steps are kept).
    """
    incoming, after_flood = hook_names(operation.name)
    flood: Callable[[Any, dict[str, Any]], None] | None
    if keeps(type(operation), SyncOperation, "flood"):
        flood = operation._flood_info
        if not elsewhere and getattr(flood, "_sync_floods_elsewhere", False):
            flood = None
    else:
        public = operation.flood

        def flood(obj: Any, info: dict[str, Any]) -> None:
            public(obj, **info)

    return (*_hook(registry, incoming), flood, *_hook(registry, after_flood))


def _hook(registry: Any, name: str) -> tuple[Hook, Hook]:
    # (the hook, None), or (None, its info-dict form), or (None, None)
    hook = getattr(registry, name, None)
    form = None if hook is None else dict_form(hook, registry)
    return (None, form) if form is not None else (hook, None)


def run_steps(steps: Steps, obj: Any, info: dict[str, Any]) -> Any:
    """``incoming_<op>`` → flood → ``after_flood_<op>``; the incoming hook's result."""
    incoming, incoming_form, flood, after_flood, after_form = steps
    if incoming is not None:
        result = incoming(obj, **info)
    else:
        result = None if incoming_form is None else incoming_form(obj, info)
    if flood is not None:
        flood(obj, info)
    if after_flood is not None:
        after_flood(obj, **info)
    elif after_form is not None:
        after_form(obj, info)
    return result


# While a received chunk is handled, each receive plan whose registry overrides
# ``sync_receive`` lends the registry its operation's steps: ``{operation name:
# (operation, steps)}`` under this name in the registry's ``__dict__``, taken back at
# the end of the chunk.  The base ``sync_receive``, called back by the override for
# that operation, runs the lent steps instead of looking them up again through
# ``operation.incoming`` (the same calls: plans hold for a chunk).  Any other call
# finds nothing lent, or another operation, and looks them up.
LENT_STEPS = "_sync_lent_steps"


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
