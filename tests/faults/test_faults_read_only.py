"""A database that cannot be written (issue 10 item 11), through the real CLI.

Before the fix ``serve`` started, listened, and then logged an 88-line traceback per
connection attempt, forever; ``add`` said "internal error ... please report this".  Both
must say once, at start, that the database cannot be written: one line naming the
file, exit status 1.  ``list`` only reads and still works.

How a read-only database is made when the tests run as root, where ``chmod 444`` does
not stop writes (root bypasses file modes through CAP_DAC_OVERRIDE): the CLI is run
under ``setpriv --bounding-set -dac_override,-dac_read_search,-fowner``, i.e. as root
without the capabilities that override file modes, so the ``chmod 444`` file refuses
writes to it exactly as it does to an ordinary user (SQLite then opens it read-only and
answers SQLITE_READONLY).  A non-root run needs no wrapper.  Two other real read-only
databases are tried as well: an SQLite ``?mode=ro`` URI, and a PostgreSQL session whose
transactions are read-only (``default_transaction_read_only=on``).

Not marked ``faults``: these are quick and stay in the quick run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from faults_helpers import BASE, NODE, cli_ok, env

NO_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def _as_user(*args: str) -> subprocess.CompletedProcess[str]:
    """``entanglegen node ARGS`` with file modes enforced, even for root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip(
                "running as root without setpriv: file modes cannot be enforced"
            )
        prefix = NO_OVERRIDE
    return subprocess.run([*prefix, *NODE, *args], capture_output=True, text=True,
                          env=env(), timeout=60, check=False)  # fmt: skip


def _serve_args(pki) -> list[str]:
    a = pki["a"]
    return ["serve", "--cert", str(a.cert), "--key", str(a.key), "--ca", str(a.cafile),
            "--listen", "127.0.0.1:0"]  # fmt: skip


def _assert_refused(result: subprocess.CompletedProcess[str], name: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert result.stderr.strip().splitlines() == [
        f"entanglegen node: error: database {name} cannot be written "
        "(attempt to write a readonly database)"
    ], out
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    assert "listening" not in out, out  # refused before serving anything


@pytest.fixture
def read_only_file(tmp_path: Path) -> Path:
    """An SQLite file with the node's tables, then ``chmod 444``."""
    path = tmp_path / "node.sqlite"
    cli_ok("--db", f"sqlite:///{path}", *BASE, "list")
    path.chmod(0o444)
    return path


def test_a_chmod_444_file_is_refused_once_at_start(pki, read_only_file: Path) -> None:
    db = f"sqlite:///{read_only_file}"
    hash_text = str(pki["b"].hash)
    _assert_refused(_as_user("--db", db, *BASE, "add", "--hash", hash_text),
                    str(read_only_file))  # fmt: skip
    _assert_refused(_as_user("--db", db, "remove", "--hash", hash_text),
                    str(read_only_file))  # fmt: skip
    _assert_refused(_as_user("--db", db, *BASE, *_serve_args(pki)), str(read_only_file))
    listed = _as_user("--db", db, *BASE, "list")
    assert listed.returncode == 0, listed.stderr
    # the check itself changed nothing: the file was never written
    assert read_only_file.stat().st_mode & 0o777 == 0o444


def test_a_read_only_sqlite_uri_is_refused_once_at_start(pki, read_only_file: Path):
    db = f"sqlite:///file:{read_only_file}?mode=ro&uri=true"
    result = subprocess.run([*NODE, "--db", db, *BASE, *_serve_args(pki)],
                            capture_output=True, text=True, env=env(), timeout=60,
                            check=False)  # fmt: skip
    _assert_refused(result, str(read_only_file))
    result = subprocess.run([*NODE, "--db", db, "add", "--hash", str(pki["b"].hash)],
                            capture_output=True, text=True, env=env(), timeout=60,
                            check=False)  # fmt: skip
    _assert_refused(result, str(read_only_file))


@pytest.mark.postgres
def test_a_read_only_postgresql_session_is_refused_once_at_start(pki, postgres_url):
    cli_ok("--db", postgres_url, *BASE, "list")  # tables made while writable
    db = postgres_url + "%20-cdefault_transaction_read_only%3Don"
    shown = db.split("?")[0]
    for args in (["add", "--hash", str(pki["b"].hash)], _serve_args(pki)):
        result = subprocess.run([*NODE, "--db", db, *BASE, *args], capture_output=True,
                                text=True, env=env(), timeout=60, check=False)  # fmt: skip
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, out
        assert lines[0].startswith(f"entanglegen node: error: database {shown}?"), out
        assert lines[0].endswith(
            " cannot be written (cannot execute UPDATE in a read-only transaction)"
        ), out
        assert "Traceback" not in out, out
        assert "listening" not in out, out
