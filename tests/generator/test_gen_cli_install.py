"""A generated package works outside this repository, the way the README installs it.

In a temporary directory: a fresh virtualenv gets the runtime and generator with ``pip
install <entanglegen>`` (not editable: a static install that mypy sees); its
``entanglegen init`` scaffolds a project (the distribution layout), ``entanglegen
build`` generates it, and ``pip install -e generated/<package>`` installs the package
(an editable install that is a static path entry); a script outside the repository
imports and uses it, and ``mypy --strict`` checks it with no PYTHONPATH/MYPYPATH (mypy of
this repository's environment, pointed at the fresh interpreter by
``--python-executable``, which is how mypy finds a target environment's packages).  A
second script with a type error must fail mypy with that error, so a package mypy could
not see (all ``Any``) cannot pass.

The runtime's sources are copied out first (the directories pyproject.toml maps), so the
install builds there and leaves no ``build/`` in the repository.  pip needs the package
index for the runtime's dependencies, as the README's install does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from gen_helpers import ROOT

pytestmark = pytest.mark.slow

APP = '''\
"""Uses the installed package: a node's database, a typed model, a session."""

import datetime
import uuid

import sqlalchemy as sa

from entanglement.sql import SqlSyncRegistry
from shop_sync import Base, Note, ShopRegistry, new_registry


def main() -> None:
    engine = sa.create_engine("sqlite://")
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    registry: ShopRegistry = new_registry(bind=engine)
    with registry.sessionmaker() as session:
        session.add(Note(title="first", body="hello"))
        session.commit()
        note = session.scalars(sa.select(Note)).one()
        key: uuid.UUID = note.id
        when: datetime.datetime = note.created_at
        title: str = note.title
        print(f"{title} {key.version} {when.year > 2000} {note.pinned}")
    engine.dispose()


main()
'''

WRONG = """\
from shop_sync import Note

count: int = Note(title="x").title
"""


def _env() -> dict[str, str]:
    drop = {"PYTHONPATH", "MYPYPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout


def _copy_runtime_sources(dest: Path) -> Path:
    """The files pip needs to build the entanglegen distribution, outside the repo."""
    pyproject = ROOT / "pyproject.toml"
    setuptools = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source in sorted(set(setuptools["package-dir"].values())):
        target = dest / source
        if not target.exists():
            shutil.copytree(ROOT / source, target, ignore=ignore)
    return dest


def test_generated_package_installs_imports_and_type_checks(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, entanglegen = venv / "bin" / "python", venv / "bin" / "entanglegen"
    source = tmp_path / "entanglegen-src"
    source.mkdir()
    _copy_runtime_sources(source)
    _run(python, "-m", "pip", "install", "-q", source, cwd=tmp_path, timeout=600)
    # The installed generator (its templates, the examples) works on its own.
    _run(python, "-c", "import entanglegen_examples.hooks", cwd=tmp_path)
    _run(entanglegen, "init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    _run(entanglegen, "build", cwd=project)
    dist = project / "generated" / "shop_sync"
    assert (dist / "pyproject.toml").is_file()
    assert (dist / "shop_sync" / "py.typed").is_file()
    _run(python, "-m", "pip", "install", "-q", "-e", dist, cwd=project)

    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    assert _run(python, "app.py", cwd=app).split() == ["first", "4", "True", "False"]
    # The editable install is a plain path entry, which mypy follows.
    pth = list(
        (venv / "lib").glob("python3*/site-packages/__editable__*shop_sync*.pth")
    )
    assert [p.read_text().strip() for p in pth] == [str(dist)]

    mypy = (sys.executable, "-m", "mypy", "--strict", "--python-executable", python)
    cache = ("--cache-dir", tmp_path / "mypy-cache")
    out = _run(*mypy, *cache, "app.py", cwd=app)
    assert out.startswith("Success: no issues found in 1 source file"), out
    (app / "wrong.py").write_text(WRONG)
    result = subprocess.run(
        [str(a) for a in (*mypy, *cache, "wrong.py")],
        cwd=app,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        'wrong.py:3: error: Incompatible types in assignment (expression has type "str", '
        'variable has type "int")' in result.stdout
    ), result.stdout
