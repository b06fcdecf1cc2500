"""Stage 3 (continued): references to types whose key has several parts (issue 13).

A reference to ``Seat`` (keyed by ``hall`` and ``number``) holds a ``SeatKey``: a
``NamedTuple`` generated in the target package's ``models/_keys.py`` with the codec pair
``encode_seat_key``/``decode_seat_key`` built on :mod:`entanglement.refkeys`.  The wire
form is a JSON array of the parts in key order (``["B", 12]``), each part in the wire
form of the target's own messages.

* memory: the property is a ``sync_property`` holding the tuple, which is also the key
  the target's store uses;
* SQL: one column per part, named ``<property>_<part>`` (``seat_hall``, ``seat_number``,
  never synchronised themselves), a ``composite()`` over them that is the synchronised
  property (``Mapped[SeatKey]``; None when a part is NULL), and inside one registry a
  named ``ForeignKeyConstraint`` (``fk_<table>_<property>``) over the columns.

Choice: the key classes are generated only for types that a composite reference names
(a package gains ``_keys.py`` only then), so packages without such references are
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import naming
from .ir import ClassAttrIR, Imports
from .literals import docstring, py_literal
from .resolve_keys import COMPOSITE, is_composite, key_names, part_columns, target_parts
from .spec import PropertySpec, RegistrySpec, Resolved, TypeSpec

__all__ = ["KeyIR", "key_classes", "key_imports", "key_shape", "keys_imports"]

_PY = {"str": "str", "int": "int", "uuid": "uuid.UUID"}


@dataclass(frozen=True, slots=True)
class KeyIR:
    """One generated key class and its codec pair (``models/_keys.py``)."""

    class_name: str
    docstring: str
    fields: tuple[ClassAttrIR, ...]
    values_annotation: str
    values_code: str
    encoder_name: str
    encoder_code: str
    decoder_name: str
    decoder_code: str
    composite: bool
    """SQL: the class also speaks SQLAlchemy's composite protocol."""


def composite_targets(project: Iterable[RegistrySpec], registry: str) -> list[str]:
    """Types of ``registry`` that a composite reference of the project names."""
    found: list[str] = []
    for reg in project:
        for spec in reg.types:
            for prop in spec.properties:
                res: Resolved | None = prop.resolved
                if (
                    res is not None
                    and res.kind == "ref"
                    and res.scalar == COMPOSITE
                    and res.registry == registry
                    and res.target not in found
                ):
                    found.append(res.target)
    return found


def key_classes(reg: RegistrySpec, project: list[RegistrySpec]) -> tuple[KeyIR, ...]:
    """The key classes ``reg``'s package generates, in schema order of the targets."""
    wanted = set(composite_targets(project, reg.registry.value))
    return tuple(_key_class(reg, spec) for spec in reg.types if spec.name in wanted)


def _key_class(reg: RegistrySpec, spec: TypeSpec) -> KeyIR:
    cls, encoder, decoder = key_names(spec.name)
    parts = target_parts(reg, spec)
    attrs = [naming.attribute_name(p.name) for p in parts]
    types = [_PY[p.type.value] for p in parts]
    encoders = ", ".join(
        "uuid_encoder" if p.type.value == "uuid" else "None" for p in parts
    )
    decoders = ", ".join(_part_decoder(p) for p in parts)
    names = f"({', '.join(py_literal(a) for a in attrs)})"  # two or more: a tuple
    doc = (
        f"The key of a {spec.name} ({', '.join(attrs)}): what a reference to one "
        "holds. Wire form: a JSON array of the parts in this order."
    )
    return KeyIR(
        class_name=cls,
        docstring=docstring(doc),
        fields=tuple(ClassAttrIR(a, t) for a, t in zip(attrs, types, strict=True)),
        values_annotation=f"tuple[{', '.join(types)}]",
        values_code=f"({', '.join(f'self.{a}' for a in attrs)})",
        encoder_name=encoder,
        encoder_code=f"_refkeys.key_encoder({encoders})",
        decoder_name=decoder,
        decoder_code=f"_refkeys.key_decoder({cls}, {names}, {decoders})",
        composite=reg.storage == "sql",
    )


def _part_decoder(prop: PropertySpec) -> str:
    scalar = prop.type.value
    if scalar == "str":
        return f"_refkeys.str_part({prop.length if prop.length else ''})"
    return f"_refkeys.{scalar}_part"


def keys_imports(keys: tuple[KeyIR, ...]) -> set[str]:
    """The imports of ``models/_keys.py``."""
    lines = {
        "from __future__ import annotations",
        "from typing import NamedTuple",
        "from entanglement import refkeys as _refkeys",
    }
    for key in keys:
        if "uuid_encoder" in key.encoder_code:
            lines |= {"import uuid", "from entanglement.types import uuid_encoder"}
    return lines


def key_imports(
    imports: Imports,
    reg: RegistrySpec,
    by_name: dict[str, RegistrySpec],
    res: Resolved,
) -> tuple[str, str, str]:
    """The key class, encoder and decoder of composite reference ``res`` as a module
    of ``reg`` names them, with their imports added to ``imports``."""
    names = key_names(res.target)
    if res.registry == reg.registry.value:
        imports.add(f"from ._keys import {', '.join(names)}")
        return names
    # The other package's keys module, under one alias (importing its models would
    # import all its types, and could cycle back to this package).
    package = by_name[res.registry].package.value
    module = f"_{package}_keys"
    imports.add(f"from {package}.models import _keys as {module}")
    cls, encoder, decoder = (f"{module}.{name}" for name in names)
    return cls, encoder, decoder


def key_shape(by_name: dict[str, RegistrySpec], prop: PropertySpec) -> str:
    """`` (sent as one array in key order: [hall, number])`` for a composite
    reference (its docstring), else ''."""
    if not is_composite(prop):
        return ""
    parts = [p.name for p in part_columns(by_name, prop)]
    return f" (sent as one array in key order: [{', '.join(parts)}])"
