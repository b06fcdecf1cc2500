"""Receive plans: what a message of one ``(sync_type, operation)`` needs (§9, §11).

A :class:`ReceivePlan` is made for a class, its registry, an operation and the sending
connection, once per chunk read (see :mod:`entanglement._plan` for what plans promise),
and :func:`receive_planned` is the one body that every received message runs.  The plan
holds:

* the ``info`` dict of the messages answering nothing (hooks receive copies, the
  private forms the dict itself; only ``attributes`` changes, when the keys do);
* the §3.1 validation state: the keys last validated (re-checked when they change) and
  the last owner text found valid;
* the should_listen chain: the application's hooks only (sender, registry, class), or
  the manager's own override, which calls back into :func:`run_listen`;
* the registry's ``sync_context`` unless it is the base ``nullcontext``;
* the construction: the class's ``sync_construct`` override, or the base construction
  (:func:`entanglement._fill.construct`) without the ``info`` keywords;
* for each hook held, its info-dict form when it declares one
  (:func:`entanglement._plan.dict_form`: the SQL library's context, construction and
  fill), called with the dict rather than ``**info``;
* the should_listen_constructed chain: the manager's override, the registry's, or the
  operation's ownership check (its private form when its class keeps the public one);
  then the object's own hook and fill, per concrete class (:class:`ObjectSteps`);
* how the registry runs the operation: its ``sync_receive`` override, or the operation's
  :class:`~entanglement._opbase.Steps` (registry hooks and flood rule), looked up once.

Choice where the spec is silent: an object's own hooks (``sync_should_listen_
constructed``, ``sync_receive_constructed``) are looked up on its class: a function set
on one instance (by ``sync_construct``, before the pipeline reads it) is not called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from entanglement._codecplan import RESERVED_KEYS, Fill, filler_of, known_keys_of
from entanglement._destinations import SyncDestinationBase
from entanglement._fill import assign_failed, construct, fill_from_message
from entanglement._model import Synchronizable
from entanglement._opbase import (
    LENT_STEPS,
    Steps,
    SyncOperation,
    run_steps,
    steps_of,
)
from entanglement._plan import dict_form, keeps, keeps_bound, override_of
from entanglement._registry import SyncRegistry
from entanglement._wirecheck import check_owner_text, validate_message

if TYPE_CHECKING:
    from entanglement.protocol import SyncProtocol

__all__ = [
    "ListenHook",
    "ObjectSteps",
    "ReceivePlan",
    "check_constructed",
    "constructed_check",
    "lend",
    "listen_hooks",
    "make_plan",
    "not_true",
    "receive_planned",
    "run_listen",
    "take_back",
]

# (hook, its name for the error text, whether it takes the class as an argument)
ListenHook = tuple[Callable[..., Any], str, bool]
Check = Callable[[Any, dict[str, Any], dict[str, Any]], Any]


def listen_hooks(sender: Any, registry: Any, cls: Any) -> tuple[ListenHook, ...]:
    """The application's should_listen hooks for a message of ``cls`` (§9 step 4)."""
    hooks: list[ListenHook] = []
    if sender is not None:
        hook = override_of(sender, SyncDestinationBase, "should_listen")
        if hook is not None:
            hooks.append((hook, "dest.should_listen", True))
    hook = override_of(registry, SyncRegistry, "should_listen")
    if hook is not None:
        hooks.append((hook, "registry.should_listen", True))
    if not keeps_bound(cls.sync_should_listen, Synchronizable, "sync_should_listen"):
        hooks.append(
            (cls.sync_should_listen, f"{cls.__name__}.sync_should_listen", False)
        )
    return tuple(hooks)


def run_listen(
    hooks: tuple[ListenHook, ...], msg: dict[str, Any], cls: Any, info: dict[str, Any]
) -> None:
    """Call each hook; each must return True or raise."""
    for hook, name, with_class in hooks:
        result = hook(msg, cls, **info) if with_class else hook(msg, **info)
        if result is not True:
            not_true(result, name)


def constructed_check(registry: Any, operation: Any) -> Check | None:
    """The registry's part of should_listen_constructed, as ``(obj, msg, info)``."""
    hook = override_of(registry, SyncRegistry, "should_listen_constructed")
    if hook is not None:
        return _with_keywords(hook)
    if not isinstance(operation, SyncOperation):
        return None  # (what the base hook does: nothing to check)
    if keeps(type(operation), SyncOperation, "should_listen_constructed"):
        check: Check = operation._check_info
        return check
    return _with_keywords(operation.should_listen_constructed)


