"""``entanglegen init [DIR]``: the files a new project starts from.

Writes, in DIR (created if missing):

* ``pyproject.toml`` with a ``[tool.entanglegen]`` table (schemas, output, and the
  ``distribution`` layout, so that ``pip install -e generated/<package>`` works); when a
  pyproject.toml exists, the table is appended to it and nothing else is touched;
* ``schemas/<name>.yaml``, a first SQL schema that builds as it is;
* ``schemas/entanglegen.schema.json``, the JSON Schema of the schema language, which the
  schema's ``yaml-language-server`` line points editors at.

Choices: an existing file is never overwritten (it is listed as kept); a pyproject.toml
that already has ``[tool.entanglegen]`` means the project is set up: exit 1 and nothing
is written.  The registry name comes from ``--name`` or the directory's name, made into
an identifier; its package is ``<name>_sync``.  No ``[project]`` table is written: the
application's own packaging is the user's choice.
"""

from __future__ import annotations

import keyword
import re
import shlex
import sys
import tomllib
from pathlib import Path

from .diagnostics import UsageError
from .schema import json_schema_text

__all__ = ["init_project", "project_name"]

_CONFIG = """\
[tool.entanglegen]
# Schema files or directories, relative to this file.
schemas = ["schemas"]
# Where 'entanglegen build' writes the generated packages.
output = "generated"
# Each package as an installable distribution: generated/<package>/pyproject.toml.
# Install one with: pip install -e generated/<package>
layout = "distribution"
# The version of those distributions.
version = "0.1.0"
"""

_SCHEMA = """\
# yaml-language-server: $schema=entanglegen.schema.json
# The first schema of {name}; the language is described by entanglegen.schema.json.
registry: {name}
package: {name}_sync
storage: sql
doc: Notes shared between the nodes of {name}.

types:
  Note:
    table: notes
    primary_key: id
    doc: A note; every node holds every note.
    properties:
      id: {{type: uuid, default: random}}
      title: {{type: str, length: 200}}
      body: {{type: str, default: ""}}
      pinned: {{type: bool, default: false}}
      created_at: {{type: datetime, default: now}}
"""


def project_name(text: str) -> str:
    """``text`` (a directory name) made into a lower-case identifier for a registry."""
    name = re.sub(r"[^0-9a-z_]+", "_", text.lower()).strip("_") or "app"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"app_{name}"
    return name


def _checked_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise UsageError(
            f"--name {name!r} is not a lower-case identifier (letters, digits, _)"
        )
    return name


def _pyproject(directory: Path) -> tuple[str | None, str]:
    """What to write to pyproject.toml (None: leave it) and how to report it."""
    path = directory / "pyproject.toml"
    if not path.exists():
        return _CONFIG, "created"
    try:
        text = path.read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path.as_posix()}: cannot read it: {exc}") from None
    if "entanglegen" in data.get("tool", {}):
        return None, "has [tool.entanglegen] already"
    body = text if not text or text.endswith("\n") else text + "\n"
    return body + ("\n" if body else "") + _CONFIG, "added [tool.entanglegen] to"


def init_project(directory: Path, name: str | None) -> int:
    """Scaffold a project in ``directory``; returns the exit status (0, or 1 if set up).

    Raises:
        UsageError: ``directory`` is a file, ``name`` is not an identifier, or an
            existing pyproject.toml cannot be read.
    """
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory.as_posix()} exists and is not a directory")
    registry = _checked_name(name) if name else project_name(directory.resolve().name)
    config, how = _pyproject(directory)
    if config is None:
        print(
            f"entanglegen init: {(directory / 'pyproject.toml').as_posix()} {how}; "
            "nothing written",
            file=sys.stderr,
        )
        return 1
    schemas = directory / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(config, "utf-8")
    print(f"{how} {(directory / 'pyproject.toml').as_posix()}")
    files = {
        schemas / f"{registry}.yaml": _SCHEMA.format(name=registry),
        schemas / "entanglegen.schema.json": json_schema_text(),
    }
    for path, text in files.items():
        if path.exists():
            print(f"kept {path.as_posix()} (exists)")
            continue
        path.write_text(text, "utf-8")
        print(f"created {path.as_posix()}")
    cd = "" if directory == Path(".") else f"cd {shlex.quote(directory.as_posix())} && "
    print(f"next: {cd}entanglegen build && pip install -e generated/{registry}_sync")
    return 0
