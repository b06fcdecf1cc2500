"""Inserting a run of received rows of one table: one driver ``executemany``.

The receive batch inserts its new rows table by table, rows carrying the same columns
together (:mod:`entanglement.sql.receive.store`).  Core's ``executemany`` would, for
every row, look up each column's bind processor and build the parameters through the
compiled statement's general machinery; here that work is done once per table, set
of columns and dialect (:class:`Insert`, kept in the table's plan): the INSERT is
compiled once, each column's bind processor (what Core itself applies: a
``TypeDecorator``'s ``process_bind_param``, a string or enum check, a date's text
form) is looked up once, and each row becomes the parameters the driver takes, handed
to the driver's ``executemany`` on the session's connection, in its transaction.

On PostgreSQL with psycopg, a run of new rows whose columns are all of simple types
(text, numbers, booleans, dates: :data:`_COPYABLE`) is written with one ``COPY ...
FROM STDIN`` instead (several times cheaper than an ``executemany``); its errors are
raised as SQLAlchemy's, as an INSERT's would be.  COPY passes by SQLAlchemy's cursor
events and echo: while the connection has a ``before_cursor_execute`` or
``after_cursor_execute`` listener or echoes, Core's INSERT is used.

Where this would not be what Core does, Core's own ``executemany`` is used instead:
dialects that set input sizes per parameter (``BindTyping.SETINPUTSIZES``), and
compiled statements whose parameters are not exactly the row's columns.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.types import TypeDecorator

__all__ = ["Insert", "compile_insert", "insert_rows", "statement"]

Processor = Callable[[Any], Any] | None
CACHED = 32  # compiled inserts kept per table (column sets x dialects)


class Insert:
    """An INSERT of some columns of a table, compiled for one dialect."""

    __slots__ = ("copy", "key", "parameters", "sql")

    def __init__(
        self,
        sql: str,
        positional: bool,
        columns: list[tuple[str, str, Processor]],
        copy: bool = False,
        key: str | None = None,
    ) -> None:
        """``columns``: (column key, parameter name, bind processor or None) in the
        statement's order of parameters; ``copy``: ``sql`` is a ``COPY ... FROM
        STDIN`` taking the rows as tuples; ``key``: the table's primary key column
        (one column)."""
        self.sql, self.copy = sql, copy
        # where the key is in a row's parameters (positional ones only)
        keys = [column for column, _, _ in columns]
        self.key = keys.index(key) if positional and key in keys else None
        # (rows) -> the driver's parameters of rows holding exactly the columns
        self.parameters: Callable[[list[dict[str, Any]]], list[Any]] = _parameters(
            positional, columns
        )


def _parameters(
    positional: bool, columns: list[tuple[str, str, Processor]]
) -> Callable[[list[dict[str, Any]]], list[Any]]:
    # One generated comprehension: a tuple (or dict) per row, each value through its
    # column's processor.  Safe: the source holds only generated names (K0, P0, N0...);
    # keys, names and processors are namespace entries.
    namespace: dict[str, Any] = {}
    items = []
    for i, (key, name, processor) in enumerate(columns):
        namespace[f"K{i}"], namespace[f"N{i}"] = key, name
        value = f"row[K{i}]"
        if processor is not None:
            namespace[f"P{i}"] = processor
            value = f"P{i}({value})"
        items.append(value if positional else f"N{i}: {value}")
    body = f"({', '.join(items)},)" if positional else f"{{{', '.join(items)}}}"
    exec(f"def parameters(rows):\n    return [{body} for row in rows]", namespace)
    function: Callable[[list[dict[str, Any]]], list[Any]] = namespace["parameters"]
    return function


def statement(table: sa.Table, dialect: Any, unless_stored: bool) -> Any:
    """``INSERT INTO table``; with ``unless_stored``, a row whose primary key is
    stored is left out (``ON CONFLICT (key) DO NOTHING``: PostgreSQL, SQLite)."""
    if not unless_stored:
        return table.insert()
    insert: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    return insert[dialect.name](table).on_conflict_do_nothing(
        index_elements=list(table.primary_key)
    )


def compile_insert(
    table: sa.Table, columns: tuple[str, ...], dialect: Any, unless_stored: bool = False
) -> Insert | None:
    """The :class:`Insert` of ``columns`` of ``table`` (None: use Core's executemany)."""
    if dialect.bind_typing is BindTyping.SETINPUTSIZES:
        return None
    compiled: Any = statement(table, dialect, unless_stored).compile(
        dialect=dialect, column_keys=list(columns)
    )
    binds = compiled.binds
    if set(binds) != set(columns) or compiled.literal_execute_params:
        return None  # (Core adds the columns with a Python-side default, say)
    if not unless_stored and _copyable(table, columns, dialect):
        return _copy_of(table, columns, dialect)
    names = compiled.positiontup if dialect.positional else list(binds)
    if names is None or len(names) != len(columns):
        return None
    escaped = compiled.escaped_bind_names
    described = [
        (
            binds[name].key,
            escaped.get(name, name),
            binds[name].type._cached_bind_processor(dialect),
        )
        for name in names
    ]
    if {key for key, _, _ in described} != set(columns):
        return None
    pk = [column.key for column in table.primary_key]
    key = pk[0] if len(pk) == 1 else None
    return Insert(str(compiled), dialect.positional, described, key=key)


# Column types whose values psycopg's COPY text form gives the server exactly as the
# INSERT's typed parameters do (the server parses each by the column's type).  Not
# timestamps: a time zone in the text of a value for a timestamp without time zone is
# ignored, where the INSERT's cast converts it.
_COPYABLE = (sa.String, sa.Integer, sa.Float, sa.Numeric, sa.Boolean, sa.Date)
_NOT_COPYABLE = (sa.Enum, sa.JSON, sa.ARRAY)


def _copyable(table: sa.Table, columns: tuple[str, ...], dialect: Any) -> bool:
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return False
    for key in columns:
        kind = table.c[key].type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl_instance
        if not isinstance(kind, _COPYABLE) or isinstance(kind, _NOT_COPYABLE):
            return False
    return True


def _copy_of(table: sa.Table, columns: tuple[str, ...], dialect: Any) -> Insert:
    # COPY table (columns) FROM STDIN, the values through the columns' processors
    quote = dialect.identifier_preparer
    names = ", ".join(quote.quote(table.c[key].name) for key in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    described: list[tuple[str, str, Processor]] = [
        (key, key, table.c[key].type._cached_bind_processor(dialect)) for key in columns
    ]
    return Insert(sql, True, described, copy=True)


def _observed(connection: Any) -> bool:
    # Someone sees the statements (cursor execute events, echo): COPY would pass
    # them by, so the rows go by Core's INSERT instead.
    dispatch = connection.dispatch
    return bool(
        dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or connection._echo
    )


def _copy(connection: Any, insert: Insert, rows: list[dict[str, Any]]) -> None:
    # psycopg's COPY on the session's connection, in its transaction; its errors
    # become SQLAlchemy's (IntegrityError...), as those of an INSERT
    dialect = connection.dialect
    raw = connection.connection.driver_connection
    error = dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(insert.sql) as copy:
            for row in insert.parameters(rows):
                copy.write_row(row)
    except error as exc:
        raise sa.exc.DBAPIError.instance(
            insert.sql, None, exc, error, dialect=dialect
        ) from exc


def insert_rows(
    session: Any,
    table: sa.Table,
    rows: list[dict[str, Any]],
    cache: dict[Any, Insert | None],
    unless_stored: bool = False,
    any_order: bool = False,
) -> int:
    """Insert ``rows`` (all holding the same columns) into ``table`` in ``session``'s
    transaction; how many were inserted (-1: the driver does not say).

    Args:
        session: the session whose connection and transaction are used.
        table: the table.
        rows: the column values of each row, by column key.
        cache: keeps the compiled inserts (the table plan's).
        unless_stored: leave out the rows whose primary key is stored (see
            :func:`statement`).
        any_order: the rows may be inserted in another order (rows naming others
            of the same table may not): they go in the order of their key, so that
            the key's index is written page after page (a catch-up's random keys
            cost about a tenth less to insert into a table of 100,000 rows).
    """
    connection = session.connection()
    dialect = connection.dialect
    columns = tuple(rows[0])
    key = (dialect, columns, unless_stored)
    try:
        insert = cache[key]
    except KeyError:
        if len(cache) >= CACHED:  # (engines come and go: tests, reconnecting apps)
            cache.clear()
        insert = cache[key] = compile_insert(table, columns, dialect, unless_stored)
    if insert is not None and insert.copy and not _observed(connection):
        _copy(connection, insert, rows)
        return len(rows)
    if insert is None or insert.copy:
        result = connection.execute(statement(table, dialect, unless_stored), rows)
    else:
        parameters = insert.parameters(rows)
        if any_order and insert.key is not None:
            _in_key_order(parameters, insert.key)
        result = connection.exec_driver_sql(insert.sql, parameters)
    return int(result.rowcount)


def _in_key_order(parameters: list[Any], index: int) -> None:
    # (stored key values are text or numbers; others are left in their order)
    with contextlib.suppress(TypeError):
        parameters.sort(key=operator.itemgetter(index))
