"""Operations of a generated revision, each able to print itself and its inverse.

Every operation renders Alembic calls (``op.create_table``, ``op.rename_table``,
``op.batch_alter_table`` ...).  Column changes go through ``batch_alter_table`` so that
SQLite, which cannot alter a column in place, gets Alembic's copy-and-move; PostgreSQL gets
plain ``ALTER TABLE``.  A column that must not be NULL and has a default is added (or
made NOT NULL) in three steps: nullable column, an ``UPDATE`` that fills it with the
default through the column's SQLAlchemy type (so JSON, dates and booleans are stored the
way the dialect stores them), then ``NOT NULL``.  A ``random`` default fills each row with
its own UUID.  This does what a temporary ``server_default`` would, for every type and
without leaving a server default behind that the model does not declare.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from .literals import py_literal

__all__ = [
    "AddColumn",
    "AlterColumn",
    "Code",
    "Constraint",
    "CreateTable",
    "DropColumn",
    "DropTable",
    "Op",
    "RenameColumn",
    "RenameTable",
    "column_list",
    "index_code",
    "inline_code",
]

Column = dict[str, Any]
Constraint = dict[str, Any]
"""An entry of a table's ``constraints`` (:mod:`entanglegen.migrations_state`)."""


@dataclass
class Code:
    """Lines of a function body, and the modules they use."""

    lines: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)
    batch_of: str | None = None
    """The table whose ``batch_alter_table`` block the last lines are."""

    def add(self, *lines: str) -> None:
        self.lines += lines
        self.batch_of = None

    def batch(self, table: str, *lines: str) -> None:
        """Lines inside a ``batch_alter_table`` block; adjacent blocks of one table
        merge (on SQLite each block copies the table once)."""
        body = [f"    {line}" for line in lines]
        if self.batch_of != table:
            self.lines.append(
                f"with op.batch_alter_table({py_literal(table)}) as batch:"
            )
        self.lines += body
        self.batch_of = table


def column_code(column: Column, *, nullable: bool | None = None) -> str:
    args = [py_literal(column["name"]), column["type"]]
    if column["foreign_key"]:
        ondelete = (
            f", ondelete={py_literal(column['ondelete'])}" if column["ondelete"] else ""
        )
        args.append(f"sa.ForeignKey({py_literal(column['foreign_key'])}{ondelete})")
    if column["primary_key"]:
        args.append("primary_key=True")
    else:
        args.append(f"nullable={column['nullable'] if nullable is None else nullable}")
    if column.get("server_default"):
        args.append(f"server_default={column['server_default']}")
    return f"sa.Column({', '.join(args)})"


def column_list(names: list[str]) -> str:
    """``["a", "b"]``: a list of column names as code."""
    return f"[{', '.join(py_literal(n) for n in names)}]"


def index_code(table: str, constraint: Constraint) -> str:
    """``op.create_index(...)`` of an index entry."""
    unique = ", unique=True" if constraint["unique"] else ""
    return (
        f"op.create_index({py_literal(constraint['name'])}, {py_literal(table)}, "
        f"{column_list(constraint['columns'])}{unique})"
    )


def inline_code(constraint: Constraint) -> str | None:
    """The ``sa.*Constraint(...)`` of a constraint inside ``op.create_table`` (None for
    an index, which is created after the table)."""
    kind, name = constraint["kind"], f"name={py_literal(constraint['name'])}"
    cols = ", ".join(py_literal(c) for c in constraint["columns"])
    if kind == "unique":
        return f"sa.UniqueConstraint({cols}, {name})"
    if kind == "check":
        return f"sa.CheckConstraint({py_literal(constraint['sql'])}, {name})"
    if kind == "foreign_key":
        remote = [f"{constraint['target']}.{c}" for c in constraint["target_columns"]]
        return (
            f"sa.ForeignKeyConstraint({column_list(constraint['columns'])}, "
            f"{column_list(remote)}, {name})"
        )
    return None


def index_name(table: str, column: str) -> str:
    """The name SQLAlchemy gives the index of ``Column(..., index=True)``."""
    return f"ix_{table}_{column}"


def _create_index(table: str, column: Column, code: Code) -> None:
    name = py_literal(index_name(table, column["name"]))
    code.add(
        f"op.create_index({name}, {py_literal(table)}, [{py_literal(column['name'])}])"
    )


