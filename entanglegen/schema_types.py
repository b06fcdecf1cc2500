"""Stage 2 (continued): the shape of one type and its properties.

Called by :mod:`entanglegen.schema` for each entry of ``types:``; shares its shape helpers
(``mapping``, ``string``, ``keys``...) through the file validator it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import naming
from .diagnostics import Loc
from .loader import YMap, YNode, YScalar, YSeq, plain
from .spec import (
    UNIQUE,
    UNKNOWN_PROPERTIES,
    IndexSpec,
    Located,
    PropertySpec,
    TypeSpec,
)

if TYPE_CHECKING:
    from .schema import _FileValidator

__all__ = ["TypeValidator"]

# The longest check expression (schema.json's maxLength; it is printed into DDL).
_MAX_CHECK = 1000


class TypeValidator:
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
            self.sync_type(st, f"{kp}.sync_type")
        spec.renamed_from = f.string(
            body.get("renamed_from"), f"{kp}.renamed_from", "renamed_from"
        )
        if st is None and spec.renamed_from is not None:
            # While renamed_from stays, the wire keeps the old name (docs/schema.md).
            spec.sync_type = spec.renamed_from.value
        self.table(body.get("table"))
        self.unknown_properties(body.get("unknown_properties"))
        self.primary_key(body.get("primary_key"))
        self.transitions(body.get("transitions"))
        if (prio := body.get("priority")) is not None:
            spec.priority = f.integer(prio, f"{kp}.priority", "priority", 0, 1_000_000)
        spec.parent = f.string(body.get("parent"), f"{kp}.parent", "parent")
        spec.doc = f.doc(body, kp)
        if (props := body.get("properties")) is not None:
            self.properties(props)
        self.table_options(body)
        for key in ("on_receive", "on_delete"):
            setattr(spec, key, f.dotted(body.get(key), f"{kp}.{key}", key))
        self.many_to_many(body.get("many_to_many"))
        return spec

    def many_to_many(self, node: YNode | None) -> None:
        kp = f"{self.spec.key_path}.many_to_many"
        if node is None or not self.sql_only(node, kp, "many_to_many"):
            return
        links = self.f.mapping(node, kp, "many_to_many")
        if links is None:
            return
        self.spec.many_to_many_loc = links.loc
        for key, value in links.items:
            name = self.f.identifier(value, f"{kp}.{key.value}", "attribute name")
            if name is not None:
                self.spec.many_to_many[str(key.value)] = name
        if len(links.items) != 2:
            self.d.error(
                links.loc,
                "many_to_many names exactly the two references of the association",
                kp,
                "e.g. many_to_many: {person: teams, team: members}",
            )

    def sql_only(self, node: YNode | None, kp: str, what: str) -> bool:
        """True when ``node`` is given on an SQL type; an error when on a memory one."""
        if node is None:
            return False
        if self.spec.storage == "sql":
            return True
        self.d.error(
            node.loc,
            f"{what} applies to sql types only",
            kp,
            "memory stores have no tables or constraints: remove it",
        )
        return False

    def table_options(self, body: YMap) -> None:
        kp = self.spec.key_path
        if self.sql_only(body.get("table_args"), f"{kp}.table_args", "table_args"):
            self.spec.table_args = self.f.dotted(
                body.get("table_args"), f"{kp}.table_args", "table_args"
            )
        node = body.get("indexes")
        if self.sql_only(node, f"{kp}.indexes", "indexes"):
            for i, item in enumerate(self._list(node, f"{kp}.indexes", "indexes")):
                self.index(item, f"{kp}.indexes[{i}]")
        node = body.get("unique")
        if self.sql_only(node, f"{kp}.unique", "unique"):
            for i, item in enumerate(self._list(node, f"{kp}.unique", "unique")):
                ikp = f"{kp}.unique[{i}]"
                names = self.f.strings(item, ikp, "a unique constraint")
                if names:
                    self.spec.indexes.append(
                        IndexSpec(names, item.loc, ikp, unique=True, constraint=True)
                    )
                elif names is not None:
                    self.d.error(item.loc, "a unique constraint needs properties", ikp)

    def _list(self, node: YNode | None, kp: str, what: str) -> list[YNode]:
        if isinstance(node, YSeq):
            return list(node.items)
        if node is not None:
            self.d.error(node.loc, f"{what} must be a list", kp)
        return []

    def index(self, node: YNode, kp: str) -> None:
        body = self.f.mapping(node, kp, "an index")
        if body is None:
            return
        self.f.keys(body, "index", kp, "an index")
        props = body.get("properties")
        names = (
            self.f.strings(props, f"{kp}.properties", "index properties")
            if (props is not None)
            else None
        )
        if names is not None and not names:
            self.d.error(body.loc, "an index needs properties", f"{kp}.properties")
        unique = self.f.boolean(body.get("unique"), f"{kp}.unique", "unique")
        name = self.f.identifier(body.get("name"), f"{kp}.name", "index name")
        if names:
            self.spec.indexes.append(
                IndexSpec(names, body.loc, kp, unique=bool(unique), name=name)
            )

    def sync_type(self, value: Located, kp: str) -> None:
        # The wire name of the type: peers match it exactly, so it must be visible text.
        text = value.value
        if not text or text != text.strip() or not text.isprintable():
            self.d.error(
                value.loc,
                f"sync_type {text!r} must be non-empty printable text without "
                "surrounding spaces",
                kp,
                "leave it out to use the type name",
            )
            return
        self.spec.sync_type = text

    def table(self, node: YNode | None) -> None:
        kp = f"{self.spec.key_path}.table"
        value = self.f.identifier(node, kp, "table name")
        if value is not None and self.spec.storage != "sql":
            self.d.error(value.loc, "table applies to sql types only", kp, "remove it")
            return
        self.spec.table = value

    def unknown_properties(self, node: YNode | None) -> None:
        kp = f"{self.spec.key_path}.unknown_properties"
        value = self.f.string(node, kp, "unknown_properties")
        if value is None:
            return
        if value.value not in UNKNOWN_PROPERTIES:
            self.d.error(
                value.loc,
                f"unknown_properties must be refuse or store_rest, not {value.value!r}",
                kp,
            )
        elif self.spec.storage != "sql":
            self.d.error(value.loc, "unknown_properties applies to sql types only", kp)
        else:
            self.spec.unknown_properties = value.value

    def transitions(self, node: YNode | None) -> None:
        kp = f"{self.spec.key_path}.transitions"
        value = self.f.boolean(node, kp, "transitions")
        if value and self.spec.unique:
            # transitions are tracked by primary-key values (PROTOCOL.md §15)
            self.d.error(
                node.loc,  # type: ignore[union-attr]
                "transitions need primary keys; a 'unique' type has none",
                kp,
                "name key properties in primary_key, or remove transitions",
            )
            return
        self.spec.transitions = bool(value)

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
        if not naming.is_identifier(name):
            # The attribute is also the wire name: '-secret' would be sent as '_secret'
            # (a reserved key every peer refuses), 'a-b' as 'a_b' (not what peers expect).
            self.d.error(
                key.loc,
                f"property name {name!r} is not an identifier (it would be generated "
                f"and sent as {attr!r})",
                kp,
                "use letters, digits and '_', not starting with a digit",
            )
            return False
        if not self.f.short(name, key.loc, kp, "property name"):
            return False
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
        prop.renamed_from = f.string(
            body.get("renamed_from"), f"{kp}.renamed_from", "renamed_from"
        )
        self._sql_options(prop, body, kp)
        self._digits(prop, body, kp)
        prop.of = f.string(body.get("of"), f"{kp}.of", "of")
        for key in ("navigate", "back"):
            if self.sql_only(body.get(key), f"{kp}.{key}", key):
                value = f.identifier(body.get(key), f"{kp}.{key}", f"{key} name")
                setattr(prop, key, value)

    def _digits(self, prop: PropertySpec, body: YMap, kp: str) -> None:
        for key, lo in (("precision", 1), ("scale", 0)):
            node = body.get(key)
            if node is not None:
                value = self.f.integer(node, f"{kp}.{key}", key, lo, 1000)
                setattr(prop, key, value)
                prop.digits_loc = prop.digits_loc or node.loc
                prop.precision_written |= key == "precision"

    def _sql_options(self, prop: PropertySpec, body: YMap, kp: str) -> None:
        f = self.f
        for key in ("unique", "index"):
            node = body.get(key)
            if self.sql_only(node, f"{kp}.{key}", key) and f.boolean(
                node, f"{kp}.{key}", key
            ):
                setattr(prop, key, Located("true", node.loc))  # type: ignore[union-attr]
        if self.sql_only(body.get("check"), f"{kp}.check", "check"):
            check = f.string(body.get("check"), f"{kp}.check", "check")
            if check is not None and not 0 < len(check.value) <= _MAX_CHECK:
                self.d.error(
                    check.loc,
                    f"check must be 1 to {_MAX_CHECK} characters of SQL",
                    f"{kp}.check",
                    "put longer rules in table_args",
                )
            else:
                prop.check = check
        node = body.get("onupdate")
        if self.sql_only(node, f"{kp}.onupdate", "onupdate"):
            value = f.string(node, f"{kp}.onupdate", "onupdate")
            if value is not None and value.value != "now":
                self.d.error(
                    value.loc,
                    f"onupdate must be 'now', not {value.value!r}",
                    f"{kp}.onupdate",
                )
            elif value is not None:
                prop.onupdate = value
        node = body.get("server_default")
        if self.sql_only(node, f"{kp}.server_default", "server_default"):
            prop.server_default = plain(node)  # type: ignore[arg-type]
            prop.server_default_loc = node.loc  # type: ignore[union-attr]
