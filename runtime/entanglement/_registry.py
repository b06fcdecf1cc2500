"""SyncRegistry: the schema object mapping sync_type → class, plus operations (§10.1).

Choices where the spec is silent or where we fixed a quirk:

* The base registry keeps the original's wire behaviour: its only operation is ``sync``,
  registered as a callable that does nothing (no ``incoming_sync`` call, no flood; quirk 33
  is kept on purpose because it is observable).  Registries that want real semantics
  register the operation objects of :mod:`entanglement.operations` (the in-memory and SQL
  registries do).
* ``inherited_registries`` (a class attribute) lists registries whose *classes* this
  registry also answers for: :meth:`get_syncable` falls back to them, in order, so the
  SQL meta registry's ``SyncOwner`` is found through every SQL registry.  Operations are
  not inherited: each registry decides what it accepts.
* ``manager`` holds only a weak reference (set by :meth:`associate_with_manager`, or by
  assignment); it reads None once the manager is gone.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ._opbase import LENT_STEPS, MethodOperation, SyncOperation, run_steps
from ._sansio.peertext import peer_repr

if TYPE_CHECKING:
    from ._model import Synchronizable

__all__ = ["SyncRegistry"]


def _ignore(obj: Any, **info: Any) -> None:
    """The base registry's ``sync``: accept and do nothing (quirk 33, kept)."""


class SyncRegistry:
    """A registry of Synchronizable classes and the operations accepted on them.

    Override ``should_listen``, ``should_listen_constructed`` and ``should_send`` for
    access control; override ``sync_receive`` or define ``incoming_<operation>`` /
    ``after_flood_<operation>`` methods to handle received objects.  When overriding,
    call the superclass method.
    """

    inherited_registries: ClassVar[list[SyncRegistry]] = []

    def __init__(self) -> None:
        self.registry: dict[str, type[Synchronizable]] = {}
        self.operations: dict[str, SyncOperation] = {}
        self._manager_ref: weakref.ReferenceType[Any] | None = None
        self.register_operation("sync", _ignore)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {sorted(self.registry)}>"

    @property
    def manager(self) -> Any:
        """The associated SyncManager, or None (weak reference)."""
        return self._manager_ref() if self._manager_ref is not None else None

    @manager.setter
    def manager(self, manager: Any) -> None:
        self._manager_ref = weakref.ref(manager) if manager is not None else None

    def associate_with_manager(self, manager: Any) -> None:
        """Called by a manager that has this registry; keeps only a weak reference."""
        self.manager = manager

    def register_syncable(self, type_name: str, cls: type[Synchronizable]) -> None:
        """Add a Synchronizable class under its sync_type.

        Raises:
            ValueError: if another class is already registered under ``type_name``.
        """
        existing = self.registry.get(type_name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"sync_type {type_name!r} is already registered in {self!r} "
                f"by {existing.__module__}.{existing.__qualname__}"
            )
        self.registry[type_name] = cls

    def register_operation(
        self, operation: str, op: SyncOperation | Callable[..., Any]
    ) -> None:
        """Accept ``operation`` on input.

        Args:
            operation: the operation name.
            op: an operation object, or a callable ``op(obj, **info)`` which becomes a
                method operation (no flood).  ``self`` is not passed: use a bound method.
        """
        if isinstance(op, SyncOperation):
            self.operations[operation] = op
        elif callable(op):
            self.operations[operation] = MethodOperation(operation, op)
        else:
            raise TypeError(f"operation {operation!r}: {op!r} is not callable")

    def get_operation(self, operation: str | SyncOperation) -> SyncOperation:
        """Return this registry's operation object for a name (or operation object).

        Raises:
            SyncInvalidOperation: if the registry does not accept that operation.
        """
        name = str(operation)
        try:
            return self.operations[name]
        except KeyError:
            from ._wire_errors import SyncInvalidOperation

            raise SyncInvalidOperation(
                f"operation {peer_repr(name)} is not supported by {type(self).__name__} "
                f"(supported: {', '.join(sorted(self.operations))})"
            ) from None

    def get_syncable(
        self, tag: str, default: Any | Literal["raise"] = "raise"
    ) -> type[Synchronizable] | Any:
        """Return the class registered under sync_type ``tag`` (own, then inherited).

        Raises:
            UnregisteredSyncClass: if unknown and ``default`` is ``'raise'``.
        """
        cls = self.registry.get(tag)
        if cls is not None:
            return cls
        for inherited in self.inherited_registries:
            found = inherited.get_syncable(tag, None)
            if found is not None:
                return found
        if isinstance(default, str) and default == "raise":
            from ._wire_errors import UnregisteredSyncClass

            raise UnregisteredSyncClass(
                f"sync_type {tag!r} is not registered in {self!r}"
            )
        return default

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """Authorisation hook before construction: return True or raise."""
        return True

    def should_listen_constructed(
        self, obj: Synchronizable, msg: dict[str, Any], **info: Any
    ) -> bool:
        """Hook after construction; by default the operation's ownership checks."""
        operation = info.get("operation")
        if isinstance(operation, SyncOperation):
            return operation.should_listen_constructed(obj, msg, **info)
        return True

    def should_send(
        self, obj: Synchronizable, destination: Any = None, **info: Any
    ) -> bool:
        """Send-policy hook: return False to skip ``destination``, raise to abort."""
        return True

    def sync_context(self, **info: Any) -> AbstractContextManager[Any]:
        """Context in which one received object is processed; yields None by default."""
        return contextlib.nullcontext()

    def sync_receive(
        self, obj: Synchronizable, operation: SyncOperation | str, **info: Any
    ) -> Any:
        """Registry-specific processing: dispatch to ``operation.incoming``.

        Called back by an override the receive pipeline runs, it runs the steps the
        pipeline's plan lent (see :data:`~entanglement._opbase.LENT_STEPS`).
        """
        if not isinstance(operation, SyncOperation):
            operation = self.get_operation(operation)
        info.setdefault("registry", self)
        lent = self.__dict__.get(LENT_STEPS)
        if lent is not None:
            found = lent.get(operation.name)
            if found is not None and found[0] is operation:
                info["operation"] = operation
                return run_steps(found[1], obj, info)
        return operation.incoming(obj, operation=operation, **info)