def _drop_index(table: str, column: Column, code: Code, *, named_for: str) -> None:
    name = py_literal(index_name(named_for, column["name"]))
    code.add(f"op.drop_index({name}, table_name={py_literal(table)})")


def _value_code(default: dict[str, Any], code: Code) -> str:
    if "date" in default:
        code.modules.add("datetime")
        return f"datetime.date.fromisoformat({py_literal(default['date'])})"
    special = default.get("special")
    if special == "now":
        code.modules.add("datetime")
        return "datetime.datetime.now(datetime.UTC)"
    if special == "today":
        code.modules.add("datetime")
        return "datetime.date.today()"
    if special == "random":
        code.modules.add("uuid")
        return "uuid.uuid4().hex"
    return py_literal(default["literal"])


def _fill(
    table: str,
    column: Column,
    keys: list[Column],
    code: Code,
    *,
    only_null: bool,
) -> None:
    """Set ``column`` to its default in every row (or in the rows where it is NULL)."""
    value = _value_code(column["default"], code)
    name = py_literal(column["name"])
    cols = ", ".join(
        f"sa.column({py_literal(c['name'])}, {c['type']})" for c in [column, *keys]
    )
    code.add(f"table = sa.table({py_literal(table)}, {cols})")
    where = f".where(table.c[{name}].is_(None))" if only_null else ""
    if column["default"].get("special") != "random":
        code.add(f"op.execute(table.update(){where}.values({{{name}: {value}}}))")
        return
    # Every row gets its own value: one UPDATE per row, by primary key, sent as one
    # executemany (a round trip per row would take minutes on a large table).
    key_cols = ", ".join(f"table.c[{py_literal(k['name'])}]" for k in keys)
    match = ", ".join(
        f"table.c[{py_literal(k['name'])}] == sa.bindparam('entanglegen_key_{i}')"
        for i, k in enumerate(keys)
    )
    params = ", ".join(f"'entanglegen_key_{i}': row[{i}]" for i, _ in enumerate(keys))
    code.add(
        "bind = op.get_bind()",
        f"rows = bind.execute(sa.select({key_cols}){where}).all()",
        "if rows:",
        f"    bind.execute(table.update().where({match})"
        f".values({{{name}: sa.bindparam('entanglegen_value')}}), "
        f"[{{{params}, 'entanglegen_value': {value}}} for row in rows])",
    )


class Op(abc.ABC):
    """One step of a revision."""

    @abc.abstractmethod
    def render(self, code: Code) -> None:
        """Append the Alembic calls of this step to ``code``."""

    @abc.abstractmethod
    def reverse(self) -> Op:
        """The step that undoes this one (for ``downgrade``)."""


@dataclass
class CreateTable(Op):
    """A table with its columns and constraints, then its indexes."""

    table: str
    columns: list[Column]
    constraints: list[Constraint] = field(default_factory=list)

    def render(self, code: Code) -> None:
        items = [column_code(c) for c in self.columns]
        items += [i for c in self.constraints if (i := inline_code(c)) is not None]
        body = "".join(f"    {item},\n" for item in items)
        code.add(f"op.create_table(\n    {py_literal(self.table)},\n{body})")
        for column in self.columns:
            if column["index"]:
                _create_index(self.table, column, code)
        for constraint in self.constraints:
            if constraint["kind"] == "index":
                code.add(index_code(self.table, constraint))

    def reverse(self) -> Op:
        return DropTable(self.table, self.columns, self.constraints)


@dataclass
class DropTable(Op):
    table: str
    columns: list[Column]
    constraints: list[Constraint] = field(default_factory=list)

    def render(self, code: Code) -> None:
        code.add(f"op.drop_table({py_literal(self.table)})")

    def reverse(self) -> Op:
        return CreateTable(self.table, self.columns, self.constraints)


@dataclass
class RenameTable(Op):
    """A table's name changes; its indexes get the names of the new table."""

    old: str
    new: str
    indexed: list[Column] = field(default_factory=list)

    def render(self, code: Code) -> None:
        code.add(f"op.rename_table({py_literal(self.old)}, {py_literal(self.new)})")
        for column in self.indexed:
            _drop_index(self.new, column, code, named_for=self.old)
            _create_index(self.new, column, code)

    def reverse(self) -> Op:
        return RenameTable(self.new, self.old, self.indexed)


def _batch(table: str, code: Code, *lines: str) -> None:
    code.batch(table, *lines)


