"""Per-class facts the batched receive path needs on every row, computed once.

A catching-up peer receives tens of thousands of rows of a few classes; asking the mapper
for its primary key, its columns and its constructor on every row costs more than storing
the row.  :func:`row_plan` answers those questions once per mapped class and keeps the
answer in the class's own ``__dict__``.

*Plain properties* are sync properties that are ordinary mapped columns with no ORM
validator and no attribute ``set`` listener: assigning one to an object that never joins a
session is exactly storing the value in its ``__dict__``.  Batched rows are filled that way
(:func:`fill_plain`); a message naming anything else takes the object model's path, which
assigns through the instrumented attribute and raises the proper errors.

*Value checks* (issue 9: a received value is never silently altered): a string longer
than its ``String(n)`` column, a value not among an ``Enum`` column's, a non-boolean
for a ``Boolean`` column are refused (rules of :mod:`entanglement._valuecheck`, given
by this module for mapped columns; numbers have strict decoders).  :func:`fill_plain`
runs the class's generated check once per message, then stores values of exact types
without a call per value.

*Core insert*: new batched rows are inserted with one Core ``executemany`` per table and
set of columns, from the row's *snapshot* (its column values once its hooks ran, and its
owner's id as ``sync_owner_id``; :meth:`RowPlan.snapshot`).  Each table of the class gets
the values of the properties its columns map to (a joined subclass's primary key is one
property over two columns: both get the value) and the polymorphic identity in the
discriminator column; a table's foreign keys to itself are in its plan, so that the
batch inserts the rows a row names first (:mod:`entanglement.sql.receive.store`).  As in the
ORM's own INSERT, a ``None`` value is left out (the column default applies) unless the
column type stores ``None`` itself (JSON null).  Classes whose shape this does not cover
(a version counter, concrete inheritance, a table that is not a plain ``Table``, a
discriminator that is not a column, a joined subclass whose key is another property than
its parent's) are inserted with the ORM bulk INSERT instead, from the rows' attribute
values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ColumnProperty, Mapper

from entanglement._codecplan import (
    compiled_function,
    decoders_of,
    rules_of,
    value_check_of,
)
from entanglement._valuecheck import (
    BOOL,
    STR,
    ValueRule,
    add_rule_source,
    enum_rule,
    string_rule,
)

__all__ = ["RowPlan", "TablePlan", "row_plan"]

_SLOT = "_sync_row_plan"


@dataclass(frozen=True, eq=False)
class TablePlan:
    """How one table of a class gets its INSERT values from a row's snapshot."""

    table: sa.Table
    columns: tuple[tuple[str, str], ...]  # (attribute key, column key)
    constants: tuple[tuple[str, Any], ...]  # (column key, value): the discriminator
    none_columns: tuple[tuple[str, str], ...]  # of columns where None is a value
    # foreign keys to the table itself: (column key, referenced column key)
    parents: tuple[tuple[str, str], ...]
    # the INSERTs of this table compiled so far, by (dialect, columns): kept by
    # entanglement.sql.receive.insert (which owns what they hold)
    inserts: dict[Any, Any] = field(default_factory=dict)

    # values(snapshot): the INSERT values of one row (absent and None values left
    # out, but None of a column storing it: JSON null); one generated function
    values: Callable[[dict[str, Any]], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _values_function(self))


def _values_function(plan: TablePlan) -> Callable[[dict[str, Any]], dict[str, Any]]:
    # Safe: the source holds only generated names (A0, C0, ...); attribute and column
    # keys and the constants are namespace entries.
    namespace: dict[str, Any] = {}
    lines = ["def values(snapshot):", "    get = snapshot.get", "    row = {}"]
    nulls = {attr for attr, _ in plan.none_columns}
    for i, (attr, column) in enumerate(plan.columns):
        namespace[f"A{i}"], namespace[f"C{i}"] = attr, column
        lines += [
            f"    value = get(A{i})",
            "    if value is not None:",
            f"        row[C{i}] = value",
        ]
        if attr in nulls:  # (JSON null: None is a value)
            lines += [f"    elif A{i} in snapshot:", f"        row[C{i}] = None"]
    for i, (column, value) in enumerate(plan.constants):
        namespace[f"K{i}"], namespace[f"V{i}"] = column, value
        lines.append(f"    row[K{i}] = V{i}")
    lines.append("    return row")
    function: Callable[[dict[str, Any]], dict[str, Any]] = compiled_function(
        lines, namespace, "values", f"{plan.table.name} row values"
    )
    return function


