"""The Synchronizable object model (§8): metaclass, base class, ownership markers.

Theory of operation
-------------------
``SynchronizableMeta.__new__`` looks at the class namespace *before* the class is created:

1. every :class:`SyncProperty` found is bound (name, declaring class, raw annotation) and
   replaced by what it wraps, or removed when it wraps nothing (the value then lives in
   the instance ``__dict__``); every :class:`NoSyncProperty` is replaced by what it wraps
   and recorded as a *hiding* declaration;
2. the declarations are stored, in namespace order, as ``_sync_declared`` in the namespace;
3. ``sync_type`` defaults to the class name, ``sync_registry = R`` is moved to
   ``_sync_registry`` (``sync_registry`` is a property of the metaclass), and a legacy
   ``_sync_construct`` becomes ``sync_construct``.

After ``type.__new__`` it computes ``cls._sync_properties``: an ordered ``dict`` name →
SyncProperty merged over the MRO, most-derived declaration first.  A ``no_sync_property``
in a subclass *hides* an inherited sync_property (quirk 29 fixed).  Finally the class is
registered in its ``sync_registry`` (inherited), unless its own namespace sets
``__abstract__ = True``.

Seam for the SQL layer: a metaclass deriving from both ``SynchronizableMeta`` and
SQLAlchemy's ``DeclarativeAttributeIntercept`` may put ``SyncProperty(column)`` objects into
the namespace and then call ``super().__new__``; step 1 puts the columns back before
SQLAlchemy's declarative scan (which runs inside ``type.__new__``) sees the namespace.
``_sync_properties`` is written with ``type.__setattr__`` so SQLAlchemy's attribute
interception is not involved.

The base construct and fill (``construct``, ``fill_from_message``, ``assign_failed``)
live in :mod:`entanglement._fill` and are re-exported here, their old place.

Choices where the spec is silent:

* ``sync_is_local`` is False for EphemeralUnflooded objects (quirk 34 fixed: the original
  raised AttributeError): such objects belong to whoever sent them, never to us.
* ``sync_property`` declarations must live in classes created by this metaclass; one found
  in a plain mixin would silently shadow instance values, so it raises TypeError.
* ``sync_compatible`` / ``sync_hash`` treat an object missing a primary-key value (e.g. a
  ``create`` request before the owner assigned keys) as unique.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol

from ._codecplan import encoder_of

# Re-exported by name: their place before _fill.py was split off.
from ._fill import assign_failed as assign_failed
from ._fill import construct as construct
from ._fill import fill_from_message as fill_from_message
from ._hashes import DestHash
from ._plan import keeps
from ._properties import NOTHING, NoSyncProperty, SyncProperty, sync_property

if TYPE_CHECKING:
    from ._registry import SyncRegistry

__all__ = [
    "EphemeralUnflooded",
    "OwnerLike",
    "Synchronizable",
    "SynchronizableMeta",
    "Unique",
    "overrides_sync_receive",
]

Unique: Final = "Unique"
"""Value of ``sync_primary_keys`` meaning "instances never coalesce"."""

PrimaryKeys = tuple[str, ...] | Literal["Unique"]


class OwnerLike(Protocol):
    """What operations need from an owner object (SQL or in-memory SyncOwner)."""

    @property
    def dest_hash(self) -> DestHash | None: ...


class EphemeralUnflooded:
    """Owner marker: the object is not flooded, and on receipt belongs to the sender.

    Used for protocol messages such as errors, IHave, YouHave and MyOwners.  The class
    itself is the marker value (``obj.sync_owner is EphemeralUnflooded``).
    """

    destination: ClassVar[Any] = NotImplemented

    @classmethod
    def sync_encode_value(cls) -> None:
        """Ephemeral objects have no owner id on the wire."""
        return None


def _resolve_registry(cls: type) -> SyncRegistry | None:
    for klass in cls.__mro__:
        if "_sync_registry" in vars(klass):
            registry: SyncRegistry | None = vars(klass)["_sync_registry"]
            return registry
    return None


def _walk_subclasses(cls: type) -> Iterator[type]:
    yield cls
    sub: type
    for sub in cls.__subclasses__():
        yield from _walk_subclasses(sub)


def _register(cls: type, registry: SyncRegistry | None) -> None:
    if registry is None:
        return
    sync_type: str = getattr(cls, "sync_type", cls.__name__)
    if registry.registry.get(sync_type) is cls:
        return
    registry.register_syncable(sync_type, cls)


def _check_mixins(cls: type) -> None:
    for klass in cls.__mro__:
        if isinstance(klass, SynchronizableMeta):
            continue
        for attr, value in vars(klass).items():
            if isinstance(value, SyncProperty | NoSyncProperty):
                raise TypeError(
                    f"{klass.__qualname__}.{attr} is declared in a class that is not "
                    "Synchronizable; derive the mixin from Synchronizable"
                )


def _merge_properties(cls: type) -> dict[str, SyncProperty]:
    seen: dict[str, SyncProperty | NoSyncProperty] = {}
    for klass in cls.__mro__:
        declared: Mapping[str, SyncProperty | NoSyncProperty] = vars(klass).get(
            "_sync_declared", {}
        )
        for name, prop in declared.items():
            seen.setdefault(name, prop)
    return {n: p for n, p in seen.items() if isinstance(p, SyncProperty)}


class SynchronizableMeta(type):
    """Metaclass collecting sync properties and registering classes in their registry."""

    _sync_properties: dict[str, SyncProperty]
    _sync_declared: dict[str, SyncProperty | NoSyncProperty]

    def __new__(
        mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any
    ) -> SynchronizableMeta:
        annotations = ns.get("__annotations__", {})
        declared: dict[str, SyncProperty | NoSyncProperty] = {}
        for attr, value in list(ns.items()):
            if isinstance(value, SyncProperty | NoSyncProperty):
                declared[attr] = value
                if value.wraps is NOTHING:
                    del ns[attr]
                else:
                    ns[attr] = value.wraps
        ns["_sync_declared"] = declared
        ns.setdefault("sync_type", name)
        if "sync_registry" in ns and not isinstance(ns["sync_registry"], property):
            ns["_sync_registry"] = ns.pop("sync_registry")
        if "_sync_construct" in ns and "sync_construct" not in ns:
            ns["sync_construct"] = ns["_sync_construct"]
        cls = super().__new__(mcls, name, bases, ns, **kwargs)
        for attr, value in declared.items():
            if isinstance(value, SyncProperty):
                value.bind(attr, cls, annotations.get(attr))
        _check_mixins(cls)
        type.__setattr__(cls, "_sync_properties", _merge_properties(cls))
        if not ns.get("__abstract__", False):
            _register(cls, _resolve_registry(cls))
        return cls

    @property
    def sync_registry(cls) -> SyncRegistry | None:
        """The registry this class (and, by inheritance, its subclasses) belongs to."""
        return _resolve_registry(cls)

    @sync_registry.setter
    def sync_registry(cls, registry: SyncRegistry | None) -> None:
        type.__setattr__(cls, "_sync_registry", registry)
        for klass in _walk_subclasses(cls):
            if _resolve_registry(klass) is registry and not vars(klass).get(
                "__abstract__"
            ):
                _register(klass, registry)


class Synchronizable(metaclass=SynchronizableMeta):
    """A class whose instances can be synchronised between SyncManagers.

    Declare attributes with ``sync_property``; set ``sync_primary_keys`` (a tuple of
    property names, or ``Unique``) and ``sync_registry``.  ``to_sync`` packs the encoded
    properties; ``sync_construct`` and ``sync_receive_constructed`` rebuild an object.
    """

    sync_type: ClassVar[str]
    sync_priority: ClassVar[int] = 100
    sync_owner: Any = EphemeralUnflooded
    # True for classes whose peers refuse an object without an owner (the in-memory
    # stores): synchronize() then refuses one at once (issue 10 item 9).
    _sync_owner_required: ClassVar[bool] = False
    sync_primary_keys: ClassVar[PrimaryKeys]
    _sync_properties: ClassVar[dict[str, SyncProperty]]

    _sync_owner = sync_property()

    @property
    def sync_registry(self) -> SyncRegistry | None:
        """The registry of this object's class."""
        return _resolve_registry(type(self))

    @property
    def sync_is_local(self) -> bool:
        """True when we own the object: no owner, or an owner not learned from a peer.

        Objects owned by EphemeralUnflooded are never local (quirk 34 fixed).
        """
        owner = self.sync_owner
        if owner is EphemeralUnflooded:
            return False
        return owner is None or owner.dest_hash is None

    def to_sync(self, attributes: Iterable[str] | None = None) -> dict[str, Any]:
        """Return the encoded sync properties of this object (§8.6).

        Args:
            attributes: restrict to these names (``_sync_owner`` is always included);
                None or empty means every property.

        Returns:
            A dict of JSON-serialisable values; absent attributes are omitted.

        Raises:
            ValueError: if a value cannot be encoded (names property and class).
        """
        if not attributes:
            encode = type(self).__dict__.get("_sync_encode_plan")
            if encode is None:
                encode = encoder_of(type(self))
            try:
                fast = encode(self)
            except Exception:
                fast = None  # the general loop omits what is absent, reports failures
            if fast is not None:
                return fast
        wanted = frozenset(attributes) if attributes else None
        result: dict[str, Any] = {}
        for name, prop in type(self)._sync_properties.items():
            if wanted is not None and name not in wanted and name != "_sync_owner":
                continue
            try:
                value = getattr(self, name)
            except AttributeError:
                continue
            try:
                result[prop.wire_name or name] = prop.encode(value)  # aliases
            except Exception as exc:
                owner = prop.declaring_class.__name__ if prop.declaring_class else "?"
                raise ValueError(
                    f"cannot encode sync property {name!r} of {owner}: {exc}"
                ) from exc
        return result

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Synchronizable:
        """Return a new instance to receive ``msg`` into.

        Properties declared with ``constructor=True`` are passed as keyword arguments,
        ``constructor=n`` as positional argument n (1-based); their keys are removed from
        ``msg``.

        Raises:
            SyncBadEncodingError: a constructor value cannot be decoded, positions have
                gaps, or the constructor rejects the arguments.
        """
        obj: Synchronizable = construct(cls, msg)
        return obj

    @classmethod
    def sync_should_listen(cls, msg: dict[str, Any], **info: Any) -> bool:
        """Return True to accept an incoming message for this class, else raise."""
        return True

    def sync_should_listen_constructed(self, msg: dict[str, Any], **info: Any) -> bool:
        """Return True to accept the message once the object is constructed, else raise."""
        return True

    def sync_receive_constructed(self, msg: dict[str, Any], **info: Any) -> None:
        """Fill this object from the non-underscore keys of ``msg``.

        Raises:
            SyncBadEncodingError: a key is not a sync property of the class, or its value
                cannot be decoded or assigned.
        """
        fill_from_message(self, msg)

    def sync_should_send(self, destination: Any = None, **info: Any) -> bool:
        """Return True if this object may be sent to ``destination``."""
        return True

    def sync_hash(self) -> int:
        """Hash of the primary keys; equal for any two sync_compatible objects."""
        keys = _key_values(self)
        if keys is None:
            return id(self)
        return hash((type(self), keys))

    def sync_compatible(self, other: object) -> bool:
        """True if ``other`` is the same logical object (same class, equal keys)."""
        if other is self:
            return True
        if type(other) is not type(self):
            return False
        assert isinstance(other, Synchronizable)
        mine = _key_values(self)
        return mine is not None and mine == _key_values(other)

    @classmethod
    def sync_receive(cls, msg: dict[str, Any], **info: Any) -> Synchronizable:
        """Convenience: construct, check and fill an object from ``msg``.

        The manager never calls this; do not override it (synchronize refuses classes
        that do, see :func:`overrides_sync_receive`).
        """
        obj = cls.sync_construct(msg, **info)
        obj.sync_should_listen_constructed(msg, **info)
        obj.sync_receive_constructed(msg, **info)
        return obj


