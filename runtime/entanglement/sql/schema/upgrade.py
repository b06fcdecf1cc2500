"""Creating and upgrading the bookkeeping tables with Alembic (PROTOCOL.md §12.1).

Decision rule of :func:`upgrade_database` (the procedure behind
``SqlSyncRegistry.create_bookkeeping``):

1. the version table exists → upgrade to head;
2. else a "user table" exists (``sync_serial`` for the bookkeeping: a database the
   original made before it used Alembic) → stamp the given old revision, then upgrade;
3. else → ``create_all`` from the model and stamp head.

The revision chain starts with the original's ids (``5370406b7505`` → ``dc7778ec1ccc``)
so that databases written by the original upgrade in place; our revisions follow.

Generated SQL packages carry their own chain (:mod:`entanglement.sql.schema.migrations.packages`,
re-exported here).  What ``entanglegen node`` calls is at the end: :func:`prepare_tables`
(an empty database gets a managed package's tables from its chain), :func:`upgrade_bases`
(``node ... upgrade``: bookkeeping, then each package) and :func:`serve_refusal` (why
``serve`` must not start: a package's chain is behind or ahead of the database).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command, util
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from entanglement.sql.schema.migrations.packages import (
    PackageMigrations,
    PackageStatus,
    UpgradeError,
    find_package_migrations,
    package_status,
    upgrade_package,
)
from entanglement.sql.schema.tables import bookkeeping_metadata
from entanglement.sql.schema.versions import (
    BOOKKEEPING_VERSION_TABLE,
    PRE_ALEMBIC_REVISION,
    PRE_ALEMBIC_TABLE,
)

__all__ = [
    "BOOKKEEPING_VERSION_TABLE",
    "PRE_ALEMBIC_REVISION",
    "PackageMigrations",
    "PackageStatus",
    "UpgradeError",
    "bookkeeping_head",
    "create_bookkeeping_tables",
    "current_revision",
    "find_package_migrations",
    "package_status",
    "prepare_tables",
    "serve_refusal",
    "upgrade_bases",
    "upgrade_database",
    "upgrade_package",
]

_SCRIPT_LOCATION = str(Path(__file__).with_name("migrations"))


def upgrade_database(
    bind: Engine | Connection,
    metadata: sa.MetaData,
    script_location: str,
    version_table: str,
    user_table: str | None = None,
    user_table_version: str | None = None,
) -> None:
    """Create or upgrade the tables of ``metadata`` following the rule of this module.

    Args:
        bind: an engine or connection to the database.
        metadata: the tables the scripts manage (created directly on an empty database).
        script_location: directory of the Alembic scripts.
        version_table: name of the Alembic version table.
        user_table: a table whose presence marks a database made before Alembic.
        user_table_version: the revision such a database is stamped with.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _upgrade(
                conn,
                metadata,
                script_location,
                version_table,
                user_table,
                user_table_version,
            )
    else:
        _upgrade(
            bind,
            metadata,
            script_location,
            version_table,
            user_table,
            user_table_version,
        )


def _upgrade(
    conn: Connection,
    metadata: sa.MetaData,
    script_location: str,
    version_table: str,
    user_table: str | None,
    user_table_version: str | None,
) -> None:
    config = _config(conn, metadata, script_location, version_table)
    tables = set(sa.inspect(conn).get_table_names())
    try:
        if version_table in tables:
            command.upgrade(config, "head")
        elif user_table is not None and user_table in tables:
            command.stamp(config, user_table_version or "base")
            command.upgrade(config, "head")
        else:
            metadata.create_all(conn)
            command.stamp(config, "head")
    except util.CommandError as exc:  # e.g. a revision of newer code
        raise UpgradeError(
            f"cannot upgrade the tables of {version_table}: {exc} (was the database "
            "upgraded by a newer version?)"
        ) from None


def _config(
    conn: Connection, metadata: sa.MetaData, script_location: str, version_table: str
) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = conn
    config.attributes["target_metadata"] = metadata
    config.attributes["version_table"] = version_table
    return config


def create_bookkeeping_tables(bind: Engine | Connection) -> None:
    """Create or upgrade the bookkeeping tables (``sync_serial``, ``sync_owners``, ...)."""
    upgrade_database(
        bind,
        bookkeeping_metadata,
        _SCRIPT_LOCATION,
        BOOKKEEPING_VERSION_TABLE,
        user_table=PRE_ALEMBIC_TABLE,
        user_table_version=PRE_ALEMBIC_REVISION,
    )


def bookkeeping_head() -> str:
    """The head revision of the bookkeeping scripts."""
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # the chain is never empty
    return head


