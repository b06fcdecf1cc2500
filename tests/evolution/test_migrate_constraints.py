"""Revisions of the table options and of decimals, applied to real databases with rows.

A project in a temp directory is generated at v1 (no table options) and its database,
a real SQLite file or a PostgreSQL schema, is built by the baseline and filled.  v2 adds
what the schema's table options put in the database (a unique property, an index, a
CHECK, a composite unique index, a server default), a required decimal with a default
and a wider decimal; v3 takes the unique constraint, the CHECK and the index away and
changes the server default.  ``entanglegen migrations new`` writes each revision and
:func:`upgrade_package` applies it: every row must survive with exact decimals, the
tables must match the models (Alembic's comparison, server defaults included), and the
constraints must hold in the database exactly while the schema declares them.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import io
import itertools
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from entanglegen.cli import main as entanglegen
from entanglement.sql.schema.tables import bookkeeping_metadata
from entanglement.sql.schema.upgrade import (
    PackageMigrations,
    create_bookkeeping_tables,
    package_status,
    upgrade_package,
)

V1 = """\
registry: shop
package: {package}
storage: sql
types:
  Product:
    table: products
    primary_key: sku
    properties:
      sku: {{type: str, length: 16}}
      name: {{type: str, length: 40}}
      stock: int
      price: {{type: decimal, precision: 8, scale: 2}}
"""

V2 = """\
registry: shop
package: {package}
storage: sql
types:
  Product:
    table: products
    primary_key: sku
    indexes:
      - {{properties: [name, stock], unique: true}}
    properties:
      sku: {{type: str, length: 16}}
      name: {{type: str, length: 40, unique: true}}
      stock: {{type: int, index: true, check: "stock >= 0", server_default: 0}}
      price: {{type: decimal, precision: 14, scale: 2}}
      deposit: {{type: decimal, precision: 6, scale: 2, default: "0.25"}}
"""

V3 = """\
registry: shop
package: {package}
storage: sql
types:
  Product:
    table: products
    primary_key: sku
    indexes:
      - {{properties: [name, stock], unique: true}}
    properties:
      sku: {{type: str, length: 16}}
      name: {{type: str, length: 40}}
      stock: {{type: int, server_default: 5}}
      price: {{type: decimal, precision: 14, scale: 2}}
      deposit: {{type: decimal, precision: 6, scale: 2, default: "0.25"}}
"""


@pytest.fixture(autouse=True)
def _sql_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated decimal columns import ``entanglement.sql.exact``, which the runtime's
    re-layout (7286aa3) moved to ``entanglement.sql.schema.exact`` without the public
    re-export its sibling modules kept (reported to the lead).  Until it is back, the
    generated code is given the real module under that name; once it is, nothing is done.
    """
    try:
        importlib.import_module("entanglement.sql.exact")
    except ImportError:
        from entanglement.sql.schema import exact

        monkeypatch.setitem(sys.modules, "entanglement.sql.exact", exact)
        monkeypatch.setattr("entanglement.sql.exact", exact, raising=False)