class ObjectSteps:
    """An object's own hooks, per concrete class: its check (None: the base one) and
    its fill (None: the base :func:`~entanglement._fill.fill_from_message`, run as
    the compiled fill of the last key tuple received, when there is one)."""

    __slots__ = ("check", "fill", "fill_form", "fill_keys", "filler", "kind")

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.fill_keys: tuple[str, ...] | None = None
        self.filler: Fill | None = None
        self.check: Callable[..., Any] | None = None
        if not keeps(kind, Synchronizable, "sync_should_listen_constructed"):
            self.check = kind.sync_should_listen_constructed  # type: ignore[attr-defined]
        self.fill: Callable[..., Any] | None = None
        self.fill_form: Callable[..., Any] | None = None
        if not keeps(kind, Synchronizable, "sync_receive_constructed"):
            self.fill = kind.sync_receive_constructed  # type: ignore[attr-defined]
            self.fill_form = dict_form(self.fill, kind)


class ReceivePlan:
    """How messages of one ``(sync_type, operation)`` from one sender are received."""

    __slots__ = (
        "check",
        "cls",
        "construct",
        "construct_form",
        "context",
        "context_form",
        "info",
        "keys",
        "known",
        "lent",
        "listen",
        "manager_check",
        "manager_listen",
        "objects",
        "operation",
        "owner",
        "receive_keywords",
        "registry",
        "steps",
    )

    def __init__(
        self, manager: Any, protocol: SyncProtocol, cls: Any, registry: Any, op: Any
    ) -> None:
        self.cls, self.registry, self.operation = cls, registry, op
        sender = protocol.dest
        self.info: dict[str, Any] = {
            "protocol": protocol,
            "manager": manager,
            "response_for": None,
            "sender": sender,
            "operation": op,
            "registry": registry,
            "attributes": frozenset(),
            "context": None,
        }
        # Keys needing no closer look by validate_message (the error flag always
        # does: it is checked against the class), the last keys validated, the
        # last owner text found valid.
        self.known = known_keys_of(cls).difference(("_sync_is_error",))
        self.keys: frozenset[str] = frozenset()
        self.owner: Any = None
        self.manager_listen = _manager_override(manager, "should_listen")
        self.listen = listen_hooks(sender, registry, cls)
        hook = override_of(registry, SyncRegistry, "sync_context")
        self.context = hook
        self.context_form = None if hook is None else dict_form(hook, registry)
        self.construct: Callable[..., Any] | None = None
        self.construct_form: Callable[..., Any] | None = None
        if not keeps_bound(cls.sync_construct, Synchronizable, "sync_construct"):
            self.construct = cls.sync_construct
            self.construct_form = dict_form(self.construct, cls)
        self.manager_check = _manager_override(manager, "should_listen_constructed")
        self.check = constructed_check(registry, op)
        self.objects: dict[type, ObjectSteps] = {}
        # Links appear between chunks only: none besides the sender now, none until
        # the chunk's end (the flood decision of issue 12 item 1).
        elsewhere = manager.links_besides(sender)
        self.receive_keywords, self.steps = _receiving(registry, op, elsewhere)
        # The operation's steps, lent to a registry whose sync_receive override
        # calls back into the base method (see lend).
        self.lent: Steps | None = None
        if (
            self.steps is None
            and isinstance(registry, SyncRegistry)
            and isinstance(op, SyncOperation)
            and keeps(type(op), SyncOperation, "incoming")
            and keeps(type(op), SyncOperation, "_incoming_info")
        ):
            self.lent = steps_of(op, registry, elsewhere)


def _manager_override(manager: Any, name: str) -> Callable[..., Any] | None:
    # The manager's chains are defined by ReceiveMixin (imported lazily: it imports
    # this module).
    from entanglement._receive import ReceiveMixin

    return override_of(manager, ReceiveMixin, name)


def _receiving(
    registry: Any, op: Any, elsewhere: bool
) -> tuple[Callable[..., Any] | None, Steps | None]:
    """``(hook, steps)``: the registry's or operation's override, called as
    ``hook(obj, **info)``, or the operation's steps when everything on the way is
    the base one."""
    hook = override_of(registry, SyncRegistry, "sync_receive")
    if not isinstance(op, SyncOperation):
        return registry.sync_receive, None
    kind = type(op)
    keeps_incoming = keeps(kind, SyncOperation, "incoming")
    plain = keeps_incoming and keeps(kind, SyncOperation, "_incoming_info")
    if hook is not None:
        return hook, None
    if not plain:
        return op.incoming, None
    return None, steps_of(op, registry, elsewhere)


def lend(plan: ReceivePlan) -> None:
    """Lend the plan's registry its operation's steps for the chunk (see
    :data:`~entanglement._opbase.LENT_STEPS`); :func:`take_back` ends it."""
    registry, op = plan.registry, plan.operation
    lent: dict[str, Any] = registry.__dict__.setdefault(LENT_STEPS, {})
    lent[op.name] = (op, plan.lent)


def take_back(plans: Any) -> None:
    """End what :func:`lend` lent for a chunk's plans."""
    for plan in plans.values():
        if plan is not None and plan.lent is not None:
            plan.registry.__dict__.pop(LENT_STEPS, None)