def current_revision(bind: Engine | Connection) -> str | None:
    """The bookkeeping revision a database is at (None when never stamped)."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return current_revision(conn)
    ctx = MigrationContext.configure(
        bind, opts={"version_table": BOOKKEEPING_VERSION_TABLE}
    )
    return ctx.get_current_revision()


# -- what ``entanglegen node`` calls -----------------------------------------------------


def _migrations_of(base: str) -> PackageMigrations | None:
    import importlib

    module = base.rpartition(".")[0] or base
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UpgradeError(f"--base {base}: cannot import {module}: {exc}") from None
    return find_package_migrations(module)


def prepare_tables(engine: Engine, base: str) -> bool:
    """Create the tables of ``--base base`` from its chain if the database has none.

    Returns False when the package has no migrations (the caller then creates the
    tables from the models, as before migrations existed).  A database that already
    holds them is left as it is: only ``upgrade`` changes it.
    """
    migrations = _migrations_of(base)
    if migrations is None:
        return False
    if package_status(engine, migrations).state == "empty":
        upgrade_package(engine, migrations)
    return True


def upgrade_bases(engine: Engine, bases: list[str]) -> list[str]:
    """Upgrade the bookkeeping tables and the chain of every base; one line each.

    Raises:
        UpgradeError: as :func:`upgrade_package`.
    """
    try:
        create_bookkeeping_tables(engine)
    except (sa.exc.SQLAlchemyError, util.CommandError) as exc:
        raise UpgradeError(f"upgrading the bookkeeping tables failed: {exc}") from None
    lines = [f"bookkeeping: at {bookkeeping_head()}"]
    for base in bases:
        migrations = _migrations_of(base)
        if migrations is None:
            lines.append(f"{base}: no migrations (tables created from the models)")
            continue
        before = upgrade_package(engine, migrations)
        if before.state == "current":
            lines.append(f"{migrations.package}: already at {before.head}")
        else:
            lines.append(
                f"{migrations.package}: upgraded from "
                f"{before.revision or before.state} to {before.head}"
            )
    return lines


def serve_refusal(engine: Engine, bases: list[str]) -> str | None:
    """Why ``serve`` must not start on this database (None when it may).

    A package's chain behind or ahead of the database, or (for any base, with or without
    migrations) a table or column its models declare that the database lacks: the
    node would fail on its first read.  The reason is one line naming the package, what
    is wrong and the command to run.
    """
    url = engine.url.render_as_string(hide_password=True)
    run = " ".join(
        ["entanglegen node --db", url, *(f"--base {b}" for b in bases), "upgrade"]
    )
    for base in bases:
        migrations = _migrations_of(base)
        if migrations is None:
            continue
        status = package_status(engine, migrations)
        if status.state in ("current", "empty"):
            continue
        if status.state == "ahead":
            return (
                f"the database is at revision {status.revision} of "
                f"{migrations.package}, newer than this code knows (newest: "
                f"{status.head}): run the newer version of {migrations.package}"
            )
        where = (
            f"at revision {status.revision}"
            if status.revision
            else "without a revision (made before migrations)"
        )
        return (
            f"the database is behind {migrations.package} ({where}, the code needs "
            f"{status.head}): run '{run}'"
        )
    for base in bases:
        missing = _missing_columns(engine, base)
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            fix = (
                f"run '{run}'"
                if _migrations_of(base) is not None
                else "its tables were made from older models: migrate them first"
                " (entanglegen migrations new, for a generated package)"
            )
            return (
                f"the database lacks {missing[0]}{more}, which the models of "
                f"--base {base} declare: {fix}"
            )
    return None


def _missing_columns(engine: Engine, base: str) -> list[str]:
    """``table.column`` (or ``table``) of ``base``'s models absent from the database."""
    import importlib

    module, _, attr = base.rpartition(".")
    target = getattr(importlib.import_module(module or base), attr, None)
    metadatas = {id(m): m for m in _metadatas(target)}
    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names())
    missing: list[str] = []
    for metadata in metadatas.values():
        for table in metadata.sorted_tables:
            if table.name not in present:
                missing.append(table.name)
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [
                f"{table.name}.{c.name}" for c in table.columns if c.name not in have
            ]
    return missing


def _metadatas(target: object) -> list[sa.MetaData]:
    # a declarative base has .metadata; a registry knows its classes
    found = [getattr(target, "metadata", None)]
    classes = getattr(getattr(target, "registry", None), "values", None)
    if callable(classes):
        found += [getattr(cls, "metadata", None) for cls in classes()]
    return [m for m in found if isinstance(m, sa.MetaData)]
