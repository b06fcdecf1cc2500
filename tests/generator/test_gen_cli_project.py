"""A project made by ``entanglegen init`` (the distribution layout) with the other
commands: migrations land inside the import package and survive rebuilds, ``node`` sees
the package without an install, and ``demo`` outside the repository says what it needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gen_helpers import run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_cli("init", "shop", cwd=tmp_path)[0] == 0
    root = tmp_path / "shop"
    code, _, err = run_cli("build", "-q", cwd=root)
    assert code == 0, err
    return root


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "entanglegen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrations_live_in_the_import_package(project: Path) -> None:
    code, out, err = run_cli("migrations", "new", "-m", "baseline", cwd=project)
    assert code == 0, err
    package = project / "generated" / "shop_sync" / "shop_sync"
    revision = package / "migrations" / "versions" / "rev_0001_baseline.py"
    assert out == f"wrote {revision.relative_to(project).as_posix()}\n"
    assert (package / "migrations" / "schema_state.json").is_file()
    assert run_cli("migrations", "check", cwd=project)[0] == 0
    # The build neither reports a pending change nor takes the revisions as stale.
    assert run_cli("build", "--check", cwd=project) == (0, "", "")
    schema = project / "schemas" / "shop.yaml"
    schema.write_text(
        schema.read_text() + "      archived: {type: bool, default: false}\n"
    )
    code, _, err = run_cli("build", cwd=project)
    assert code == 1
    assert "no revision" in err or "migrations new" in err, err
    assert revision.is_file()


def test_node_sees_the_package_of_a_distribution(project: Path) -> None:
    db = f"sqlite:///{project / 'node.sqlite'}"
    result = _cli("node", "--db", db, "--base", "shop_sync.Base", "list", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "node.sqlite").is_file()


def test_demo_outside_the_repository_says_what_it_needs(project: Path) -> None:
    result = _cli("demo", "--timeout", "5", cwd=project)
    assert result.returncode == 2
    assert "the generated exercise_sync package is not importable" in result.stderr
    assert "Traceback" not in result.stderr
