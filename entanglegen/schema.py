"""Stage 2: check the shape of each schema file and build :mod:`entanglegen.spec` values.

The allowed and required keys of every section are read from the committed JSON Schema
(``entanglegen/schema.json``), so the documented language and the validator cannot drift
apart.  Value rules that JSON Schema cannot express well (identifier sanitising, reserved
names, per-storage options) live here.  Problems are accumulated, never raised: a section
with errors is still walked so that one run reports everything.
"""

from __future__ import annotations

import difflib
import json
import sys
from functools import cache
from importlib import resources
from typing import Any

from . import naming
from .diagnostics import Diagnostics, Loc
from .loader import YMap, YNode, YScalar, YSeq, plain
from .spec import (
    BUILTIN_OPERATIONS,
    POLICY_HOOKS,
    STORAGES,
    UNIQUE,
    EnumSpec,
    Located,
    OperationSpec,
    PropertySpec,
    RegistrySpec,
    TypeSpec,
)

__all__ = ["json_schema", "json_schema_text", "validate_file"]

_RESERVED_PACKAGES = frozenset({"entanglement", "entanglegen", "sqlalchemy", "yaml"})


def json_schema_text() -> str:
    """The committed JSON Schema of the language, as text."""
    return resources.files("entanglegen").joinpath("schema.json").read_text("utf-8")


@cache
def json_schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json_schema_text())
    return result


def _section(name: str) -> dict[str, Any]:
    root = json_schema()
    if name == "root":
        return root
    sec: dict[str, Any] = root["$defs"][name]
    # Sections that also accept a short form keep their mapping form in oneOf.
    for alt in sec.get("oneOf", ()):
        if alt.get("type") == "object":
            return dict(alt)
    return sec