ROWS = [
    ("a-1", "anvil", 3, "19.99"),
    ("b-2", "bellows", 0, "123456.05"),
    ("c-3", "chisel", 12, "0.10"),
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

    def revise(self, schema: str, message: str) -> str:
        """Write ``schema``, its revision and its build; the revision's text."""
        (self.root / "schemas" / "shop.yaml").write_text(
            schema.format(package=self.package)
        )
        for args in (("migrations", "new", "-m", message), ("build",)):
            out, err = io.StringIO(), io.StringIO()
            old = Path.cwd()
            os.chdir(self.root)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = entanglegen(list(args))
            finally:
                os.chdir(old)
            assert code == 0, out.getvalue() + err.getvalue()
        for name in [m for m in sys.modules if m.split(".")[0] == self.package]:
            del sys.modules[name]  # the models of the previous schema
        importlib.invalidate_caches()
        versions = sorted(self.migrations.directory.glob("versions/rev_*.py"))
        return versions[-1].read_text()


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


def _compact(code: str) -> str:
    """Code without the layout black gives it (spaces, line breaks, magic commas)."""
    return re.sub(r"\s+", "", code).replace('"', "'").replace(",)", ")")


def _differences(engine: sa.Engine, package: str) -> list[object]:
    """Alembic's differences between the database and the package's models (types and
    server defaults compared), leaving out the runtime's and Alembic's own tables."""
    metadata = importlib.import_module(package).Base.metadata
    ours = set(metadata.tables)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        found = compare_metadata(ctx, metadata)
    assert not set(bookkeeping_metadata.tables) & ours
    return [d for d in found if ours & {str(p) for p in _names(d)}]


def _names(diff: object) -> Iterator[object]:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        yield getattr(getattr(part, "table", None), "name", part)
        yield getattr(part, "name", part)


def _rows(engine: sa.Engine, package: str) -> list[tuple[object, ...]]:
    """The products through the package's own models (ExactDecimal reads them)."""
    module = importlib.import_module(package)
    with sa.orm.Session(engine) as session:
        products = session.scalars(
            sa.select(module.Product).order_by(module.Product.sku)
        ).all()
        return [
            (p.sku, p.name, p.stock, p.price, getattr(p, "deposit", None))
            for p in products
        ]


_SERIALS = itertools.count(1)


def _insert(engine: sa.Engine, package: str, **values: object) -> None:
    """A row written by the models as a local change would be (with its serial)."""
    module = importlib.import_module(package)
    with sa.orm.Session(engine) as session:
        product = module.Product(**values)
        product.sync_serial = next(_SERIALS)
        session.add(product)
        session.commit()


def _refused(engine: sa.Engine, package: str, **values: object) -> bool:
    try:
        _insert(engine, package, **values)
    except sa.exc.IntegrityError:
        return True
    return False


def test_table_options_and_decimals_migrate_with_their_rows(
    project: Project, db_factory: Callable[[str], str]
) -> None:
    engine = sa.create_engine(db_factory("shop"))
    try:
        project.revise(V1, "Baseline")
        create_bookkeeping_tables(engine)
        upgrade_package(engine, project.migrations)
        for sku, name, stock, price in ROWS:
            _insert(
                engine,
                project.package,
                sku=sku,
                name=name,
                stock=stock,
                price=decimal.Decimal(price),
            )

        text = project.revise(V2, "Constraints")
        for call in (
            "batch.create_unique_constraint('uq_products_name', ['name'])",
            "batch.create_check_constraint('ck_products_stock', 'stock >= 0')",
            "op.create_index('ix_products_stock', 'products', ['stock'])",
            "op.create_index('ix_products_name_stock', 'products', "
            "['name', 'stock'], unique=True)",
            "server_default='0'",
        ):
            assert _compact(call) in _compact(text), call
        upgrade_package(engine, project.migrations)
        assert package_status(engine, project.migrations).state == "current"
        assert _differences(engine, project.package) == []
        deposit = decimal.Decimal("0.25")
        assert _rows(engine, project.package) == [
            (sku, name, stock, decimal.Decimal(price), deposit)
            for sku, name, stock, price in ROWS
        ]
        big = decimal.Decimal("999999999999.99")  # 14 digits: the widened column
        _insert(engine, project.package, sku="d-4", name="drill", stock=1, price=big)
        assert _rows(engine, project.package)[-1][3] == big
        assert _refused(
            engine, project.package, sku="e-5", name="anvil", stock=9, price=big
        )
        assert _refused(
            engine, project.package, sku="e-5", name="easel", stock=-1, price=big
        )
        with engine.begin() as conn:  # the server default, without the models
            conn.execute(
                sa.text(
                    "INSERT INTO products (sku, name, price, deposit, sync_serial)"
                    " VALUES ('f-6', 'file', 1, 0, 1)"
                )
            )
            assert (
                conn.scalar(sa.text("SELECT stock FROM products WHERE sku = 'f-6'"))
                == 0
            )

        text = project.revise(V3, "Fewer constraints")
        assert _compact("drop_constraint('uq_products_name', type_='unique')") in (
            _compact(text)
        )
        upgrade_package(engine, project.migrations)
        assert _differences(engine, project.package) == []
        assert len(_rows(engine, project.package)) == len(ROWS) + 2
        # what v3 no longer declares, the database no longer enforces
        _insert(engine, project.package, sku="g-7", name="anvil", stock=-2, price=big)

        with engine.begin() as conn:  # rows the v1 table cannot hold (PostgreSQL
            # refuses to narrow NUMERIC over them; SQLite would keep them as they are)
            conn.execute(sa.text("DELETE FROM products WHERE sku IN ('d-4', 'g-7')"))
            command.downgrade(project.migrations.config(conn), "0001")
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT sku FROM products ORDER BY sku"))
            assert [r[0] for r in kept] == ["a-1", "b-2", "c-3", "f-6"]
    finally:
        engine.dispose()
