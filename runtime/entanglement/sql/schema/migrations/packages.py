"""The revision chains of generated SQL packages (``<package>/migrations``).

``entanglegen migrations new`` writes each generated SQL package's chain into
``<package>/migrations/versions`` and the state its head leaves into
``<package>/migrations/schema_state.json``.  Every chain has its own Alembic version table,
``<package>_version``, so packages and the bookkeeping chain never share a history.  The
revisions run in this directory's ``env.py`` (the one of the bookkeeping chain), which
takes the connection and the version table from the caller.

A database that holds the package's tables but no version table was made before the
package had migrations (``create_all`` of the code of that time); it is taken to be at the
baseline, the first revision of the chain, which creates the tables as they were then.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command, util
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "PackageMigrations",
    "PackageStatus",
    "UpgradeError",
    "find_package_migrations",
    "package_status",
    "upgrade_package",
]

_SCRIPT_LOCATION = str(Path(__file__).parent)


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
        with bind.connect() as conn:
            if conn.dialect.name != "sqlite":
                with conn.begin():
                    return upgrade_package(conn, migrations)
            return _upgrade_sqlite(conn, migrations)
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
    except Exception as exc:  # a revision is code under review: any failure is one line
        first = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
        raise UpgradeError(
            f"upgrading {migrations.package} failed: {type(exc).__name__}: {first}"
        ) from None
    return before


def _upgrade_sqlite(conn: Connection, migrations: PackageMigrations) -> PackageStatus:
    """:func:`upgrade_package` on SQLite, in one transaction, foreign keys unchecked.

    Batch mode copies a table, drops the original and renames the copy; with
    ``PRAGMA foreign_keys=ON`` (which an application may set on its connections) that
    DROP would fail on, or cascade to, the rows that reference it.  The pragma cannot
    change inside a transaction, so it is switched off before and restored after.
    """
    raw: Any = conn.connection.driver_connection
    enforced = bool(raw.execute("PRAGMA foreign_keys").fetchone()[0])
    if enforced:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            # The sqlite3 driver opens a transaction only before DML: without this BEGIN
            # a revision's DDL would commit statement by statement.
            conn.exec_driver_sql("BEGIN")
            return upgrade_package(conn, migrations)
    finally:
        if enforced:
            raw.execute("PRAGMA foreign_keys=ON")