@dataclass
class AddColumn(Op):
    table: str
    column: Column
    keys: list[Column]

    def render(self, code: Code) -> None:
        column = self.column
        if column["nullable"] or column["default"] is None:
            _batch(self.table, code, f"batch.add_column({column_code(column)})")
            if column["index"]:
                _create_index(self.table, column, code)
            return
        _batch(
            self.table, code, f"batch.add_column({column_code(column, nullable=True)})"
        )
        _fill(self.table, column, self.keys, code, only_null=False)
        _batch(
            self.table,
            code,
            f"batch.alter_column({py_literal(column['name'])}, "
            f"existing_type={column['type']}, nullable=False)",
        )

    def reverse(self) -> Op:
        return DropColumn(self.table, self.column, self.keys)


@dataclass
class DropColumn(Op):
    table: str
    column: Column
    keys: list[Column]

    def render(self, code: Code) -> None:
        if self.column["index"]:
            _drop_index(self.table, self.column, code, named_for=self.table)
        _batch(
            self.table, code, f"batch.drop_column({py_literal(self.column['name'])})"
        )

    def reverse(self) -> Op:
        return AddColumn(self.table, self.column, self.keys)


@dataclass
class RenameColumn(Op):
    table: str
    old: Column
    new_name: str

    def render(self, code: Code) -> None:
        _batch(
            self.table,
            code,
            f"batch.alter_column({py_literal(self.old['name'])}, "
            f"new_column_name={py_literal(self.new_name)}, "
            f"existing_type={self.old['type']}, "
            f"existing_nullable={self.old['nullable']})",
        )
        # A later change of this column names it by its new name, which a batch
        # block only knows once the rename is applied: close the block.
        code.batch_of = None

    def reverse(self) -> Op:
        renamed = {**self.old, "name": self.new_name}
        return RenameColumn(self.table, renamed, self.old["name"])


_TYPES: dict[str, Callable[[int | None], sa.types.TypeEngine[Any]]] = {
    "str": sa.String,
    "int": lambda _: sa.Integer(),
    "float": lambda _: sa.Float(),
    "bool": lambda _: sa.Boolean(),
    "bytes": sa.LargeBinary,
    "uuid": sa.String,
    "datetime": lambda _: sa.DateTime(timezone=True),
    "date": lambda _: sa.Date(),
    "json": lambda _: sa.JSON(),
}


def _postgres_type(column: Column) -> str:
    """The PostgreSQL name of a column's type (for ``USING col::TYPE``)."""
    digits = re.search(r"precision=(\d+), scale=(\d+)", column["type"])
    match = re.search(r"length=(\d+)", column["type"])
    if column["kind"] == "decimal" and digits:
        type_: sa.types.TypeEngine[Any] = sa.Numeric(
            int(digits.group(1)), int(digits.group(2))
        )
    else:
        type_ = _TYPES[column["kind"]](int(match.group(1)) if match else None)
    dialect: sa.engine.Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(type_.compile(dialect=dialect))


@dataclass
class AlterColumn(Op):
    """A column's type, server default and/or nullability change (its name stays)."""

    table: str
    old: Column
    new: Column
    keys: list[Column]

    def render(self, code: Code) -> None:
        old, new = self.old, self.new
        name = py_literal(new["name"])
        if old["type"] != new["type"]:
            args = [name, f"existing_type={old['type']}", f"type_={new['type']}"]
            if old["kind"] != new["kind"]:
                # PostgreSQL converts between unrelated types only when told how.
                using = f'"{new["name"]}"::{_postgres_type(new)}'
                args.append(f"postgresql_using={py_literal(using)}")
            args.append(f"existing_nullable={old['nullable']}")
            _batch(self.table, code, f"batch.alter_column({', '.join(args)})")
        if old.get("server_default") != new.get("server_default"):
            _batch(
                self.table,
                code,
                f"batch.alter_column({name}, existing_type={new['type']}, "
                f"existing_nullable={old['nullable']}, "
                f"server_default={new.get('server_default') or 'None'})",
            )
        if old["nullable"] == new["nullable"]:
            return
        if not new["nullable"] and new["default"] is not None:
            _fill(self.table, new, self.keys, code, only_null=True)
        _batch(
            self.table,
            code,
            f"batch.alter_column({name}, existing_type={new['type']}, "
            f"nullable={new['nullable']})",
        )

    def reverse(self) -> Op:
        return AlterColumn(self.table, self.new, self.old, self.keys)