@dataclass(frozen=True, eq=False)
class RowPlan:
    """What the batched receive path needs to know about one mapped class."""

    mapper: Mapper[Any]
    base_mapper: Mapper[Any]
    pk_names: tuple[str, ...]
    key_decoders: tuple[tuple[str, Callable[[Any], Any]], ...]  # (key, its decoder)
    decoders: dict[str, Callable[[Any], Any] | None]  # plain property → decoder
    check: Callable[[dict[str, Any]], bool] | None  # the class's value check
    required: frozenset[str]  # plain properties over NOT NULL columns
    plain_constructor: bool
    plain_bookkeeping: bool  # sync_serial and sync_owner_id are plain columns
    column_keys: frozenset[str]  # every column attribute
    # a message attribute → the columns an update of a stored row sets: a column
    # attribute itself, a composite reference (one wire attribute) its part columns
    stored_columns: dict[str, tuple[str, ...]]
    column_list: tuple[str, ...]  # the same, in mapper order (snapshots)
    kinds: frozenset[Any]  # discriminator values of the class and its subclasses
    extra_properties: tuple[str, ...]  # sync properties that are no mapped attribute
    property_names: frozenset[str]  # every sync property (a new row's changed names)
    tables: tuple[TablePlan, ...] | None  # None: ORM bulk INSERT
    # every class of the hierarchy in one table (the batch inserts its rows unless
    # their key is stored, rather than asking first)
    single_table: bool
    # the compiled fills of batched rows, per message key tuple
    # (entanglement.sql.schema.fill)
    fills: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def snapshot(self, state: dict[str, Any]) -> dict[str, Any]:
        """The values of a batched row, from its ``__dict__`` (its owner's id as
        ``sync_owner_id``): what the batch stores once the row's hooks ran.

        A copy of the ``__dict__`` without the ORM's state and the owner object
        (what else it holds is never stored: every use picks columns).
        """
        values = state.copy()
        values.pop("_sa_instance_state", None)
        owner = values.pop("sync_owner", None)
        if owner is not None:
            values["sync_owner_id"] = owner.id
        return values

    def ident(self, state: dict[str, Any]) -> tuple[Any, ...]:
        """The primary-key values of a row from its ``__dict__``."""
        names = self.pk_names
        if len(names) == 1:  # the common case, once per received row
            return (state.get(names[0]),)
        return tuple([state.get(name) for name in names])


def row_plan(cls: type[Any]) -> RowPlan:
    """The (cached) plan of a mapped SqlSynchronizable class."""
    # kept in the class's own __dict__ (not inherited, freed with the class); set with
    # type.__setattr__ so the declarative metaclass does not see a new attribute
    plan: RowPlan | None = cls.__dict__.get(_SLOT)
    if plan is None:
        plan = _make_plan(cls)
        type.__setattr__(cls, _SLOT, plan)
    return plan


def _make_plan(cls: type[Any]) -> RowPlan:
    mapper: Mapper[Any] = sa.inspect(cls)
    pk_names = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
    return RowPlan(
        mapper=mapper,
        # where a row's keys live: the hierarchy's base table, or its own table for
        # concrete inheritance
        base_mapper=mapper if mapper.concrete else mapper.base_mapper,
        pk_names=pk_names,
        key_decoders=tuple((name, _key_decoder(cls, name)) for name in pk_names),
        decoders=_plain_decoders(cls, mapper),
        check=value_check_of(cls),
        required=frozenset(
            name
            for name in cls._sync_properties
            if _plain_column(cls, mapper, name)
            and not any(c.nullable for c in mapper.attrs[name].columns)
        ),
        plain_constructor=_plain_constructor(mapper),
        plain_bookkeeping=all(
            _plain_column(cls, mapper, name)
            for name in ("sync_serial", "sync_owner_id")
        ),
        column_keys=frozenset(prop.key for prop in mapper.column_attrs),
        stored_columns={
            **{prop.key: (prop.key,) for prop in mapper.column_attrs},
            **{
                comp.key: tuple(prop.key for prop in comp.props)
                for comp in mapper.composites
            },
        },
        column_list=tuple(prop.key for prop in mapper.column_attrs),
        kinds=frozenset(m.polymorphic_identity for m in mapper.self_and_descendants),
        extra_properties=tuple(
            name
            for name in cls._sync_properties
            if name != "_sync_owner" and name not in mapper.attrs
        ),
        property_names=frozenset(cls._sync_properties),
        tables=_table_plans(mapper),
        single_table=_single_table(mapper),
    )


def _single_table(mapper: Mapper[Any]) -> bool:
    base = mapper.base_mapper
    table = base.local_table
    return (
        not mapper.concrete
        and isinstance(table, sa.Table)
        and all(m.local_table is table for m in base.self_and_descendants)
    )