def payload_encoder(cls: type) -> Callable[[Any], dict[str, Any] | None] | None:
    """What ``obj.to_sync()`` runs for objects of ``cls``, as a send plan keeps it:
    the class's codec plan when ``to_sync`` is the base method, else None.

    The encode function builds a new dict on every call (the sender needs no copy)
    and gives None, or raises, for what it leaves to ``to_sync``'s general loop.
    """
    if not keeps(cls, Synchronizable, "to_sync"):
        return None
    return encoder_of(cls)


def _primary_keys_unset(cls: type) -> PrimaryKeys:
    raise NotImplementedError(
        f"{cls.__name__} does not set sync_primary_keys (a tuple of names, or Unique)"
    )


class _UnsetPrimaryKeys:
    # Raises on *read*, so that forgetting to declare keys is loud (§8.2).
    def __get__(self, obj: object, owner: type | None = None) -> PrimaryKeys:
        return _primary_keys_unset(owner if owner is not None else type(obj))


type.__setattr__(Synchronizable, "sync_primary_keys", _UnsetPrimaryKeys())


def overrides_sync_receive(cls: type) -> bool:
    """Return True if ``cls`` overrides the ``sync_receive`` convenience (refused by
    ``synchronize``)."""
    attr = inspect.getattr_static(cls, "sync_receive", None)
    return attr is not vars(Synchronizable)["sync_receive"]


def _key_values(obj: Synchronizable) -> tuple[Any, ...] | None:
    keys = type(obj).sync_primary_keys
    if type(keys) is not tuple and keys == Unique:
        return None
    try:
        if len(keys) == 1:  # the common case, called for every object queued
            return (getattr(obj, keys[0]),)
        return tuple([getattr(obj, k) for k in keys])
    except AttributeError:
        return None
