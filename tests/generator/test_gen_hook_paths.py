"""Dotted hook paths of an application's own modules, checked by the installed CLI.

The issue's case: a project keeps its hooks beside its ``pyproject.toml`` (``myhooks/``)
and runs ``entanglegen check`` there.  Those modules are on no interpreter path of the
``entanglegen`` script, yet a typo in the function name or in a module name must be a
located error with the path meant, and paths that may well work (an attribute of a
plain module, a name the package's ``__init__`` binds) must not be refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENTANGLEGEN = Path(sys.executable).with_name("entanglegen")

PYPROJECT = """\
[project]
name = "whiteboard"
version = "0.1.0"

[tool.entanglegen]
schemas = ["schemas"]
output = "generated"
"""

SCHEMA = """\
registry: wb
package: wb_sync
storage: memory
policy:
  should_send: {should_send}
  should_listen: myhooks.listen
types:
  Stroke:
    primary_key: id
    on_receive: {on_receive}
    properties:
      id: {{type: uuid, default: random}}
"""


def _project(tmp_path: Path, should_send: str, on_receive: str) -> Path:
    project = tmp_path / "whiteboard"
    (project / "myhooks").mkdir(parents=True)
    (project / "schemas").mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "myhooks" / "__init__.py").write_text(
        "from .wb import should_listen as listen\n"
    )
    (project / "myhooks" / "wb.py").write_text(
        "def should_send(obj, destination, **info):\n"
        "    return True\n\n\n"
        "def should_listen(msg, cls, **info):\n"
        "    return True\n\n\n"
        "class Strokes:\n"
        "    @staticmethod\n"
        "    def received(obj, **info):\n"
        "        pass\n"
    )
    (project / "schemas" / "wb.yaml").write_text(
        SCHEMA.format(should_send=should_send, on_receive=on_receive)
    )
    return project


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    return subprocess.run(
        [str(ENTANGLEGEN), "check"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_typos_in_the_projects_own_hook_modules_are_located(tmp_path: Path) -> None:
    project = _project(tmp_path, "myhooks.wb.shuld_send", "myhooks.wbb.should_send")
    done = _check(project)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "schemas/wb.yaml:5:16: error: policy hook should_send 'myhooks.wb.shuld_send': "
        "module 'myhooks.wb' has no 'shuld_send' "
        "(hint: did you mean myhooks.wb.should_send?)",
        "schemas/wb.yaml:10:17: error: on_receive 'myhooks.wbb.should_send': "
        "module 'myhooks' has no 'wbb' (hint: did you mean myhooks.wb.should_send?)",
        "entanglegen: 2 errors, 0 warnings in 1 file",
    ]


def test_paths_that_may_work_are_not_refused(tmp_path: Path) -> None:
    # myhooks.listen is bound by the package's __init__; Strokes.received is an
    # attribute of a plain module, which is not read without running it.
    project = _project(
        tmp_path, "myhooks.wb.should_send", "myhooks.wb.Strokes.received"
    )
    done = _check(project)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "checked 1 file, 1 type: ok\n"
