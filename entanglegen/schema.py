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
from importlib.metadata import packages_distributions
from typing import Any

from . import naming
from .diagnostics import Diagnostics, Loc
from .loader import YMap, YNode, YScalar, YSeq
from .schema_types import TypeValidator
from .spec import (
    BUILTIN_OPERATIONS,
    POLICY_HOOKS,
    STORAGES,
    EnumSpec,
    Located,
    OperationSpec,
    RegistrySpec,
    TypeSpec,
)

__all__ = ["json_schema", "json_schema_text", "validate_file"]

# The generator, the runtime and the runtime's dependencies, installed or not; the
# top-level modules of every installed distribution are added at run time.
_RESERVED_PACKAGES = frozenset(
    {
        "alembic",
        "cryptography",
        "entanglegen",
        "entanglement",
        "jinja2",
        "psycopg",
        "sqlalchemy",
        "yaml",
    }
)


@cache
def _installed_modules() -> dict[str, list[str]]:
    return dict(packages_distributions())


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
        if not naming.is_module_path(value.value):
            keywords = [p for p in value.value.split(".") if naming.is_keyword(p)]
            hint = (
                f"{keywords[0]!r} is a Python keyword and cannot be imported"
                if keywords
                else "write it as package.module.function"
            )
            self.d.error(
                value.loc,
                f"{what} {value.value!r} is not a dotted path module.name",
                key_path,
                hint,
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
        if value is not None and not self.short(value.value, value.loc, key_path, what):
            return None
        return value

    def short(self, name: str, loc: Loc, key_path: str, what: str) -> bool:
        """False (and an error) when ``name`` is too long to become a file or column."""
        if len(name) <= naming.MAX_NAME:
            return True
        self.d.error(
            loc,
            f"{what} {name[:20]!r}... is {len(name)} characters long; the limit is "
            f"{naming.MAX_NAME}",
            key_path,
            "names become file, class and SQL names: shorten it",
        )
        return False

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
        elif name in _installed_modules():
            dists = ", ".join(sorted(set(_installed_modules()[name])))
            self.d.error(
                value.loc,
                f"package name {name!r} shadows the installed distribution {dists}",
                "package",
                f"choose another name, e.g. {name + '_sync'!r}",
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
            if not self.short(name, key.loc, kp, "operation name"):
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
            if not self.name(key, kp, "enum name"):
                continue
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
        if not values:
            self.d.error(
                node.loc, "an enum needs at least one value", kp, "list its values"
            )
            return ()  # still an enum: uses of it are not unknown types
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
            if not self.name(key, kp, "type name"):
                continue
            spec = TypeValidator(self, name, key.loc, kp, storage).run(value)
            if spec is not None:
                result.append(spec)
        return result

    def name(self, key: YScalar, kp: str, what: str) -> bool:
        """A type or enum name: a non-empty string of bounded length."""
        if not isinstance(key.value, str) or not key.value.strip():
            self.d.error(
                key.loc, f"{what} {key.value!r} must be a non-empty string", kp
            )
            return False
        return self.short(key.value, key.loc, kp, what)


def _kp(base: str, key: object) -> str:
    return f"{base}.{key}" if base else str(key)


def validate_file(node: YNode, path: str, diags: Diagnostics) -> RegistrySpec | None:
    """Check one loaded schema file; return its spec (possibly partial) or None."""
    return _FileValidator(path, diags).root(node)
