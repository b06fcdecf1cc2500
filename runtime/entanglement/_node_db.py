"""The database side of ``entanglegen node`` (:mod:`entanglement.node`), and its errors.

Opening the database, creating the bookkeeping and each ``--base``'s tables (or leaving
them to its migrations), checking that the database accepts writes, and turning every
database fault at start into one line: :class:`UnwritableDatabase` (exit status 1),
:class:`BusyDatabase` (``serve`` waits it out) or a :class:`NodeError` (exit status 2).
The choices are in :mod:`entanglement.node`'s docstring.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, NoReturn

import sqlalchemy as sa

__all__ = [
    "BusyDatabase",
    "NodeError",
    "UnwritableDatabase",
    "open_engine",
    "prepare",
]

log = logging.getLogger("entanglement.node")


class NodeError(Exception):
    """A user error: printed as one line, exit status 2."""

    status = 2


class UnwritableDatabase(NodeError):
    """The database refuses writes: exit status 1."""

    status = 1


class BusyDatabase(NodeError):
    """A transient fault at start (``serve`` waits it out)."""

    def __init__(self, message: str, cause: sa.exc.SQLAlchemyError) -> None:
        super().__init__(message)
        self.cause = cause


def open_engine(url: str) -> sa.Engine:
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise NodeError(f"bad database URL {url!r}: {exc}") from None
    except sa.exc.SQLAlchemyError as exc:
        raise NodeError(
            f"cannot open database {url!r}: {exc.__class__.__name__}: "
            f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
        ) from None
    return engine


def prepare(
    bases: Iterable[str], engine: sa.Engine, *, writes: bool, wait_busy: bool
) -> list[Any]:
    """The registries of ``bases``, their tables and the bookkeeping created, writes
    checked (``writes``); a busy database is waited out when ``wait_busy``, else it is
    the error."""
    from entanglement.sql.receive.transient import FaultEpisodes

    episodes = FaultEpisodes(_db_name(engine), log, 0.5)
    while True:
        try:
            registries = _load_bases(bases, engine)
            if writes:
                _check_writable(engine)
        except BusyDatabase as exc:
            if not wait_busy:
                raise
            time.sleep(episodes.failed(exc.cause, "starting the node"))
            continue
        episodes.succeeded()
        return registries


def _load_bases(names: Iterable[str], engine: sa.Engine) -> list[Any]:
    from entanglement.sql import SqlSyncRegistry
    from entanglement.sql.schema.upgrade import UpgradeError, prepare_tables

    try:
        SqlSyncRegistry.create_bookkeeping(engine)
    except sa.exc.SQLAlchemyError as exc:
        _db_failure(engine, exc, "cannot create the bookkeeping tables")
    except UpgradeError as exc:
        raise NodeError(str(exc)) from None
    registries: list[Any] = []
    for name in names:
        target = _import_dotted(name)
        registry = (
            target
            if isinstance(target, SqlSyncRegistry)
            else getattr(target, "sync_registry", None)
        )
        if not isinstance(registry, SqlSyncRegistry):
            raise NodeError(
                f"--base {name}: not a SqlSyncRegistry nor a sync declarative base"
            )
        try:
            managed = prepare_tables(engine, name)
        except UpgradeError as exc:
            raise NodeError(f"--base {name}: {exc}") from None
        except sa.exc.SQLAlchemyError as exc:
            _db_failure(engine, exc, f"--base {name}: cannot create its tables")
        for metadata in [] if managed else _metadatas(target, registry):
            try:
                metadata.create_all(engine)
            except sa.exc.SQLAlchemyError as exc:
                _db_failure(engine, exc, f"--base {name}: cannot create its tables")
        registry.sessionmaker.configure(bind=engine)
        if registry not in registries:
            registries.append(registry)
    return registries


def _check_writable(engine: sa.Engine) -> None:
    from entanglement.sql.receive.transient import write_refusal

    try:
        reason = write_refusal(engine)
    except sa.exc.SQLAlchemyError as exc:
        _db_failure(engine, exc, "cannot use the database")
    if reason is not None:
        raise _unwritable(engine, reason)


def _db_failure(engine: sa.Engine, exc: sa.exc.SQLAlchemyError, doing: str) -> NoReturn:
    """One line for a database error at start: refused writes, busy, or other."""
    from entanglement.sql.receive.transient import (
        first_line,
        is_read_only,
        is_transient,
    )

    if is_read_only(exc):
        raise _unwritable(engine, first_line(exc)) from None
    if is_transient(exc):
        raise BusyDatabase(
            f"database {_db_name(engine)} is busy ({first_line(exc)}); try again", exc
        ) from None
    raise NodeError(f"{doing}: {first_line(exc)}") from None


def _unwritable(engine: sa.Engine, reason: str) -> UnwritableDatabase:
    return UnwritableDatabase(
        f"database {_db_name(engine)} cannot be written ({reason})"
    )


def _db_name(engine: sa.Engine) -> str:
    """How messages name the database (its file, or the URL without password)."""
    from entanglement.sql.receive.transient import database_name

    return database_name(engine)


def _import_dotted(dotted: str) -> Any:
    # like ``python -m``: modules of the current directory can be named
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise NodeError(f"--base {dotted!r}: expected module.Name")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NodeError(
            f"--base {dotted}: cannot import {module_name}: {exc}"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise NodeError(f"--base {dotted}: {module_name} has no {attr!r}") from None


def _metadatas(target: Any, registry: Any) -> list[sa.MetaData]:
    found: list[sa.MetaData] = []
    candidates = [target, *registry.registry.values()]
    for obj in candidates:
        metadata = getattr(obj, "metadata", None)
        if isinstance(metadata, sa.MetaData) and metadata not in found:
            found.append(metadata)
    return found
