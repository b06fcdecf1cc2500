"""Revision steps for what the schema's table options put in the database.

Indexes (property ``index``, type ``indexes``) are created and dropped with
``op.create_index``/``op.drop_index``, which both databases do in place.  Unique, CHECK and
composite foreign-key constraints go through ``batch_alter_table``: SQLite cannot add or
drop a constraint of an existing table, and Alembic's batch mode copies the table there
(PostgreSQL gets a plain ``ALTER TABLE``).  In a new table they are part of
``op.create_table`` (:func:`entanglegen.migrations_ops.inline_code`), its indexes follow it.

A constraint that changes (same name, other columns or expression) is dropped and created
again; one whose table is dropped goes with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .literals import py_literal
from .migrations_ops import Code, Constraint, Op, column_list, index_code

__all__ = ["AddConstraint", "DropConstraint"]

_DROP_TYPE = {"unique": "unique", "check": "check", "foreign_key": "foreignkey"}


@dataclass
class AddConstraint(Op):
    """An index or constraint is added to an existing table."""

    table: str
    constraint: Constraint

    def render(self, code: Code) -> None:
        c, name = self.constraint, py_literal(self.constraint["name"])
        if c["kind"] == "index":
            code.add(index_code(self.table, c))
        elif c["kind"] == "unique":
            code.batch(
                self.table,
                f"batch.create_unique_constraint({name}, {column_list(c['columns'])})",
            )
        elif c["kind"] == "check":
            code.batch(
                self.table,
                f"batch.create_check_constraint({name}, {py_literal(c['sql'])})",
            )
        else:
            code.batch(
                self.table,
                f"batch.create_foreign_key({name}, {py_literal(c['target'])}, "
                f"{column_list(c['columns'])}, {column_list(c['target_columns'])})",
            )

    def reverse(self) -> Op:
        return DropConstraint(self.table, self.constraint)


@dataclass
class DropConstraint(Op):
    """An index or constraint leaves an existing table."""

    table: str
    constraint: Constraint

    def render(self, code: Code) -> None:
        c, name = self.constraint, py_literal(self.constraint["name"])
        if c["kind"] == "index":
            code.add(f"op.drop_index({name}, table_name={py_literal(self.table)})")
            return
        type_ = py_literal(_DROP_TYPE[c["kind"]])
        code.batch(self.table, f"batch.drop_constraint({name}, type_={type_})")

    def reverse(self) -> Op:
        return AddConstraint(self.table, self.constraint)
