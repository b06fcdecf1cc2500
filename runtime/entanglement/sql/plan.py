"""Per-class facts the batched receive path needs on every row, computed once.

A catching-up peer receives tens of thousands of rows of a few classes; asking the
mapper for its primary key, its columns and its constructor on every row costs more
than the row itself.  :func:`row_plan` answers those questions once per mapped class.

*Plain* properties are sync properties that are ordinary mapped columns with no ORM
validator and no attribute ``set`` listener: assigning one is exactly storing the value
in the instance's ``__dict__``, so batched rows (which never join a session) are filled
that way instead of through the instrumented attribute (see
:meth:`SqlSynchronizable.sync_receive_constructed`).

*Core insert*: a class mapped to one table without polymorphic discriminator has its new
rows inserted with a Core ``executemany`` on that table; other classes (joined or single
table inheritance) use the ORM bulk insert, which writes every table of the hierarchy.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ColumnProperty, Mapper

__all__ = ["RowPlan", "row_plan"]


@dataclass(frozen=True)
class RowPlan:
    """What the batched receive path needs to know about one mapped class."""

    mapper: Mapper[Any]
    base_mapper: Mapper[Any]
    pk_names: tuple[str, ...]
    plain: frozenset[str]
    plain_constructor: bool
    columns: tuple[tuple[str, str], ...]
    attributes: frozenset[str]
    owner_column: str
    table: sa.Table | None

    def ident(self, state_dict: dict[str, Any]) -> tuple[Any, ...]:
        """The primary-key values of a row from its ``__dict__``."""
        return tuple([state_dict.get(name) for name in self.pk_names])


_plans: weakref.WeakKeyDictionary[type, RowPlan] = weakref.WeakKeyDictionary()


def row_plan(cls: type[Any]) -> RowPlan:
    """The (cached) plan of a mapped SqlSynchronizable class."""
    plan = _plans.get(cls)
    if plan is None:
        plan = _make_plan(cls)
        _plans[cls] = plan
    return plan


def _make_plan(cls: type[Any]) -> RowPlan:
    mapper: Mapper[Any] = sa.inspect(cls)
    columns = tuple(
        (prop.key, prop.columns[0].key)
        for prop in mapper.column_attrs
        if len(prop.columns) == 1
    )
    single = (
        mapper.inherits is None
        and mapper.polymorphic_on is None
        and isinstance(mapper.local_table, sa.Table)
        and len(columns) == len(mapper.column_attrs)
    )
    return RowPlan(
        mapper=mapper,
        base_mapper=mapper.base_mapper,
        pk_names=tuple(
            mapper.get_property_by_column(c).key for c in mapper.primary_key
        ),
        plain=frozenset(_plain_properties(cls, mapper)),
        plain_constructor=_plain_constructor(cls, mapper),
        columns=columns,
        attributes=frozenset(prop.key for prop in mapper.column_attrs),
        owner_column=mapper.attrs["sync_owner_id"].columns[0].key,
        table=mapper.local_table if single else None,  # type: ignore[arg-type]
    )


def _plain_properties(cls: type[Any], mapper: Mapper[Any]) -> set[str]:
    names = set()
    for name in cls._sync_properties:
        prop = mapper.attrs.get(name)
        if (
            isinstance(prop, ColumnProperty)
            and name not in mapper.validators
            and not getattr(cls, name).dispatch.set
        ):
            names.add(name)
    return names


def _plain_constructor(cls: type[Any], mapper: Mapper[Any]) -> bool:
    # the declarative constructor with no arguments does nothing: batched rows skip it
    original = mapper.class_manager.original_init
    return getattr(
        original, "__qualname__", ""
    ) == "_declarative_constructor" and not any(
        prop.constructor is not False for prop in cls._sync_properties.values()
    )


def fill_plain(row: Any, msg: dict[str, Any]) -> bool:
    """Store the decoded values of ``msg`` in ``row.__dict__`` if all are plain.

    Returns False, having changed nothing, when a key is not a plain property of the
    row's class or a value does not decode: the caller then takes the object model's
    path, which raises the proper error (or assigns through the attribute).
    """
    cls = type(row)
    plan = row_plan(cls)
    plain = plan.plain
    properties = cls._sync_properties
    decoded: list[tuple[str, Any]] = []
    for key, value in msg.items():
        if key[:1] == "_":
            continue
        if key not in plain:
            return False
        try:
            result = properties[key].decode(value)
        except Exception:
            return False
        # a decoder returning None for a non-null value has handled it itself
        if result is not None or value is None:
            decoded.append((key, result))
    row.__dict__.update(decoded)
    return True
