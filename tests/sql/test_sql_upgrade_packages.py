"""Migrations of a generated SQL package, end to end, on SQLite files and PostgreSQL.

A project in a temp directory is generated at schema v1 with its baseline revision; its
database is built at that revision and filled with rows; the schema changes (nullable,
defaulted NOT NULL and json/datetime columns added, a property and a type renamed via
``renamed_from``, a column dropped, a length and an enum widened, int to float, a
nullable column made required); ``entanglegen migrations new`` writes revision 0002 and
``entanglegen node ... upgrade`` applies it.  Every row and value must survive, and the
migrated tables must match what the v2 models declare (Alembic's own comparison).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from entanglegen.cli import main as entanglegen
from entanglement.node import main as node
from entanglement.sql.schema.upgrade import (
    PackageMigrations,
    create_bookkeeping_tables,
    package_status,
    serve_refusal,
    upgrade_package,
)

V1 = """\
registry: shop
package: {package}
storage: sql
enums:
  Size: {{values: [s, m, l]}}
types:
  Item:
    table: items
    primary_key: id
    properties:
      id: int
      name: {{type: str, length: 10}}
      note: {{type: str, nullable: true}}
      old_title: {{type: str, length: 20}}
      obsolete: {{type: int, nullable: true}}
      stock: int
      size: Size
  Tag:
    table: tags
    primary_key: id
    properties:
      id: int
      item: Item
      label: {{type: str, length: 8}}
"""

V2 = """\
registry: shop
package: {package}
storage: sql
enums:
  Size: {{values: [s, m, l, xl]}}
types:
  Item:
    table: items
    primary_key: id
    properties:
      id: int
      name: {{type: str, length: 40}}
      note: {{type: str, default: "-"}}
      title: {{type: str, length: 30, renamed_from: old_title}}
      stock: float
      size: Size
      comment: {{type: str, nullable: true}}
      colour: {{type: str, length: 7, default: "#000000"}}
      count: {{type: int, default: 3}}
      flags: {{type: json, default: {{a: 1}}}}
      added_at: {{type: datetime, default: now}}
      token: {{type: uuid, default: random}}
      since: {{type: date, default: 2020-01-02}}
  Label:
    renamed_from: Tag
    table: labels
    primary_key: id
    properties:
      id: int
      item: Item
      label: {{type: str, length: 8}}
