"""The validated schema, one step above the YAML: plain dataclasses with locations.

:mod:`entanglegen.schema` builds these from the located YAML tree after checking the shape
of every key; :mod:`entanglegen.resolve` then checks what needs the whole project
(references, parents, keys, defaults); :mod:`entanglegen.ir` turns them into the render IR.
Nothing after :mod:`entanglegen.schema` sees YAML nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Loc

SCALAR_TYPES = (
    "bool",
    "bytes",
    "date",
    "datetime",
    "decimal",
    "float",
    "int",
    "json",
    "str",
    "uuid",
)
CONTAINER_TYPES = ("list", "map")
"""Stored as JSON, typed in Python: ``list[T]`` and ``dict[str, T]`` of a scalar ``T``."""
ITEM_TYPES = ("str", "int", "float", "bool")
"""What a list or map holds: JSON's own scalars, which need no codec per item."""
BUILTIN_OPERATIONS = ("sync", "forward", "create", "delete")
# "filter" names a filter object (entanglement.filter.FilterPolicy), not a function
POLICY_HOOKS = ("should_send", "should_listen", "should_listen_constructed", "filter")
STORAGES = ("memory", "sql")
UNIQUE = "unique"
UNKNOWN_PROPERTIES = ("refuse", "store_rest")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class Located:
    """A scalar schema value and where it was written."""

    value: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a property's ``type`` names, once the whole project is known.

    ``kind`` is ``scalar`` (``scalar`` holds the name), ``enum`` (``target`` is the enum's
    name in ``registry``; inline enums use the generated name) or ``ref`` (``target`` is the
    referenced type in ``registry``; ``scalar`` is the scalar kind of its key).
    """

    kind: str
    scalar: str = ""
    registry: str = ""
    target: str = ""
    container: str = ""
    """``list`` or ``map`` (``scalar`` is then ``json``, the storage); else empty."""
    item: str = ""
    """The item type of a list or the value type of a map (one of ``ITEM_TYPES``)."""


@dataclass(slots=True)
class PropertySpec:
    name: str
    loc: Loc
    key_path: str
    type: Located
    values: tuple[str, ...] | None = None
    values_loc: Loc | None = None
    nullable: bool = False
    default: object = MISSING
    default_loc: Loc | None = None
    length: int | None = None
    length_loc: Loc | None = None
    doc: str = ""
    sync: bool = True
    sync_loc: Loc | None = None
    encoder: Located | None = None
    decoder: Located | None = None
    resolved: Resolved | None = None
    renamed_from: Located | None = None
    """The property's previous name: its wire name while set, and the column to rename."""
    unique: Located | None = None
    """sql: ``unique: true`` (a named single-column unique constraint); where written."""
    index: Located | None = None
    """sql: ``index: true`` (an index ``ix_<table>_<column>``); where written."""
    check: Located | None = None
    """sql: an SQL boolean expression, a named CHECK constraint of the table."""
    onupdate: Located | None = None
    """sql: ``now`` (datetime): set to the current time by every ORM update."""
    server_default: object = MISSING
    server_default_loc: Loc | None = None
    precision: int | None = None
    """decimal: total digits (required), 1 to 1000."""
    scale: int | None = None
    """decimal: digits after the point, 0 (the default) to ``precision``."""
    digits_loc: Loc | None = None
    """Where ``precision`` (else ``scale``) was written."""
    precision_written: bool = False
    of: Located | None = None
    """list/map: the item type (``of: str``)."""
    navigate: Located | None = None
    """sql reference: the attribute holding the referenced object (a relationship)."""
    back: Located | None = None
    """sql reference with ``navigate``: the attribute of the target listing referrers."""


@dataclass(slots=True)
class TypeSpec:
    name: str
    loc: Loc
    key_path: str
    storage: str
    sync_type: str
    table: Located | None = None
    primary_key: tuple[Located, ...] | None = None
    primary_key_loc: Loc | None = None
    unique: bool = False
    priority: int | None = None
    parent: Located | None = None
    doc: str = ""
    properties: list[PropertySpec] = field(default_factory=list)
    unknown_properties: str = "refuse"
    """What a received row naming unknown properties gets: ``refuse`` or ``store_rest``."""
    transitions: bool = False
    """The class carries the transition mixin (PROTOCOL.md §15) and its registry
    registers the ``transition`` operation."""
    renamed_from: Located | None = None
    """The type's previous name: its default sync_type while set, and the table to rename."""
    invalid_properties: set[str] = field(default_factory=set)
    """Names of properties that were declared but rejected (to avoid follow-on errors)."""
    indexes: list[IndexSpec] = field(default_factory=list)
    """sql: composite indexes (``indexes:``) and unique constraints (``unique:``)."""
    table_args: Located | None = None
    """sql: dotted path of ``fn() -> tuple`` whose items end ``__table_args__``."""
    on_receive: Located | None = None
    """Dotted path of ``fn(obj, **info)``, called after an object of this type (or of a
    child without its own) is received, for every operation but ``delete``."""
    on_delete: Located | None = None
    """Dotted path of ``fn(obj, **info)``, called after a received delete."""
    many_to_many: dict[str, Located] = field(default_factory=dict)
    """sql association type: reference property -> the attribute its target gets,
    listing the objects the *other* reference of each row names."""
    many_to_many_loc: Loc | None = None


@dataclass(slots=True)
class IndexSpec:
    """One entry of a type's ``indexes:`` (an index) or ``unique:`` (a constraint)."""

    properties: tuple[Located, ...]
    loc: Loc
    key_path: str
    unique: bool = False
    constraint: bool = False
    """True for an entry of ``unique:``: a UNIQUE constraint rather than an index."""
    name: Located | None = None


@dataclass(slots=True)
class EnumSpec:
    name: str
    loc: Loc
    key_path: str
    values: tuple[str, ...]
    doc: str = ""


@dataclass(slots=True)
class OperationSpec:
    name: str
    loc: Loc
    handler: Located | None = None
    doc: str = ""


@dataclass(slots=True)
class RegistrySpec:
    """One schema file: one registry."""

    path: str
    registry: Located
    package: Located
    storage: str
    doc: str = ""
    policy: dict[str, Located] = field(default_factory=dict)
    operations: list[OperationSpec] | None = None
    enums: list[EnumSpec] = field(default_factory=list)
    types: list[TypeSpec] = field(default_factory=list)

    def type_named(self, name: str) -> TypeSpec | None:
        return next((t for t in self.types if t.name == name), None)

    def enum_named(self, name: str) -> EnumSpec | None:
        return next((e for e in self.enums if e.name == name), None)