def _key_decoder(cls: type[Any], name: str) -> Callable[[Any], Any]:
    prop = cls._sync_properties.get(name)
    if prop is not None:
        return prop.codec.decoder  # type: ignore[no-any-return]

    def refuse(value: Any) -> Any:
        raise ValueError(f"{name!r} is not a sync property")

    return refuse


def _plain_decoders(cls: type[Any], mapper: Mapper[Any]) -> dict[str, Any]:
    # None: stored as it is, once the class's value check (run first) accepted it;
    # old names (aliases) never get here (entanglement.sql.schema.construct renames them)
    decoders = decoders_of(cls)
    rules = rules_of(cls)
    return {
        name: None if name in rules else decoders[name]
        for name in cls._sync_properties
        if _plain_column(cls, mapper, name)
    }


def _column_rule(cls: type, name: str, prop: Any) -> ValueRule | None:
    # What a column stores as it is: the length of a String(n), the values of an Enum
    # without an enum class, booleans.  (Integer and Float columns have the strict
    # decoders of entanglement.types, which are rules of their own.)
    mapper: Any = sa.inspect(cls, raiseerr=False)
    if not isinstance(mapper, Mapper):
        return None
    attr = mapper.attrs.get(name)
    if not isinstance(attr, ColumnProperty) or len(attr.columns) != 1:
        return None
    column_type = attr.columns[0].type
    if isinstance(column_type, sa.Enum):
        return enum_rule(tuple(column_type.enums))
    if isinstance(column_type, sa.String):
        length = column_type.length
        return string_rule(length) if length else STR
    if isinstance(column_type, sa.Boolean):
        return BOOL
    return None


add_rule_source(_column_rule)


def _plain_column(cls: type[Any], mapper: Mapper[Any], name: str) -> bool:
    # a column attribute whose assignment only stores the value: no validator, no
    # attribute set listener
    return (
        isinstance(mapper.attrs.get(name), ColumnProperty)
        and name not in mapper.validators
        and not getattr(cls, name).dispatch.set
    )


def _plain_constructor(mapper: Mapper[Any]) -> bool:
    # The declarative constructor called without arguments does nothing: batched rows
    # skip it.  A mapped subclass without its own __init__ inherits its parent's
    # instrumented one, so the question goes up to the parent.
    cls = mapper.class_
    if any(p.constructor is not False for p in cls._sync_properties.values()):
        return False
    original = mapper.class_manager.original_init
    parent = mapper.inherits
    if parent is not None and original is parent.class_.__init__:
        return _plain_constructor(parent)
    return getattr(original, "__qualname__", "") == "_declarative_constructor"


def _table_plans(mapper: Mapper[Any]) -> tuple[TablePlan, ...] | None:
    if mapper.version_id_col is not None or mapper.concrete:
        return None
    tables: list[sa.Table] = []
    for m in reversed(list(mapper.iterate_to_root())):
        table = m.local_table
        if not isinstance(table, sa.Table):
            return None
        if table not in tables:
            tables.append(table)
    discriminator = mapper.polymorphic_on
    if discriminator is not None and not any(
        discriminator is column for table in tables for column in table.columns
    ):
        return None
    base_pk = set(mapper.base_mapper.primary_key)
    plans = []
    for table in tables:
        plan = _table_plan(mapper, table, base_pk)
        if plan is None:
            return None
        plans.append(plan)
    return tuple(plans)


def _table_plan(
    mapper: Mapper[Any], table: sa.Table, base_pk: set[Any]
) -> TablePlan | None:
    columns: list[tuple[str, str]] = []
    constants: list[tuple[str, Any]] = []
    for column in table.columns:
        if column is mapper.polymorphic_on:
            constants.append((column.key, mapper.polymorphic_identity))
            continue
        try:
            prop = mapper.get_property_by_column(column)
        except sa.orm.exc.UnmappedColumnError:
            continue  # not mapped: its default applies, as in the ORM's INSERT
        if column.primary_key and not base_pk.intersection(prop.columns):
            return None  # a key the ORM copies from the parent row at flush
        columns.append((prop.key, column.key))
    return TablePlan(
        table=table,
        columns=tuple(columns),
        constants=tuple(constants),
        none_columns=tuple(
            (attr, key)
            for attr, key in columns
            if table.c[key].type.should_evaluate_none
        ),
        parents=tuple(
            (fk.parent.key, fk.column.key)
            for fk in table.foreign_keys
            if fk.column.table is table
        ),
    )
