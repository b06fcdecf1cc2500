"""Which hook is still the base one: the only module that knows (issue 12 item 1).

Every hot path of the runtime runs from a *plan*: what a message needs, worked out
once, then read by one code body.

* Receive plans (:mod:`entanglement._planreceive`): per ``(sync_type, operation)`` (and
  class, where several registries hold the name) and sending connection, made when the
  first such message of a received chunk comes, for that chunk: the class, registry
  and operation, the ``info`` dict, the validation state, the application's
  should_listen hooks, the registry's context, the construction, the
  should_listen_constructed chain, the object's own hooks and fill per concrete class,
  and how the operation runs (the registry's ``sync_receive`` override, to which the
  operation's steps are lent, or the steps themselves: registry hooks and flood rule;
  the flood left out while the manager has no link besides the sender, links only
  appearing between chunks).  The base fill of a message key tuple is a compiled
  fill of the class (:func:`entanglement._codecplan.filler_of`).
* Send plans (:mod:`entanglement._plansend`): per class of object sent by a manager:
  its registry and which policy hooks are the application's; checked on every call
  (same class attributes, no hook set on the manager or registry since).  The payload
  encoder of a class (:func:`entanglement._model.payload_encoder`) is looked up once
  per batch of frames built.

What the plans promise:

* Same outcome as calling every hook.  A plan leaves out only a hook that is still the
  base class's own (``return True``, or a delegation the plan does itself); every hook
  the application overrides, on the class, a subclass or the instance, is called, in
  the order of PROTOCOL.md §9 and §7.2, with the ``info`` keywords of §11.
* No stale plan.  A plan is made from the hooks as they are when it is made: a hook,
  class or registry changed between two messages applies to the next message
  (``tests/runtime/net/test_net_plans.py`` fails otherwise).  Only a change made *by a
  hook* while a received chunk is being handled waits for the next chunk (as before).
  Exception: an object's own hooks are looked up on its class, so a function set on
  one received instance (by ``sync_construct``) is not called.
* One body.  The pipeline, the chains a manager override calls back into and the
  general entry points run the same functions; a plan only chooses which of them to
  call and holds what they would otherwise look up per message.

How "still the base one" is decided: the function found on the class (or the bound
method found on the instance) is compared by identity with the function the base class
defines.  A plain function set on an instance has no ``__func__`` and so always counts
as an override.

Info forms: a public hook taking ``**info`` may declare (:func:`info_form`) a private
method doing exactly the same with the info dict itself; a plan holding such a hook
(:func:`dict_form` finds the method, on the instance or class the hook was found on)
calls the private method instead: a keyword-argument dict less per message and hook.
An override of the public hook does not carry the declaration, so it is called as it
is, ``**info`` and all.  The library's SQL hooks (context, construction, fill,
``incoming_sync``) declare theirs; the operations' own private forms are older and
are chosen by :func:`keeps` (:mod:`entanglement._opbase`).  A private form must not
change the dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "dict_form",
    "info_form",
    "keeps",
    "keeps_bound",
    "override_of",
    "override_test",
    "shadowed",
]

_F = TypeVar("_F", bound=Callable[..., Any])
# the attribute a public hook's function carries: the name of its info-dict form
_INFO_FORM = "_sync_info_form"


def info_form(name: str) -> Callable[[_F], _F]:
    """Declare that the decorated hook (``hook(*args, **info)``) does exactly what
    the method ``name`` of the same object does as ``name(*args, info)``.

    Put it under ``@classmethod`` for a class method.
    """

    def declare(hook: _F) -> _F:
        setattr(hook, _INFO_FORM, name)
        return hook

    return declare


def dict_form(hook: Any, owner: Any) -> Callable[..., Any] | None:
    """The info-dict form of ``hook`` (found on ``owner``, an instance or a class)
    when its function declares one (:func:`info_form`), else None."""
    function = getattr(hook, "__func__", hook)
    name = getattr(function, _INFO_FORM, None)
    return None if name is None else getattr(owner, name)


def keeps(kind: type, base: type, name: str) -> bool:
    """True when class ``kind`` still has ``base``'s own ``name`` (no override).

    Args:
        kind: the class looked at (a subclass of ``base``, or ``base`` itself).
        base: the class defining the base hook.
        name: the hook's attribute name.
    """
    found, mine = getattr(kind, name, None), getattr(base, name)
    return getattr(found, "__func__", found) is getattr(mine, "__func__", mine)


def keeps_bound(bound: Any, base: type, name: str) -> bool:
    """True when the bound method ``bound`` is ``base``'s own ``name``.

    ``bound`` is what an instance (or a class, for a classmethod) gives for the hook;
    a function set on the instance is never the base one.
    """
    function = getattr(bound, "__func__", None)
    if function is None:
        return False
    found = getattr(base, name)
    return function is getattr(found, "__func__", found)


def override_of(instance: Any, base: type, name: str) -> Callable[..., Any] | None:
    """The hook ``instance.<name>`` when it is not ``base``'s own, else None."""
    bound: Callable[..., Any] = getattr(instance, name)
    return None if keeps_bound(bound, base, name) else bound


def override_test(base: type, name: str) -> Callable[[Any], Callable[..., Any] | None]:
    """:func:`override_of` for one hook, as a function of the instance (for a hook
    asked about per message: ``base``'s function is found once).

    A base class patched later only makes its new function count as an override,
    which is then called: never a hook skipped that should run.
    """
    found = getattr(base, name)
    mine = getattr(found, "__func__", found)

    def override(instance: Any) -> Callable[..., Any] | None:
        bound: Callable[..., Any] = getattr(instance, name)
        return None if getattr(bound, "__func__", None) is mine else bound

    return override


def shadowed(instance: Any, name: str) -> bool:
    """True when ``instance`` holds its own ``name`` (set on the instance)."""
    return name in getattr(instance, "__dict__", ())
