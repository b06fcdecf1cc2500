"""Sync-property declarations: ``sync_property`` and ``no_sync_property`` (§8.1).

A :class:`SyncProperty` records how one attribute is synchronised: its wire name (the
attribute name), an optional wrapped object left in the class (Python property, SQLAlchemy
column, default value), the codec, and whether it is a constructor argument.  The metaclass
in :mod:`entanglement._model` collects them; this module only holds the declarations and
the encode/decode logic of one property.

Codec resolution, in order: explicit ``encoder=``/``decoder=`` (or the ``@prop.encoder`` /
``@prop.decoder`` decorators); else the type map entry for ``type=``; else the type map
entry for the class annotation.  Annotations are resolved lazily, at the first encode or
decode, so that they may name classes defined later in the module; string annotations are
evaluated in the module globals plus the class namespace.  ``Optional[T]``, ``T | None``,
``Annotated[T, ...]`` and SQLAlchemy's ``Mapped[T]`` are unwrapped to ``T``.  An annotation
that cannot be evaluated, or names an unregistered type, means "no codec" (values travel
as they are, or through their ``sync_encode_value()`` method).

Renamed properties (``aliases=("old_name",)``, what the generator emits for
``renamed_from``): while aliases exist the property is *sent* under its first alias (the
wire name old peers know) and *received* under its name or any alias.  Every alias is
also an attribute of the declaring class (:class:`AliasAttribute`) forwarding to the
property, so filling through ``setattr`` needs nothing else; the codec plans
(:mod:`entanglement._codecplan`) map the names.  Aliases of primary-key properties
are not supported (a key rename is a new identity).

Typing contract (docs/architecture.md): under ``TYPE_CHECKING`` ``sync_property`` and
``no_sync_property`` are factories returning ``Any`` so that ``x: int = sync_property()``
type-checks; at runtime they are the classes below (``isinstance`` and decorators work).
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from .types import Codec, Decoder, Encoder, default_encoder, lookup_codec

__all__ = [
    "NOTHING",
    "NO_CODEC",
    "AliasAttribute",
    "NoSyncProperty",
    "SyncProperty",
    "no_sync_property",
    "sync_property",
    "unwrap_annotation",
]


class _Nothing:
    """Marker for "nothing wrapped" (None is a legitimate wrapped default value)."""

    _instance: _Nothing | None = None

    def __new__(cls) -> _Nothing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTHING"

    def __bool__(self) -> bool:
        return False


NOTHING: Final = _Nothing()

# Resolved-but-absent codec, to cache "no codec" distinctly from "not resolved yet".
NO_CODEC: Final = Codec(default_encoder, lambda value: value)


class SyncProperty:
    """A synchronised attribute of a Synchronizable class (see ``sync_property``)."""

    def __init__(
        self,
        wraps: Any = NOTHING,
        doc: str | None = None,
        *,
        encoder: Encoder | None = None,
        decoder: Decoder | None = None,
        constructor: bool | int = False,
        type: Any = None,
        aliases: Iterable[str] = (),
    ) -> None:
        if not isinstance(constructor, bool) and (
            not isinstance(constructor, int) or constructor < 1
        ):
            raise ValueError(
                f"constructor must be True, False or a position >= 1, got {constructor!r}"
            )
        self.wraps = wraps
        self.doc = doc
        self.encoderfn = encoder
        self.decoderfn = decoder
        self.constructor: bool | int = constructor
        self.type = type
        self.aliases: tuple[str, ...] = _check_aliases(aliases)
        self.name: str | None = None
        # The name on the wire: the first alias while aliases exist (old peers know
        # only that one), else the attribute name; set by bind().
        self.wire_name: str | None = None
        self.declaring_class: type | None = None
        self.annotation: Any = None
        self._codec: Codec | None = None

    def __repr__(self) -> str:
        owner = self.declaring_class.__name__ if self.declaring_class else "?"
        return f"<sync_property {owner}.{self.name}>"

    def encoder(self, encoderfn: Encoder) -> SyncProperty:
        """Decorator: use ``encoderfn(value)`` to produce the value put on the wire."""
        self.encoderfn = encoderfn
        return self

    def decoder(self, decoderfn: Decoder) -> SyncProperty:
        """Decorator: use ``decoderfn(json_value)``; a None result is not assigned."""
        self.decoderfn = decoderfn
        return self

    def bind(self, name: str, owner: type, annotation: Any = None) -> None:
        """Record the attribute name, declaring class and raw annotation (metaclass use)."""
        self.name = name
        self.wire_name = self.aliases[0] if self.aliases else name
        self.declaring_class = owner
        self.annotation = annotation
        self._codec = None
        for alias in self.aliases:
            _install_alias(owner, alias, name)

    @property
    def codec(self) -> Codec:
        """The effective codec (explicit functions, else the type map, else identity)."""
        if self._codec is None:
            self._codec = self._resolve_codec()
        return self._codec

    # encode/decode read the cached codec directly: they run once per property per
    # object sent or received, and the ``codec`` property call doubled their cost.

    def encode(self, value: Any) -> Any:
        """Return the wire form of ``value`` (None stays None)."""
        if value is None:
            return None
        codec = self._codec
        if codec is None:
            codec = self.codec
        return codec.encoder(value)

    def decode(self, value: Any) -> Any:
        """Return the Python value for a JSON value (null stays None)."""
        if value is None:
            return None
        codec = self._codec
        if codec is None:
            codec = self.codec
        return codec.decoder(value)

    def declared_type(self) -> Any:
        """The evaluated annotation (None if absent or unresolvable), not unwrapped."""
        return self._evaluate_annotation() if self.annotation is not None else None

    def _resolve_codec(self) -> Codec:
        mapped = lookup_codec(self.type) if self.type is not None else None
        if mapped is None and self.type is None and self.annotation is not None:
            mapped = lookup_codec(unwrap_annotation(self._evaluate_annotation()))
        if mapped is None:
            mapped = NO_CODEC
        return Codec(self.encoderfn or mapped.encoder, self.decoderfn or mapped.decoder)

    def _evaluate_annotation(self) -> Any:
        annotation = self.annotation
        if not isinstance(annotation, str):
            return annotation
        owner = self.declaring_class
        module = sys.modules.get(owner.__module__) if owner is not None else None
        namespace = dict(vars(module)) if module is not None else {}
        if owner is not None:
            namespace.update(vars(owner))
        try:
            return eval(annotation, namespace)
        except Exception:
            # A forward reference that never resolves, or a TYPE_CHECKING-only import:
            # the property simply has no codec from its annotation.
            return None


class AliasAttribute:
    """The old name of a renamed sync property: reads and writes go to the new one.

    Installed on the declaring class for every alias, so that a message carrying the
    old name fills the property through the object model's ordinary ``setattr``.
    """

    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        self.target = target

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj, self.target)

    def __set__(self, obj: object, value: Any) -> None:
        setattr(obj, self.target, value)

    def __repr__(self) -> str:
        return f"<alias of {self.target!r}>"


def _check_aliases(aliases: Iterable[str]) -> tuple[str, ...]:
    if isinstance(aliases, str):
        raise TypeError(f"aliases must be a tuple of names, got the string {aliases!r}")
    names = tuple(aliases)
    for alias in names:
        if not isinstance(alias, str) or not alias or alias[:1] == "_":
            raise ValueError(
                f"an alias must be a non-empty name not starting with '_', got {alias!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"aliases repeat a name: {names!r}")
    return names


def _install_alias(owner: type, alias: str, target: str) -> None:
    if alias == target:
        raise ValueError(f"{owner.__name__}.{target}: an alias equals the name")
    current = owner.__dict__.get(alias)
    if current is not None and not (
        isinstance(current, AliasAttribute) and current.target == target
    ):
        raise TypeError(
            f"{owner.__name__}.{target}: alias {alias!r} is already an attribute of"
            " the class"
        )
    # type.__setattr__: SQLAlchemy's declarative classes intercept setattr
    type.__setattr__(owner, alias, AliasAttribute(target))


class NoSyncProperty:
    """Marks an attribute as *not* synchronised; hides an inherited sync_property."""

    def __init__(self, wraps: Any = NOTHING) -> None:
        self.wraps = wraps

    def __repr__(self) -> str:
        return f"no_sync_property({self.wraps!r})"


def unwrap_annotation(annotation: Any) -> Any:
    """``T`` of ``Optional[T]``, ``T | None``, ``Annotated[T, ...]``, ``Mapped[T]``; else
    the annotation itself, or None for any other generic."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        return unwrap_annotation(args[0]) if len(args) == 1 else None
    if origin is typing.Annotated:
        return unwrap_annotation(args[0])
    if getattr(origin, "__name__", None) == "Mapped" and args:
        return unwrap_annotation(args[0])
    return None


if TYPE_CHECKING:

    def sync_property(
        wraps: Any = NOTHING,
        doc: str | None = None,
        *,
        encoder: Callable[[Any], Any] | None = None,
        decoder: Callable[[Any], Any] | None = None,
        constructor: bool | int = False,
        type: Any = None,
        aliases: Iterable[str] = (),
    ) -> Any:
        """Declare a synchronised attribute (typed as ``Any`` for mypy)."""
        return SyncProperty(
            wraps,
            doc,
            encoder=encoder,
            decoder=decoder,
            constructor=constructor,
            type=type,
            aliases=aliases,
        )

    def no_sync_property(wraps: Any = NOTHING) -> Any:
        """Declare an attribute that is not synchronised (typed as ``Any`` for mypy)."""
        return NoSyncProperty(wraps)

else:
    sync_property = SyncProperty
    no_sync_property = NoSyncProperty