"""

ROWS = [
    (1, "ab", None, "first", 7, 5, "s"),
    (2, "x" * 10, "kept", "second", None, 0, "l"),
]


class Project:
    """A temp entanglegen project with one SQL package of a unique name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.package = f"shop_{uuid.uuid4().hex[:8]}"
        (root / "schemas").mkdir(parents=True)
        (root / "pyproject.toml").write_text(
            '[tool.entanglegen]\nschemas = ["schemas"]\noutput = "generated"\n'
        )
        self.migrations = PackageMigrations(
            self.package, root / "generated" / self.package / "migrations"
        )

    def cli(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        old = Path.cwd()
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = entanglegen(list(args))
        finally:
            os.chdir(old)
        return code, out.getvalue(), err.getvalue()

    def schema(self, text: str) -> None:
        (self.root / "schemas" / "shop.yaml").write_text(
            text.format(package=self.package)
        )

    def revise(self, message: str) -> None:
        code, out, err = self.cli("migrations", "new", "-m", message)
        assert code == 0, out + err
        code, out, err = self.cli("build")
        assert code == 0, out + err
        importlib.invalidate_caches()  # generated/ appeared after it went on sys.path

    def base(self) -> str:
        return f"{self.package}.Base"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    proj = Project(tmp_path / "proj")
    generated = str(proj.root / "generated")
    sys.path.insert(0, generated)
    try:
        yield proj
    finally:
        sys.path.remove(generated)
        for name in [m for m in sys.modules if m.split(".")[0] == proj.package]:
            del sys.modules[name]


def _node(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = node(list(args))
    return code, out.getvalue(), err.getvalue()


def _v1_database(project: Project, url: str) -> sa.Engine:
    """The database at revision 0001 (the v1 chain, not the v1 models), with rows."""
    project.schema(V1)
    project.revise("Baseline")
    engine = sa.create_engine(url)
    create_bookkeeping_tables(engine)
    upgrade_package(engine, project.migrations)
    with engine.begin() as conn:
        for i, (key, name, note, title, obsolete, stock, size) in enumerate(ROWS):
            conn.execute(
                sa.text(
                    "INSERT INTO items (id, name, note, old_title, obsolete, stock, size,"
                    " sync_serial) VALUES (:id, :name, :note, :t, :o, :st, :sz, :serial)"
                ),
                dict(
                    id=key,
                    name=name,
                    note=note,
                    t=title,
                    o=obsolete,
                    st=stock,
                    sz=size,
                    serial=10 + i,
                ),
            )
            conn.execute(
                sa.text(
                    "INSERT INTO tags (id, item, label, sync_serial)"
                    " VALUES (:id, :item, :label, :serial)"
                ),
                dict(id=100 + key, item=key, label=f"tag{key}", serial=20 + i),
            )
    return engine


def _package_differences(engine: sa.Engine, project: Project) -> list[object]:
    """What Alembic finds between the database and the package's current models."""
    module = importlib.import_module(project.package)
    return _differences(engine, module.Base.metadata)


def _differences(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    """Alembic's differences between the database and ``metadata``, leaving out the
    bookkeeping and version tables (not the package's)."""
    from entanglement.sql.schema.tables import bookkeeping_metadata

    others = set(bookkeeping_metadata.tables)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        found = compare_metadata(ctx, metadata)
    return [
        d
        for d in found
        if _table_of(d) not in others and not str(_table_of(d)).endswith("_version")
    ]


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        if isinstance(part, str):
            return part
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(part, sa.Table):
            return part.name
    return None


def test_upgrade_keeps_every_row_and_value(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    url = db_factory("node")
    engine = _v1_database(project, url)
    try:
        project.schema(V2)
        project.revise("Evolve items and rename tags")
        revision = next(project.migrations.directory.glob("versions/rev_0002_*.py"))
        text = revision.read_text()
        assert "new_column_name='title'" in text.replace('"', "'")
        assert "op.rename_table('tags', 'labels')" in text.replace('"', "'")

        assert package_status(engine, project.migrations).state == "behind"
        assert serve_refusal(engine, [project.base()]) is not None
        code, out, err = _node("--db", url, "--base", project.base(), "upgrade")
        assert code == 0, out + err
        assert f"{project.package}: upgraded from 0001 to 0002" in out
        assert package_status(engine, project.migrations).state == "current"
        assert serve_refusal(engine, [project.base()]) is None

        with engine.connect() as conn:
            items = conn.execute(
                sa.text(
                    "SELECT id, name, note, title, stock, size, comment, colour, count,"
                    " flags, added_at, token, since, sync_serial FROM items ORDER BY id"
                )
            ).all()
            labels = conn.execute(
                sa.text("SELECT id, item, label, sync_serial FROM labels ORDER BY id")
            ).all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("items")}
        assert "obsolete" not in columns
        assert "old_title" not in columns
        for row, (key, name, note, title, _, stock, size) in zip(
            items, ROWS, strict=True
        ):
            assert row[:7] == (key, name, "-" if note is None else note, title,
                               float(stock), size, None)  # fmt: skip
            assert (row.colour, row.count) == ("#000000", 3)
            flags = (
                row.flags
                if isinstance(row.flags, dict)
                else __import__("json").loads(row.flags)
            )
            assert flags == {"a": 1}
            assert row.added_at is not None
            assert uuid.UUID(hex=row.token)
            assert str(row.since) == "2020-01-02"
        assert items[0].sync_serial == 10
        assert items[1].sync_serial == 11
        assert len({row.token for row in items}) == 2  # each row its own random default
        assert [tuple(r) for r in labels] == [
            (101, 1, "tag1", 20),
            (102, 2, "tag2", 21),
        ]
        assert _package_differences(engine, project) == []

        # the new models write and read the migrated tables
        module = __import__(project.package)
        with sa.orm.Session(engine) as session:
            item = session.get(module.Item, 2)
            assert item is not None
            assert item.title == "second"
            assert item.size.value == "l"
            item.size = module.Size("xl")
            item.name = "y" * 40
            session.commit()
    finally:
        engine.dispose()


def test_downgrade_returns_to_the_baseline(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    from alembic import command

    url = db_factory("down")
    engine = _v1_database(project, url)
    try:
        project.schema(V2)
        project.revise("Evolve")
        upgrade_package(engine, project.migrations)
        with engine.begin() as conn:
            command.downgrade(project.migrations.config(conn), "0001")
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            rows = conn.execute(sa.text("SELECT id, old_title FROM items ORDER BY id"))
            assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
        assert "tags" in names
        assert "labels" not in names
        assert package_status(engine, project.migrations).revision == "0001"
    finally:
        engine.dispose()


def test_fresh_database_gets_the_chain_and_matches_the_models(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    project.schema(V1)
    project.revise("Baseline")
    project.schema(V2)
    project.revise("Evolve")
    url = db_factory("fresh")
    code, out, err = _node("--db", url, "--base", project.base(), "list")
    assert code == 0, out + err
    engine = sa.create_engine(url)
    try:
        assert package_status(engine, project.migrations).state == "current"
        assert _package_differences(engine, project) == []
    finally:
        engine.dispose()


def test_database_made_before_migrations_is_taken_as_the_baseline(
    project: Project, tmp_path: Path
) -> None:
    project.schema(V1)
    project.revise("Baseline")
    module = __import__(project.package)
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    try:
        create_bookkeeping_tables(engine)
        module.Base.metadata.create_all(engine)  # what 'node' did before migrations
        assert package_status(engine, project.migrations).state == "unversioned"
        refusal = serve_refusal(engine, [project.base()])
        assert refusal is not None
        assert "made before migrations" in refusal
        code, out, err = _node("--db", url, "--base", project.base(), "upgrade")
        assert code == 0, out + err
        assert package_status(engine, project.migrations).state == "current"
    finally:
        engine.dispose()


def _serve(
    url: str, base: str, cwd: Path, pki: dict
) -> subprocess.CompletedProcess[str]:
    cert = pki["a"]
    return subprocess.run(
        [sys.executable, "-m", "entanglegen", "node", "--db", url, "--base", base,
         "serve", "--cert", str(cert.cert), "--key", str(cert.key),
         "--ca", str(cert.cafile), "--listen", "127.0.0.1:0"],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_serve_refuses_a_database_behind_or_ahead(
    project: Project, tmp_path: Path, pki: dict
) -> None:
    db = tmp_path / "behind.sqlite"
    url = f"sqlite:///{db}"
    _v1_database(project, url).dispose()
    project.schema(V2)
    project.revise("Evolve")

    behind = _serve(url, project.base(), project.root, pki)
    assert behind.returncode == 1, behind.stderr
    lines = behind.stderr.strip().splitlines()
    assert lines == [
        f"entanglegen node: error: the database is behind {project.package} (at "
        f"revision 0001, the code needs 0002): run 'entanglegen node --db {url} "
        f"--base {project.base()} upgrade'"
    ]

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"UPDATE {project.migrations.version_table} SET version_num = '0042'"
                )
            )
    finally:
        engine.dispose()
    ahead = _serve(url, project.base(), project.root, pki)
    assert ahead.returncode == 1
    assert "Traceback" not in ahead.stderr
    assert ahead.stderr.strip().splitlines() == [
        f"entanglegen node: error: the database is at revision 0042 of "
        f"{project.package}, newer than this code knows (newest: 0002): run the "
        f"newer version of {project.package}"
    ]
    code, _out, err = _node("--db", url, "--base", project.base(), "upgrade")
    assert code == 1
    assert "newer version" in err
    assert "Traceback" not in err


def test_failed_revision_is_one_line_and_changes_nothing(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    url = db_factory("fail")
    engine = _v1_database(project, url)
    try:
        # a required column without default cannot be added to a table with rows
        project.schema(
            V1.replace(
                "      stock: int\n",
                "      stock: int\n      extra: {{type: str, nullable: true}}\n"
                "      sku: str\n",
            )
        )
        code, _, err = project.cli("migrations", "new", "-m", "Add sku")
        assert code == 0
        assert "items.sku is required and has no default" in err
        code, _out, err = _node("--db", url, "--base", project.base(), "upgrade")
        assert code == 1
        assert err.startswith(
            f"entanglegen node: error: upgrading {project.package} failed:"
        )
        assert len(err.strip().splitlines()) == 1
        assert package_status(engine, project.migrations).revision == "0001"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar() == 2
            columns = {c["name"] for c in sa.inspect(conn).get_columns("items")}
        assert "extra" not in columns  # the step before the failing one is undone
    finally:
        engine.dispose()


def test_now_default_fills_with_the_upgrade_time(
    project: Project, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'now.sqlite'}"
    engine = _v1_database(project, url)
    try:
        project.schema(V2)
        project.revise("Evolve")
        before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        upgrade_package(engine, project.migrations)
        with engine.connect() as conn:
            stamps = conn.execute(sa.text("SELECT added_at FROM items")).scalars().all()
        parsed = [
            datetime.datetime.fromisoformat(str(s)).replace(tzinfo=None) for s in stamps
        ]
        assert all(p >= before - datetime.timedelta(seconds=1) for p in parsed)
    finally:
        engine.dispose()


def test_committed_example_package_chain_matches_its_models(
    db_factory: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from entanglement.sql.schema.upgrade import find_package_migrations

    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "generated"))
    exercise_sync = importlib.import_module("exercise_sync")

    migrations = find_package_migrations("exercise_sync")
    assert migrations is not None
    engine = sa.create_engine(db_factory("example"))
    try:
        create_bookkeeping_tables(engine)
        upgrade_package(engine, migrations)
        assert _differences(engine, exercise_sync.Base.metadata) == []
    finally:
        engine.dispose()


def test_serve_starts_once_upgraded(
    project: Project, tmp_path: Path, pki: dict
) -> None:
    import signal
    import socket
    import time

    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    _v1_database(project, url).dispose()
    project.schema(V2)
    project.revise("Evolve")
    assert _node("--db", url, "--base", project.base(), "upgrade")[0] == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cert, log = pki["a"], tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entanglegen", "node", "--db", url,
             "--base", project.base(), "serve", "--cert", str(cert.cert),
             "--key", str(cert.key), "--ca", str(cert.cafile),
             "--listen", f"127.0.0.1:{port}"],
            cwd=project.root, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bookkeeping_of_newer_code_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.sqlite'}"
    engine = sa.create_engine(url)
    try:
        create_bookkeeping_tables(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE entanglement_version SET version_num = 'f00d'")
            )
    finally:
        engine.dispose()
    code, _, err = _node("--db", url, "upgrade")
    assert code == 2
    assert err == (
        "entanglegen node: error: cannot upgrade the tables of entanglement_version: "
        "Can't locate revision identified by 'f00d' (was the database upgraded by a "
        "newer version?)\n"
    )


CHILDLESS = """\
registry: fleet
package: {package}
storage: sql
types:
  Machine:
    table: machines
    primary_key: id
    properties:
      id: int
      name: {{type: str, length: 20}}
"""

WITH_CHILD = CHILDLESS + """\
  Robot:
    parent: Machine
    table: robots
    properties:
      arms: {{type: int, default: 2}}
"""


def test_first_child_type_fills_the_parents_discriminator(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    project.schema(CHILDLESS)
    project.revise("Baseline")
    url = db_factory("fleet")
    engine = sa.create_engine(url)
    try:
        create_bookkeeping_tables(engine)
        upgrade_package(engine, project.migrations)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO machines (id, name, sync_serial) VALUES (1, 'm1', 1),"
                    " (2, 'm2', 2)"
                )
            )
        project.schema(WITH_CHILD)
        project.revise("Robots")
        assert _node("--db", url, "--base", project.base(), "upgrade")[0] == 0
        assert _package_differences(engine, project) == []
        module = importlib.import_module(project.package)
        with sa.orm.Session(engine) as session:
            machines = session.scalars(
                sa.select(module.Machine).order_by(module.Machine.id)
            ).all()
            assert [(type(m).__name__, m.name) for m in machines] == [
                ("Machine", "m1"),
                ("Machine", "m2"),
            ]
            session.add(module.Robot(id=3, name="r3", arms=4, sync_serial=3))
            session.commit()
        with engine.connect() as conn:
            kinds = conn.execute(
                sa.text("SELECT id, sync_kind FROM machines ORDER BY id")
            )
            assert [tuple(r) for r in kinds] == [
                (1, "Machine"),
                (2, "Machine"),
                (3, "Robot"),
            ]
    finally:
        engine.dispose()


def test_sqlite_foreign_keys_on_survive_an_upgrade(
    project: Project, tmp_path: Path
) -> None:
    # labels reference items, and items is copied by batch mode: with foreign keys
    # enforced, the copy's DROP TABLE would fail on the referencing rows
    url = f"sqlite:///{tmp_path / 'fk.sqlite'}"
    _v1_database(project, url).dispose()
    project.schema(V2)
    project.revise("Evolve")
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _enforce(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    try:
        upgrade_package(engine, project.migrations)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM labels")).scalar() == 2
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()


def test_serve_refuses_tables_older_than_models_without_migrations(
    tmp_path: Path, pki: dict
) -> None:
    # the bug of issue 9: a node on tables made from older models started, then failed
    # on every read; node_app (tests/sql) has no migrations
    db = tmp_path / "older.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE item (id VARCHAR(32) PRIMARY KEY)"))
    finally:
        engine.dispose()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    cert = pki["a"]
    result = subprocess.run(
        [sys.executable, "-m", "entanglegen", "node", "--db", f"sqlite:///{db}",
         "--base", "node_app.Base", "serve", "--cert", str(cert.cert),
         "--key", str(cert.key), "--ca", str(cert.cafile), "--listen", "127.0.0.1:0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "entanglegen node: error: the database lacks item.label and 2 more, which the "
        "models of --base node_app.Base declare: its tables were made from older "
        "models: migrate them first (entanglegen migrations new, for a generated "
        "package)"
    ]