def make_plan(
    manager: Any, protocol: SyncProtocol, cls: Any, registry: Any, operation_name: str
) -> ReceivePlan:
    """The plan of a class, its registry and a received operation name.

    Raises:
        SyncInvalidOperation: the registry does not accept the operation.
    """
    op = registry.get_operation(operation_name)
    return ReceivePlan(manager, protocol, cls, registry, op)


def receive_planned(
    plan: ReceivePlan, msg: dict[str, Any], info: dict[str, Any]
) -> Any:
    """The §9 pipeline of one validated-type message, as its plan says; the object.

    ``info`` is ``plan.info`` for a message answering nothing, else a copy of it with
    the message's ``response_for``.
    """
    if msg.keys() != plan.keys:  # (messages of a class mostly carry the same keys)
        _check_keys(plan, msg)
    info["attributes"] = plan.info["attributes"]
    owner = msg.get("_sync_owner")
    if owner != plan.owner and owner is not None:  # (mostly one owner: checked
        check_owner_text(owner, msg)  # once per change)
        plan.owner = owner
    cls = plan.cls
    hook = plan.manager_listen
    if hook is not None:
        _manager_listen(hook, info["manager"], msg, cls, info)
    elif plan.listen:
        run_listen(plan.listen, msg, cls, info)
    context = plan.context
    if context is None:
        return _construct_and_receive(plan, msg, info)
    form = plan.context_form
    with form(cls, info) if form else context(sync_type=cls, **info) as entered:
        info["context"] = entered
        try:
            return _construct_and_receive(plan, msg, info)
        finally:
            info["context"] = None


def _check_keys(plan: ReceivePlan, msg: dict[str, Any]) -> None:
    if not plan.known.issuperset(msg):
        validate_message(msg, plan.cls)  # a "_" key to check (fill names the others)
    keys = frozenset(msg)
    # validate_message left no "_" keys but the reserved ones.
    plan.info["attributes"] = keys.difference(RESERVED_KEYS)
    if "_sync_is_error" not in keys:  # (the flag's value is checked every time)
        plan.keys = keys


def _construct_and_receive(
    plan: ReceivePlan, msg: dict[str, Any], info: dict[str, Any]
) -> Any:
    form = plan.construct_form
    if form is not None:
        obj = form(msg, info)
    else:
        hook = plan.construct
        obj = construct(plan.cls, msg) if hook is None else hook(msg, **info)
    own = plan.objects.get(type(obj))
    if own is None:
        own = plan.objects[type(obj)] = ObjectSteps(type(obj))
    hook = plan.manager_check
    if hook is not None:
        result = hook(obj, msg, **info)
        if result is not True:
            not_true(result, "manager.should_listen_constructed")
    else:
        check_constructed(plan.check, own, obj, msg, info)
    if own.fill is None:
        keys = tuple(msg)
        if keys != own.fill_keys:
            own.fill_keys = keys
            own.filler = filler_of(own.kind, keys, assign_failed)
        filler = own.filler
        if filler is None or not filler(obj, msg):
            fill_from_message(obj, msg)
    elif own.fill_form is not None:
        own.fill_form(obj, msg, info)
    else:
        own.fill(obj, msg, **info)
    if plan.steps is None:
        plan.receive_keywords(obj, **info)  # type: ignore[misc]
    else:
        run_steps(plan.steps, obj, info)
    return obj


def check_constructed(
    check: Check | None,
    own: ObjectSteps,
    obj: Any,
    msg: dict[str, Any],
    info: dict[str, Any],
) -> None:
    """The should_listen_constructed chain: the registry's check, the object's."""
    if check is not None:
        result = check(obj, msg, info)
        if result is not True:
            not_true(result, "registry.should_listen_constructed")
    hook = own.check
    if hook is not None:
        result = hook(obj, msg, **info)
        if result is not True:
            not_true(result, f"{type(obj).__name__}.sync_should_listen_constructed")


def _manager_listen(
    hook: Callable[..., Any], manager: Any, msg: dict[str, Any], cls: Any, info: Any
) -> None:
    manager._listen_base_ran = False
    result = hook(msg, cls, **info)
    if result is not True:
        not_true(result, "manager.should_listen")
    if not manager._listen_base_ran:
        raise RuntimeError(
            f"{type(manager).__name__}.should_listen did not call the base method"
        )


def _with_keywords(hook: Callable[..., Any]) -> Check:
    def call(obj: Any, msg: dict[str, Any], info: dict[str, Any]) -> Any:
        return hook(obj, msg, **info)

    return call


def not_true(result: Any, hook: str) -> None:
    """Raise the TypeError of a hook that returned something else than True."""
    raise TypeError(f"{hook} returned {result!r}; it must return True or raise")
