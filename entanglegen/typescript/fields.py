"""Properties in the TypeScript IR: types, codecs, defaults of one sync property.

See :mod:`entanglegen.typescript.model` for the choices (types, custom encoders,
defaults); this module applies them to one property.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..diagnostics import Diagnostics
from ..resolve_keys import COMPOSITE, part_columns
from ..spec import MISSING, EnumSpec, PropertySpec, RegistrySpec, TypeSpec

__all__ = ["RUNTIME_MEMBERS", "TRANSITION_FIELD", "FieldTS", "field_ts"]

RUNTIME_MEMBERS = frozenset(
    {"_sync_owner", "extra", "syncClass", "toSync", "syncKey", "constructor"}
)
SCALARS = {
    "str": ("string", "codecs.str"),
    "uuid": ("string", "codecs.uuid"),
    "date": ("string", "codecs.date"),
    "int": ("number", "codecs.int"),
    "float": ("number", "codecs.float"),
    "bool": ("boolean", "codecs.bool"),
    "bytes": ("Uint8Array", "codecs.bytes"),
    "datetime": ("Date", "codecs.datetime"),
    "json": ("JsonValue", "codecs.json"),
}
SPECIAL = {
    ("uuid", "random"): "codecs.randomUuid()",
    ("datetime", "now"): "new Date()",
    ("date", "today"): "codecs.todayUtc()",
}


@dataclass(frozen=True, slots=True)
class FieldTS:
    name: str
    spec: str
    declaration: str
    init: str
    assign: str


# Types with ``transitions: true`` carry the id of a transition in progress (§15); it is
# absent, not null, outside one, and set by the client's ``transition()``.
TRANSITION_FIELD = FieldTS(
    name="transition_id",
    spec='field("transition_id", "transition_id", codecs.uuid, false)',
    declaration="transition_id?: string;",
    init="readonly transition_id?: string;",
    assign="if (init.transition_id !== undefined) this.transition_id = init.transition_id;",
)


def field_ts(
    t: TypeSpec,
    p: PropertySpec,
    project: list[RegistrySpec],
    enums: dict[str, EnumSpec],
    diags: Diagnostics,
) -> FieldTS:
    if p.name in RUNTIME_MEMBERS:
        diags.error(
            p.loc,
            f"property name {p.name!r} is a member of the TypeScript runtime's "
            "Synchronizable",
            p.key_path,
            "rename the property and keep the wire name with renamed_from",
        )
    if not _supported(p):
        diags.error(
            p.loc,
            f"the TypeScript target cannot express property {p.name!r} "
            f"of type {p.type.value!r} yet",
            p.key_path,
            "build the Python target only, or use a supported type",
        )
        ts_type, codec, scalar = "JsonValue", "codecs.json", "json"
    else:
        ts_type, codec, scalar = _type_and_codec(p, project, enums)
    wire = p.renamed_from.value if p.renamed_from is not None else p.name
    custom = p.encoder is not None or p.decoder is not None
    if custom:
        ts_type, codec = "JsonValue", "codecs.json"
    nullable = p.nullable and ts_type != "JsonValue"
    full_type = f"{ts_type} | null" if nullable else ts_type
    default = None if custom else _default(p, scalar, codec, t)
    if default is None and p.nullable and not custom:
        default = "null"
    optional = custom or default is not None
    mark = "?" if optional else ""
    if custom:
        assign = f"if (init.{p.name} !== undefined) this.{p.name} = init.{p.name};"
    elif default is not None:
        assign = (
            f"this.{p.name} = init.{p.name} !== undefined ? init.{p.name} : {default};"
        )
    else:
        assign = f"this.{p.name} = init.{p.name};"
    return FieldTS(
        name=p.name,
        spec=(
            f"field({json.dumps(p.name)}, {json.dumps(wire)}, {codec}, "
            f"{'true' if p.nullable else 'false'})"
        ),
        declaration=f"{p.name}{'?' if custom else ''}: {full_type};",
        init=f"readonly {p.name}{mark}: {full_type};",
        assign=assign,
    )


def _supported(p: PropertySpec) -> bool:
    res = p.resolved
    if res is None or res.kind == "enum":
        return res is not None
    if res.container:
        return res.item in SCALARS
    return res.scalar in SCALARS or res.scalar in ("decimal", COMPOSITE)


def _type_and_codec(
    p: PropertySpec, project: list[RegistrySpec], enums: dict[str, EnumSpec]
) -> tuple[str, str, str]:
    res = p.resolved
    assert res is not None, "resolve_project sets every property's resolution"
    if res.kind == "enum":
        if res.target not in enums:
            other = next(s for s in project if s.registry.value == res.registry)
            found = other.enum_named(res.target)
            assert found is not None, "resolve_project checked the enum exists"
            enums[res.target] = found
        return res.target, f"{res.target}Codec", "enum"
    if res.container:
        item_type, item_codec = SCALARS[res.item]
        if res.container == "list":
            return f"{item_type}[]", f"codecs.listOf({item_codec})", "container"
        return (
            f"Record<string, {item_type}>",
            f"codecs.mapOf({item_codec})",
            "container",
        )
    if res.scalar == COMPOSITE:
        return _key_type_and_codec(p, project)
    if res.scalar == "decimal":
        precision = "null" if p.precision is None else str(p.precision)
        return "string", f"codecs.decimalOf({precision}, {p.scale or 0})", "decimal"
    ts_type, codec = SCALARS[res.scalar]
    return ts_type, codec, res.scalar


def _key_type_and_codec(
    p: PropertySpec, project: list[RegistrySpec]
) -> tuple[str, str, str]:
    """A reference to a composite-key type: a tuple of its key parts in key order
    (``[string, number]``), an array on the wire (see :mod:`entanglegen.resolve_keys`).
    """
    by_name = {r.registry.value: r for r in project}
    parts = part_columns(by_name, p)
    types = ", ".join(SCALARS[part.scalar][0] for part in parts)
    names = ", ".join(json.dumps(part.name) for part in parts)
    codecs = ", ".join(SCALARS[part.scalar][1] for part in parts)
    return f"[{types}]", f"codecs.keyOf([{names}], [{codecs}])", COMPOSITE


def _default(p: PropertySpec, scalar: str, codec: str, t: TypeSpec) -> str | None:
    value = p.default
    if value is MISSING or value is None:
        return None
    special = SPECIAL.get((scalar, str(value)))
    if special is not None:
        return special
    if scalar in ("datetime", "bytes"):
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return (
            f"{codec}.decode({json.dumps(text)}, {json.dumps(t.name + '.' + p.name)})"
        )
    if scalar == "date" and hasattr(value, "isoformat"):
        return json.dumps(value.isoformat())
    if scalar == "decimal":
        return json.dumps(str(value))
    return json.dumps(value, ensure_ascii=False)
