"""Creating and upgrading the bookkeeping tables with Alembic (PROTOCOL.md §12.1).

Decision rule of :func:`upgrade_database` (the procedure behind
``SqlSyncRegistry.create_bookkeeping``):

1. the version table exists → upgrade to head;
2. else a "user table" exists (``sync_serial`` for the bookkeeping: a database the
   original made before it used Alembic) → stamp the given old revision, then upgrade;
3. else → ``create_all`` from the model and stamp head.

The revision chain starts with the original's ids (``5370406b7505`` → ``dc7778ec1ccc``)
so that databases written by the original upgrade in place; our revisions follow.

Generated SQL packages carry their own chain in ``<package>/migrations/versions``
(written by ``entanglegen migrations new``) with its own version table
``<package>_version``; :class:`PackageMigrations` finds, inspects and applies it (see
:func:`package_status`, :func:`upgrade_package`).  Their revisions run in this
directory's ``env.py``, which takes the connection and version table from the caller.
A database that holds the package's tables but no version table was made before the
package had migrations (``create_all`` of the code of that time) and is taken to be at
the baseline revision, the first of the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from alembic import command, util
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from entanglement.sql.tables import bookkeeping_metadata

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

BOOKKEEPING_VERSION_TABLE = "entanglement_version"
PRE_ALEMBIC_REVISION = "5370406b7505"
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
        user_table="sync_serial",
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


# -- generated packages ------------------------------------------------------------------


class UpgradeError(Exception):
    """A package's migrations cannot be read or applied (the message is one line)."""


@dataclass(frozen=True)
class PackageMigrations:
    """The revision chain of one generated SQL package.

    Attributes:
        package: the package's import name (``exercise_sync``).
        directory: its ``migrations`` directory (``versions/`` and ``schema_state.json``).
    """

    package: str
    directory: Path

    @property
    def version_table(self) -> str:
        """The Alembic version table of this package's chain."""
        return f"{self.package}_version"

    @property
    def tables(self) -> list[str]:
        """The tables the last revision leaves (from ``schema_state.json``)."""
        try:
            state = json.loads(
                (self.directory / "schema_state.json").read_text("utf-8")
            )
            return [str(t["table"]) for t in state["types"].values()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpgradeError(
                f"{self.directory / 'schema_state.json'}: unreadable schema state: {exc}"
            ) from None

    def config(self, conn: Connection | None = None) -> Config:
        """An Alembic configuration running this chain (on ``conn`` when given)."""
        config = Config()
        config.set_main_option("script_location", _SCRIPT_LOCATION)
        # one directory; ``os`` splits on os.pathsep only (spaces in paths are fine)
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(self.directory / "versions"))
        config.attributes["version_table"] = self.version_table
        config.attributes["target_metadata"] = sa.MetaData()
        if conn is not None:
            config.attributes["connection"] = conn
        return config

    def script(self) -> ScriptDirectory:
        """The chain's scripts."""
        return ScriptDirectory.from_config(self.config())

    @property
    def head(self) -> str:
        """The newest revision (what the package's code expects)."""
        try:
            head = self.script().get_current_head()
        except util.CommandError as exc:
            raise UpgradeError(f"{self.package}: {exc}") from None
        if head is None:
            raise UpgradeError(
                f"{self.package}: no revision in {self.directory / 'versions'}"
            )
        return head

    @property
    def baseline(self) -> str:
        """The first revision (the tables as they were before migrations)."""
        bases = self.script().get_bases()
        if len(bases) != 1:
            raise UpgradeError(f"{self.package}: expected one base, found {bases}")
        return bases[0]

    def knows(self, revision: str) -> bool:
        """Whether ``revision`` is one of this chain's revisions."""
        try:
            return self.script().get_revision(revision) is not None
        except util.CommandError:
            return False


def find_package_migrations(module_name: str) -> PackageMigrations | None:
    """The migrations of the generated package ``module_name`` belongs to, if any.

    Looks at ``module_name`` and each package above it for a ``migrations`` directory
    holding ``schema_state.json``; the module must be imported already.
    """
    import sys

    parts = module_name.split(".")
    for end in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:end]))
        paths = getattr(module, "__path__", None)
        for path in paths or ():
            directory = Path(path) / "migrations"
            if (directory / "schema_state.json").is_file():
                return PackageMigrations(".".join(parts[:end]), directory)
    return None


@dataclass(frozen=True)
class PackageStatus:
    """Where a database stands on a package's chain.

    ``state`` is ``current`` (at head), ``behind`` (at an older revision),
    ``unversioned`` (the tables exist without a version table: taken as the baseline),
    ``empty`` (none of the package's tables) or ``ahead`` (a revision this chain does
    not know: the database was upgraded by newer code).
    """

    migrations: PackageMigrations
    state: Literal["current", "behind", "unversioned", "empty", "ahead"]
    revision: str | None
    head: str


def package_status(
    bind: Engine | Connection, migrations: PackageMigrations
) -> PackageStatus:
    """Where the database stands on ``migrations``' chain."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return package_status(conn, migrations)
    head = migrations.head
    present = set(sa.inspect(bind).get_table_names())
    if migrations.version_table not in present:
        held = present & set(migrations.tables)
        return PackageStatus(migrations, "unversioned" if held else "empty", None, head)
    ctx = MigrationContext.configure(
        bind, opts={"version_table": migrations.version_table}
    )
    revision = ctx.get_current_revision()
    if revision == head:
        state: Literal["current", "behind", "ahead"] = "current"
    elif revision is None or migrations.knows(revision):
        state = "behind"
    else:
        state = "ahead"
    return PackageStatus(migrations, state, revision, head)


def upgrade_package(
    bind: Engine | Connection, migrations: PackageMigrations
) -> PackageStatus:
    """Apply ``migrations``' revisions up to head, in one transaction.

    An empty database gets the whole chain; one without a version table is stamped at
    the baseline first.  Returns the status before the upgrade.

    Raises:
        UpgradeError: the database is ahead of the chain, or a revision failed (the
            transaction is rolled back; the message names the revision's error).
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return upgrade_package(conn, migrations)
    before = package_status(bind, migrations)
    if before.state == "ahead":
        raise UpgradeError(
            f"the database is at revision {before.revision} of {migrations.package}, "
            f"which this code does not know (newest: {before.head}): it was upgraded "
            "by a newer version"
        )
    config = migrations.config(bind)
    try:
        if before.state == "unversioned":
            command.stamp(config, migrations.baseline)
        command.upgrade(config, "head")
    except (sa.exc.SQLAlchemyError, util.CommandError) as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise UpgradeError(
            f"upgrading {migrations.package} failed: {type(exc).__name__}: {first}"
        ) from None
    return before


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
    """Why ``serve`` must not start on this database (None when every chain is at head).

    The reason is one line naming the package, the revisions and the command to run.
    """
    for base in bases:
        migrations = _migrations_of(base)
        if migrations is None:
            continue
        status = package_status(engine, migrations)
        if status.state in ("current", "empty"):
            continue
        url = engine.url.render_as_string(hide_password=True)
        run = " ".join(
            ["entanglegen node --db", url, *(f"--base {b}" for b in bases), "upgrade"]
        )
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
    return None
