"""Stage 3 (continued): the IR of types and properties, for both storages.

Decides, per property, the Python annotation, the declaration (``sync_property(...)`` or
``mapped_column(...)``), the codec, the ``__init__`` parameter and assignment.

Choices:

* codecs are explicit wherever the runtime's type map would not pick the right one by
  itself (memory uuid/datetime/bytes, every date and enum, custom encoder/decoder); the
  wire form of an enum is its *value* as written in the schema;
* a reference is stored as the referenced object's key; inside one SQL registry it is a
  ``ForeignKey``; across registries (each has its own metadata) or in memory it is the bare
  key; a key of several parts is a generated key tuple (:mod:`entanglegen.ir_refkeys`,
  SQL columns in :mod:`entanglegen.ir_refkeys_sql`);
* defaults ``random`` (uuid), ``now`` (datetime), ``today`` (date) and list/dict JSON values
  are computed per object: in ``__init__`` a parameter of None means "make one";
* a memory property without default is a required ``__init__`` argument and is passed to
  the constructor on receive (``constructor=True``); keys always are;
* SQL parents of joined-table inheritance get a discriminator column ``sync_kind`` that is
  never synchronised (the receiver's class already says what it is);
* a synchronised property with ``renamed_from`` gets ``aliases=("old",)`` on its
  ``sync_property`` (a plain SQL ``mapped_column`` is wrapped in one): the runtime sends
  it under the old wire name and accepts either (docs/schema.md, "Evolving a schema").
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, replace

from . import naming
from .ir import Imports, TypeIR
from .ir_refkeys import key_imports, key_shape
from .literals import docstring, py_literal
from .resolve import ancestry, effective_properties, primary_key
from .resolve_keys import COMPOSITE
from .spec import MISSING, PropertySpec, RegistrySpec, Resolved, TypeSpec

__all__ = ["Default", "build_types", "table_name"]

_PY = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "bytes": "bytes",
    "uuid": "uuid.UUID",
    "datetime": "datetime.datetime",
    "date": "datetime.date",
    "json": "Any",
}
_SA = {
    "str": "sa.String",
    "int": "sa.Integer",
    "float": "sa.Float",
    "bool": "sa.Boolean",
    "bytes": "sa.LargeBinary",
    "uuid": "GUID",
    "datetime": "sa.DateTime(timezone=True)",
    "date": "sa.Date",
    "json": "sa.JSON",
}
_RUNTIME_CODECS = {"uuid": "uuid", "datetime": "datetime", "bytes": "binary"}
_FACTORIES = {
    "random": "uuid.uuid4",
    "now": "_support.utcnow",
    "today": "_support.today",
}
# Module-level names generated code may use, and the import that provides each.
_MODULE_IMPORTS = {
    "uuid": "import uuid",
    "datetime": "import datetime",
    "Any": "from typing import Any",
    "sa": "import sqlalchemy as sa",
    "GUID": "from entanglement.sql.types import GUID",
    "_support": "from entanglement import generated_support as _support",
    "copy": "import copy",
    "decimal": "import decimal",
    "_exact": "from entanglement import exact as _exact",
    # the layered path: entanglement.sql.exact went with the re-layout (7286aa3)
    "_sql_exact": "from entanglement.sql import exact as _sql_exact",
    "MutableList": "from sqlalchemy.ext.mutable import MutableList",
    "MutableDict": "from sqlalchemy.ext.mutable import MutableDict",
    "Mapped": "from sqlalchemy.orm import Mapped",
    "mapped_column": "from sqlalchemy.orm import mapped_column",
    "relationship": "from sqlalchemy.orm import relationship",
    "TYPE_CHECKING": "from typing import TYPE_CHECKING",
}


def free_names(code: str) -> set[str]:
    """Free names in an expression (not attributes, not inside string literals)."""
    names: set[str] = set()
    previous = ""
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NAME and previous != ".":
            names.add(tok.string)
        previous = tok.string
    return names


_SPECIAL = ("uuid", "datetime", "date")


@dataclass(frozen=True, slots=True)
class Default:
    """A default: a literal, or a factory (callable for SQL, call for ``__init__``).

    Callers pass what they print through :meth:`TypeBuilder.use` (imports).
    """

    literal: str
    factory: str = ""
    call: str = ""


@dataclass(frozen=True, slots=True)
class Kind:
    """The resolved type of one property, ready for printing."""

    py: str
    sa: str
    encoder: str = ""
    decoder: str = ""
    foreign_key: str = ""


class TypeBuilder:
    def __init__(
        self,
        reg: RegistrySpec,
        project: Iterable[RegistrySpec],
        imports: Imports,
        modules: dict[str, str],
        parent_names: frozenset[str] | None = None,
    ):
        self.reg, self.imports, self.modules = reg, imports, modules
        self.is_sql = reg.storage == "sql"
        self.by_name = {r.registry.value: r for r in project}
        # Names of the registry's types that have children; build_types works it out
        # once per registry (asking every type about every type was quadratic).
        self.parent_names = (
            parent_names if parent_names is not None else parents_of(reg)
        )
        self.links: dict[str, list[tuple[str, str]]] = {}
        """Target type name -> (attribute, other type) of each many_to_many list."""
        self.backs: dict[str, list[tuple[TypeSpec, PropertySpec]]] = {}
        """Target type name -> (referrer, property) of each ``back`` naming it."""
        self.checking: set[str] = set()
        """Imports the annotations need only (``if TYPE_CHECKING:``)."""

    def use(self, code: str) -> str:
        for name in free_names(code) & _MODULE_IMPORTS.keys():
            self.imports.add(_MODULE_IMPORTS[name])
        return code

    # -- kinds --------------------------------------------------------------------

    def kind(self, prop: PropertySpec) -> Kind:
        res = prop.resolved
        assert res is not None
        if res.kind == "enum":
            kind = self.enum_kind(res)
        elif res.kind == "ref":
            kind = self.ref_kind(res)
        elif res.container:
            kind = self.container_kind(res)
        elif res.scalar == "decimal":
            kind = self.decimal_kind(prop)
        else:
            kind = self.scalar_kind(res.scalar, prop.length)
        encoder = self.hook(prop.encoder.value) if prop.encoder else kind.encoder
        decoder = self.hook(prop.decoder.value) if prop.decoder else kind.decoder
        return Kind(kind.py, kind.sa, encoder, decoder, kind.foreign_key)

    def hook(self, dotted: str) -> str:
        return self.imports.hook(dotted)

    def checked_sibling(self, type_name: str, spec: TypeSpec) -> str:
        """A class of this registry for annotations: imported only for type checking
        (two types naming each other would import each other)."""
        cls = naming.class_name(type_name)
        if type_name != spec.name:
            self.checking.add(f"from .{self.modules[type_name]} import {cls}")
            self.imports.add("from typing import TYPE_CHECKING")
        return cls

    def sibling(self, type_name: str) -> str:
        """The class of another type of this registry, imported from its module."""
        cls = naming.class_name(type_name)
        self.imports.add(f"from .{self.modules[type_name]} import {cls}")
        return cls

    def scalar_kind(self, scalar: str, length: int | None) -> Kind:
        sa_type = _SA[scalar] + (f"({length})" if length else "")
        encoder = decoder = ""
        if scalar == "date":
            encoder, decoder = "_support.date_encoder", "_support.date_decoder"
        elif scalar in _RUNTIME_CODECS and not (self.is_sql and scalar != "bytes"):
            codec = _RUNTIME_CODECS[scalar]
            encoder, decoder = f"{codec}_encoder", f"{codec}_decoder"
            self.imports.add(f"from entanglement.types import {encoder}, {decoder}")
        return Kind(_PY[scalar], sa_type, encoder, decoder)

    def container_kind(self, res: Resolved) -> Kind:
        """``list[T]`` / ``dict[str, T]`` stored as JSON; each received item is checked.

        SQL: ``MutableList``/``MutableDict`` over ``JSON``, so ``row.tags.append(x)``
        marks the row changed, as assigning a new list does.
        """
        is_list = res.container == "list"
        py = f"list[{res.item}]" if is_list else f"dict[str, {res.item}]"
        mutable = "MutableList" if is_list else "MutableDict"
        decoder = (
            f"_exact.{'list' if is_list else 'map'}_decoder({py_literal(res.item)})"
        )
        return Kind(py, f"{mutable}.as_mutable(sa.JSON())", "", decoder)

    def decimal_kind(self, prop: PropertySpec) -> Kind:
        digits = f"{prop.precision}, {prop.scale or 0}"
        return Kind(
            "decimal.Decimal",
            f"_sql_exact.ExactDecimal({digits})",
            "_exact.decimal_encoder",
            f"_exact.decimal_decoder({digits})",
        )

    def enum_kind(self, res: Resolved) -> Kind:
        cls = naming.class_name(res.target)
        if res.registry == self.reg.registry.value:
            self.imports.add(f"from ._enums import {cls}")
        else:
            # Straight from the enums module: importing the other package's models would
            # import all its types, and could cycle back to this package.
            other = self.by_name[res.registry]
            alias = f"_{other.package.value}_{cls}"
            self.imports.add(
                f"from {other.package.value}.models._enums import {cls} as {alias}"
            )
            cls = alias
        enum = self.by_name[res.registry].enum_named(res.target)
        length = max(len(v) for v in enum.values) if enum else 1
        sa_type = (
            f"sa.Enum({cls}, native_enum=False, length={length}, "
            "values_callable=_support.enum_values)"
        )
        return Kind(
            cls, sa_type, "_support.enum_encoder", f"_support.enum_decoder({cls})"
        )

    def ref_kind(self, res: Resolved) -> Kind:
        if res.scalar == COMPOSITE:
            return self.composite_kind(res)
        other = self.by_name[res.registry]
        target = other.type_named(res.target)
        assert target is not None
        root = primary_key(other, target)
        assert root.primary_key is not None
        key = root.primary_key[0].value
        key_prop = next(p for p in effective_properties(other, target) if p.name == key)
        kind = self.scalar_kind(res.scalar, key_prop.length)
        if self.is_sql and other is self.reg:
            column = f"{table_name(target)}.{naming.attribute_name(key)}"
            return Kind(
                kind.py, kind.sa, kind.encoder, kind.decoder, py_literal(column)
            )
        return kind

    def composite_kind(self, res: Resolved) -> Kind:
        """A reference to a composite-key type (:mod:`entanglegen.ir_refkeys`)."""
        cls, encoder, decoder = key_imports(self.imports, self.reg, self.by_name, res)
        return Kind(cls, "", encoder, decoder)

    # -- properties -----------------------------------------------------------------

    def aliases(self, prop: PropertySpec) -> str:
        """``aliases=("old",)`` for a property with ``renamed_from`` (the runtime sends
        the first alias and receives every name), else an empty string."""
        if prop.renamed_from is None or not prop.sync:
            return ""
        old = naming.attribute_name(prop.renamed_from.value)
        return f"aliases=({py_literal(old)},)"

    def prop_doc(self, prop: PropertySpec) -> str:
        res = prop.resolved
        text = prop.doc
        if res is not None and res.kind == "ref":
            where = (
                f" in registry {res.registry}"
                if res.registry != self.reg.registry.value
                else ""
            )
            text = (
                (text + "\n\n" if text else "")
                + f"Key of the referenced {res.target}{where}{key_shape(self.by_name, prop)}."
            )
        return docstring(text) if text else ""

    def default(self, prop: PropertySpec, kind: Kind) -> Default:
        value = prop.default
        if value is MISSING:
            return Default("None" if prop.nullable else "")
        scalar = prop.resolved.scalar if prop.resolved else ""
        if isinstance(value, str) and value in _FACTORIES and scalar in _SPECIAL:
            factory = _FACTORIES[value]
            return Default("", factory, f"{factory}()")
        if (
            prop.resolved is not None
            and prop.resolved.kind == "enum"
            and value is not None
        ):
            return Default(f"{kind.py}.{naming.member_name(str(value))}")
        if scalar == "decimal" and value is not None:
            return Default(f"decimal.Decimal({py_literal(str(value))})")
        if isinstance(value, list | dict):
            literal = py_literal(value)
            return Default(
                "", f"_support.fresh({literal})", f"copy.deepcopy({literal})"
            )
        return Default(py_literal(value))


def table_name(spec: TypeSpec) -> str:
    return spec.table.value if spec.table else naming.snake_case(spec.name)


def parents_of(reg: RegistrySpec) -> frozenset[str]:
    """Names of the types of ``reg`` that other types derive from."""
    return frozenset(t.parent.value for t in reg.types if t.parent is not None)


def build_types(reg: RegistrySpec, project: list[RegistrySpec]) -> tuple[TypeIR, ...]:
    """The IR of every type of ``reg`` (one module each), parents before children."""
    from .ir_memory import memory_type
    from .ir_sql import sql_type

    ordered: list[TypeSpec] = []
    seen: set[int] = (
        set()
    )  # by identity: comparing dataclasses over a list is quadratic
    for spec in reg.types:
        for ancestor in reversed(ancestry(reg, spec)):
            if id(ancestor) not in seen:
                seen.add(id(ancestor))
                ordered.append(ancestor)
    modules = module_names(reg)
    make = sql_type if reg.storage == "sql" else memory_type
    parents = parents_of(reg)
    backs, links = backs_of(reg), links_of(reg)
    result = []
    for spec in ordered:
        builder = TypeBuilder(reg, project, Imports(), modules, parents)
        builder.backs, builder.links = backs, links
        made = make(builder, spec)
        pragmas: tuple[str, ...] = ()
        if any(a.name == "__mapper_args__" for a in made.class_attrs):
            # ruff's RUF012 wants ClassVar on mutable class attributes, but SQLAlchemy
            # declares __mapper_args__ as an instance attribute (mypy rejects ClassVar).
            pragmas = ("# ruff: noqa: RUF012",)
        result.append(
            replace(
                made,
                module=modules[spec.name],
                imports=builder.imports.block(),
                pragmas=pragmas,
                module_doc=docstring(f"The {spec.name} type.", 0),
                checking_imports=tuple(sorted(builder.checking)),
            )
        )
    return tuple(result)


def backs_of(reg: RegistrySpec) -> dict[str, list[tuple[TypeSpec, PropertySpec]]]:
    """Target type -> the references of ``reg`` with a ``back`` naming it (one pass)."""
    found: dict[str, list[tuple[TypeSpec, PropertySpec]]] = {}
    for spec in reg.types:
        for prop in spec.properties:
            if prop.navigate and prop.back and prop.resolved and prop.resolved.target:
                found.setdefault(prop.resolved.target, []).append((spec, prop))
    return found


def links_of(reg: RegistrySpec) -> dict[str, list[tuple[str, str]]]:
    """Target type -> (attribute, other type) of the many_to_many lists it gets."""
    found: dict[str, list[tuple[str, str]]] = {}
    for spec in reg.types:
        targets = {
            p.name: p.resolved.target
            for p in spec.properties
            if p.name in spec.many_to_many and p.resolved is not None
        }
        if len(targets) != 2:
            continue
        (a, ta), (b, tb) = targets.items()
        found.setdefault(ta, []).append((spec.many_to_many[a].value, tb))
        found.setdefault(tb, []).append((spec.many_to_many[b].value, ta))
    return found


def module_names(reg: RegistrySpec) -> dict[str, str]:
    """Type name → module name in the ``models`` package (unique, never a keyword)."""
    taken: set[str] = {"_base", "_enums"}
    names: dict[str, str] = {}
    for spec in reg.types:
        base = naming.attribute_name(naming.snake_case(naming.class_name(spec.name)))
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[spec.name] = name
    return names