def did_you_mean(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else ""


class _FileValidator:
    def __init__(self, path: str, diags: Diagnostics) -> None:
        self.path = path
        self.d = diags

    # -- generic shape checks -------------------------------------------------

    def mapping(self, node: YNode, key_path: str, what: str) -> YMap | None:
        if isinstance(node, YMap):
            return node
        self.d.error(node.loc, f"{what} must be a mapping", key_path)
        return None

    def keys(self, node: YMap, section: str, key_path: str, what: str) -> None:
        sec = _section(section)
        allowed = list(sec.get("properties", {}))
        for key, _ in node.items:
            name = str(key.value)
            if name not in allowed:
                hint = did_you_mean(name, allowed)
                self.d.error(
                    key.loc,
                    f"unknown key {name!r} in {what}",
                    _kp(key_path, name),
                    hint,
                )
        for name in sec.get("required", ()):
            if node.get(name) is None and name not in node.names():
                self.d.error(
                    node.loc, f"{what} is missing required key {name!r}", key_path
                )

    def string(self, node: YNode | None, key_path: str, what: str) -> Located | None:
        if node is None:
            return None
        if isinstance(node, YScalar) and isinstance(node.value, str):
            return Located(node.value, node.loc)
        self.d.error(node.loc, f"{what} must be a string", key_path)
        return None

    def boolean(self, node: YNode | None, key_path: str, what: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        self.d.error(node.loc, f"{what} must be true or false", key_path)
        return None

    def integer(
        self, node: YNode, key_path: str, what: str, lo: int, hi: int
    ) -> int | None:
        value = node.value if isinstance(node, YScalar) else None
        if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
            return value
        self.d.error(node.loc, f"{what} must be an integer from {lo} to {hi}", key_path)
        return None

    def strings(
        self, node: YNode, key_path: str, what: str
    ) -> tuple[Located, ...] | None:
        items = node.items if isinstance(node, YSeq) else None
        if items is None or not all(
            isinstance(i, YScalar) and isinstance(i.value, str) and i.value
            for i in items
        ):
            self.d.error(
                node.loc, f"{what} must be a list of non-empty strings", key_path
            )
            return None
        result = tuple(
            Located(str(i.value), i.loc) for i in items if isinstance(i, YScalar)
        )
        seen: set[str] = set()
        for item in result:
            if item.value in seen:
                self.d.error(item.loc, f"{what} lists {item.value!r} twice", key_path)
            seen.add(item.value)
        return result

    def dotted(self, node: YNode | None, key_path: str, what: str) -> Located | None:
        value = self.string(node, key_path, what)
        if value is None:
            return None
        parts = value.value.split(".")
        if len(parts) < 2 or not all(naming.is_identifier(p) for p in parts):
            self.d.error(
                value.loc,
                f"{what} {value.value!r} is not a dotted path module.name",
                key_path,
                "write it as package.module.function",
            )
            return None
        return value

    def doc(self, node: YMap, key_path: str) -> str:
        value = self.string(node.get("doc"), _kp(key_path, "doc"), "doc")
        return value.value if value else ""

    # -- sections ---------------------------------------------------------------

    def root(self, node: YNode) -> RegistrySpec | None:
        root = self.mapping(node, "", "a schema file")
        if root is None:
            return None
        self.keys(root, "root", "", "the schema file")
        registry = self.identifier(root.get("registry"), "registry", "registry name")
        package = self.package(root.get("package"))
        storage = self.storage(root.get("storage"), "storage") or "memory"
        spec = RegistrySpec(
            path=self.path,
            registry=registry or Located("", root.loc),
            package=package or Located("", root.loc),
            storage=storage,
            doc=self.doc(root, ""),
        )
        if (policy := root.get("policy")) is not None:
            spec.policy = self.policy(policy)
        if (ops := root.get("operations")) is not None:
            spec.operations = self.operations(ops)
        if (enums := root.get("enums")) is not None:
            spec.enums = self.enums(enums)
        if (types := root.get("types")) is not None:
            spec.types = self.types(types, storage)
        return spec

    def identifier(
        self, node: YNode | None, key_path: str, what: str
    ) -> Located | None:
        value = self.string(node, key_path, what)
        if value is not None and not naming.is_identifier(value.value):
            self.d.error(
                value.loc, f"{what} {value.value!r} is not an identifier", key_path
            )
            return None
        return value

    def package(self, node: YNode | None) -> Located | None:
        value = self.identifier(node, "package", "package name")
        if value is None:
            return None
        name = value.value
        if name != name.lower() or name.startswith("__"):
            self.d.error(
                value.loc, f"package name {name!r} must be lower_case", "package"
            )
        elif naming.attribute_name(name) != name or name in _RESERVED_PACKAGES:
            self.d.error(value.loc, f"package name {name!r} is reserved", "package")
        elif name in sys.stdlib_module_names:
            self.d.error(
                value.loc,
                f"package name {name!r} shadows a standard library module",
                "package",
            )
        return value

    def storage(self, node: YNode | None, key_path: str) -> str | None:
        value = self.string(node, key_path, "storage")
        if value is None:
            return None
        if value.value not in STORAGES:
            hint = did_you_mean(value.value, list(STORAGES))
            self.d.error(
                value.loc,
                f"unknown storage {value.value!r}; expected memory or sql",
                key_path,
                hint,
            )
            return None
        return value.value

    def policy(self, node: YNode) -> dict[str, Located]:
        policy = self.mapping(node, "policy", "policy")
        if policy is None:
            return {}
        self.keys(policy, "policy", "policy", "policy")
        hooks = {}
        for hook in POLICY_HOOKS:
            value = self.dotted(
                policy.get(hook), f"policy.{hook}", f"policy hook {hook}"
            )
            if value is not None:
                hooks[hook] = value
        return hooks

    def operations(self, node: YNode) -> list[OperationSpec]:
        ops = self.mapping(node, "operations", "operations")
        if ops is None:
            return []
        result = []
        for key, value in ops.items:
            name, kp = str(key.value), f"operations.{key.value}"
            if (
                not naming.is_identifier(name)
                or name != name.lower()
                or name.startswith("_")
            ):
                self.d.error(
                    key.loc,
                    f"operation name {name!r} must be a lower_case identifier",
                    kp,
                )
                continue
            op = self.operation(name, key.loc, value, kp)
            if op is not None:
                result.append(op)
        if "sync" not in {op.name for op in result}:
            self.d.error(
                ops.loc, "operations must include the built-in 'sync'", "operations"
            )
        return result

    def operation(
        self, name: str, loc: Loc, node: YNode, kp: str
    ) -> OperationSpec | None:
        builtin = name in BUILTIN_OPERATIONS
        if isinstance(node, YScalar) and node.value is None:
            if builtin:
                return OperationSpec(name, loc)
            hint = did_you_mean(name, list(BUILTIN_OPERATIONS))
            self.d.error(
                loc,
                f"unknown built-in operation {name!r}; a custom operation needs a handler",
                kp,
                hint or "give it a mapping with handler: module.function",
            )
            return None
        body = self.mapping(node, kp, f"operation {name!r}")
        if body is None:
            return None
        self.keys(body, "operation", kp, f"operation {name!r}")
        if builtin:
            self.d.error(
                loc,
                f"built-in operation {name!r} takes no settings; write '{name}:' alone",
                kp,
            )
            return None
        handler = self.dotted(body.get("handler"), f"{kp}.handler", "handler")
        if handler is None and body.get("handler") is None:
            self.d.error(body.loc, f"custom operation {name!r} needs a handler", kp)
        return OperationSpec(name, loc, handler, self.doc(body, kp))

    def enums(self, node: YNode) -> list[EnumSpec]:
        enums = self.mapping(node, "enums", "enums")
        result: list[EnumSpec] = []
        for key, value in enums.items if enums else ():
            name, kp = str(key.value), f"enums.{key.value}"
            body = self.mapping(value, kp, f"enum {name!r}")
            if body is None:
                continue
            self.keys(body, "enum", kp, f"enum {name!r}")
            values = self.enum_values(body.get("values"), f"{kp}.values")
            if values is not None:
                result.append(EnumSpec(name, key.loc, kp, values, self.doc(body, kp)))
        return result

    def enum_values(self, node: YNode | None, kp: str) -> tuple[str, ...] | None:
        if node is None:
            return None
        values = self.strings(node, kp, "enum values")
        if values is None:
            return None
        members: dict[str, str] = {}
        for item in values:
            member = naming.member_name(item.value)
            if member in members and members[member] != item.value:
                self.d.error(
                    item.loc,
                    f"enum values {members[member]!r} and {item.value!r} both become member {member}",
                    kp,
                )
            members[member] = item.value
        return tuple(v.value for v in values)

    def types(self, node: YNode, storage: str) -> list[TypeSpec]:
        types = self.mapping(node, "types", "types")
        if types is None:
            return []
        if not types.items:
            self.d.error(types.loc, "types must declare at least one type", "types")
        result = []
        for key, value in types.items:
            name, kp = str(key.value), f"types.{key.value}"
            if not isinstance(key.value, str) or not key.value.strip():
                self.d.error(
                    key.loc, f"type name {name!r} must be a non-empty string", kp
                )
                continue
            spec = _TypeValidator(self, name, key.loc, kp, storage).run(value)
            if spec is not None:
                result.append(spec)
        return result


class _TypeValidator:
    def __init__(
        self, f: _FileValidator, name: str, loc: Loc, kp: str, storage: str
    ) -> None:
        self.f, self.d = f, f.d
        self.spec = TypeSpec(name, loc, kp, storage, sync_type=name)

    def run(self, node: YNode) -> TypeSpec | None:
        f, spec, kp = self.f, self.spec, self.spec.key_path
        body = f.mapping(node, kp, f"type {spec.name!r}")
        if body is None:
            return None
        f.keys(body, "type", kp, f"type {spec.name!r}")
        own = f.storage(body.get("storage"), f"{kp}.storage")
        if own is not None and own != spec.storage:
            self.d.error(
                body.get("storage").loc,  # type: ignore[union-attr]
                f"type {spec.name!r} uses storage {own} but the registry stores {spec.storage};"
                " one registry holds one storage kind",
                f"{kp}.storage",
                "move the type to a schema file of its own",
            )
        if (
            st := f.string(body.get("sync_type"), f"{kp}.sync_type", "sync_type")
        ) is not None:
            spec.sync_type = st.value
        self.table(body.get("table"))
        self.primary_key(body.get("primary_key"))
        if (prio := body.get("priority")) is not None:
            spec.priority = f.integer(prio, f"{kp}.priority", "priority", 0, 1_000_000)
        spec.parent = f.string(body.get("parent"), f"{kp}.parent", "parent")
        spec.doc = f.doc(body, kp)
        if (props := body.get("properties")) is not None:
            self.properties(props)
        return spec

    def table(self, node: YNode | None) -> None:
        kp = f"{self.spec.key_path}.table"
        value = self.f.identifier(node, kp, "table name")
        if value is not None and self.spec.storage != "sql":
            self.d.error(value.loc, "table applies to sql types only", kp, "remove it")
            return
        self.spec.table = value

    def primary_key(self, node: YNode | None) -> None:
        if node is None:
            return
        kp = f"{self.spec.key_path}.primary_key"
        self.spec.primary_key_loc = node.loc
        names: tuple[Located, ...] | None
        if isinstance(node, YScalar) and isinstance(node.value, str) and node.value:
            names = (Located(node.value, node.loc),)
        elif (isinstance(node, YSeq) and not node.items) or (
            isinstance(node, YScalar) and node.value in ("", None)
        ):
            self.d.error(node.loc, "primary_key must not be empty", kp)
            return
        else:
            names = self.f.strings(node, kp, "primary_key")
        if names is None:
            return
        if any(n.value == UNIQUE for n in names):
            if len(names) > 1:
                self.d.error(
                    node.loc, "'unique' cannot be combined with key properties", kp
                )
                return
            if self.spec.storage == "sql":
                self.d.error(
                    node.loc, "sql types need a real primary key, not 'unique'", kp
                )
                return
            self.spec.unique = True
            return
        self.spec.primary_key = names

    def properties(self, node: YNode) -> None:
        kp = f"{self.spec.key_path}.properties"
        props = self.f.mapping(node, kp, "properties")
        for key, value in props.items if props else ():
            prop = self.property(key, value, f"{kp}.{key.value}")
            if prop is not None:
                self.spec.properties.append(prop)
            else:
                self.spec.invalid_properties.add(str(key.value))

    def property(self, key: YScalar, node: YNode, kp: str) -> PropertySpec | None:
        name = str(key.value)
        if not self._property_name(key, kp):
            return None
        if isinstance(node, YScalar) and isinstance(node.value, str):
            return PropertySpec(name, key.loc, kp, Located(node.value, node.loc))
        body = self.f.mapping(node, kp, f"property {name!r}")
        if body is None:
            return None
        self.f.keys(body, "property", kp, f"property {name!r}")
        type_ = self.f.string(body.get("type"), f"{kp}.type", "type")
        if type_ is None:
            return None
        prop = PropertySpec(name, key.loc, kp, type_, doc=self.f.doc(body, kp))
        self._options(prop, body, kp)
        return prop

    def _property_name(self, key: YScalar, kp: str) -> bool:
        name = key.value
        if not isinstance(name, str) or not name:
            self.d.error(
                key.loc, f"property name {name!r} must be a non-empty string", kp
            )
            return False
        if name.startswith("_"):
            self.d.error(
                key.loc,
                f"property name {name!r} starts with '_'; such keys are ignored on the wire",
                kp,
            )
            return False
        if name.startswith("sync_"):
            self.d.error(
                key.loc, f"property name {name!r} is reserved by the runtime", kp
            )
            return False
        attr = naming.attribute_name(name)
        if attr != name:
            self.d.warning(
                key.loc,
                f"property {name!r} is generated as attribute (and wire name) {attr!r}",
                kp,
            )
        return True

    def _options(self, prop: PropertySpec, body: YMap, kp: str) -> None:
        f = self.f
        if (values := body.get("values")) is not None:
            prop.values = f.enum_values(values, f"{kp}.values")
            prop.values_loc = values.loc
        prop.nullable = bool(
            f.boolean(body.get("nullable"), f"{kp}.nullable", "nullable")
        )
        if (default := body.get("default")) is not None:
            prop.default, prop.default_loc = plain(default), default.loc
        if (length := body.get("length")) is not None:
            prop.length = f.integer(length, f"{kp}.length", "length", 1, 1_048_576)
            prop.length_loc = length.loc
        if (sync := f.boolean(body.get("sync"), f"{kp}.sync", "sync")) is not None:
            prop.sync, prop.sync_loc = sync, body.get("sync").loc  # type: ignore[union-attr]
        prop.encoder = f.dotted(body.get("encoder"), f"{kp}.encoder", "encoder")
        prop.decoder = f.dotted(body.get("decoder"), f"{kp}.decoder", "decoder")


def _kp(base: str, key: object) -> str:
    return f"{base}.{key}" if base else str(key)


def validate_file(node: YNode, path: str, diags: Diagnostics) -> RegistrySpec | None:
    """Check one loaded schema file; return its spec (possibly partial) or None."""
    return _FileValidator(path, diags).root(node)
