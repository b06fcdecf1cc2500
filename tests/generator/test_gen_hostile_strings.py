"""Hostile strings in every position of a schema (issue 11, hypothesis).

Hypothesis puts strings made of quotes, backslashes, newlines and other line breaks,
coding cookies, UTF-7, Jinja2 syntax, lone surrogates, NUL and very long runs into every
place a schema holds text: the folder of the schema file, the registry, package, type,
property, enum and table names, ``sync_type``, docs, string and JSON defaults, enum values
and hook paths.  For each schema either

* the build reports errors, each located (file, line >= 1, column >= 1, a message) and
  nothing raises; or
* the output, imported in a fresh interpreter, leaves the canary the strings try to set
  unset, and (for a sample of outputs) passes ``mypy --strict``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from gen_helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entanglegen.build import build
from entanglegen.diagnostics import Level

CANARY = "ENTANGLEGEN_HOSTILE_CANARY"
FRAGMENTS = [
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    "\\n",
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\x0c",
    "\x85",
    "\u2028",
    "# -*- coding: utf-7 -*-",
    "coding=utf-7",
    "+ACIAIgAi-",
    "{{ r.header }}",
    "{% raw %}",
    "{#",
    "%s",
    "#",
    ")",
    "]",
    "}",
    ":",
    ".",
    "-",
    " ",
    "x" * 300,
    f"__import__('builtins').{CANARY} = 1",
    f"\nimport builtins; builtins.{CANARY} = 1\n",
    f'"""; import builtins; builtins.{CANARY} = 1; """',
]
HOSTILE = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=5
).map("".join)
# Lone surrogates cannot be written in a YAML file (libyaml refuses even their escapes:
# a located syntax error); in a file name they are what undecodable bytes become.
FOLDER = st.lists(
    st.one_of(st.sampled_from([*FRAGMENTS, "\udcff", "\udc80"]), st.text(max_size=4)),
    min_size=1,
    max_size=4,
).map("".join)


def _maybe(plain: str) -> st.SearchStrategy[str]:
    # Each name is hostile one time in eight, so that many schemas still validate (and
    # carry their hostile docs, defaults and values into generated code).
    return st.one_of(*[st.just(plain)] * 7, HOSTILE)


def _folder(text: str) -> bool:
    try:
        size = len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return False
    return (
        0 < size < 200
        and "/" not in text
        and "\x00" not in text
        and text
        not in (
            ".",
            "..",
        )
    )


@st.composite
def schemas(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    storage = draw(st.sampled_from(["memory", "sql"]))
    package = draw(_maybe("hostile_pkg"))
    item: dict[str, Any] = {
        "sync_type": draw(st.one_of(st.just("Item"), HOSTILE)),
        "primary_key": "id",
        "doc": draw(HOSTILE),
        "properties": {
            "id": "int",
            draw(_maybe("label")): {
                "type": "str",
                "doc": draw(HOSTILE),
                "default": draw(HOSTILE),
            },
            draw(_maybe("mode")): {
                "type": "enum",
                "values": draw(st.lists(HOSTILE, min_size=1, max_size=3, unique=True)),
                "nullable": True,
            },
            draw(_maybe("blob")): {
                "type": "json",
                "default": {draw(HOSTILE): [draw(HOSTILE)]},
            },
            draw(_maybe("code")): {
                "type": "str",
                "nullable": True,
                "encoder": draw(_maybe("json.dumps")),
                "decoder": draw(_maybe("json.loads")),
            },
        },
    }
    if storage == "sql":
        item["table"] = draw(_maybe("items"))
    doc = {
        "registry": draw(_maybe("hostile")),
        "package": package,
        "storage": storage,
        "doc": draw(HOSTILE),
        "enums": {draw(_maybe("Colour")): {"values": [draw(HOSTILE)]}},
        "types": {draw(_maybe("Item")): item},
    }
    folder = draw(st.one_of(st.just("schemas"), FOLDER.filter(_folder)))
    return folder, package, doc


def _located(diags: list[Any]) -> None:
    assert any(d.level is Level.ERROR for d in diags)
    for d in diags:
        assert d.path
        assert d.line >= 1
        assert d.col >= 1
        assert d.message


def _imports_inertly(out: Path, package: str) -> None:
    code = (
        "import builtins, importlib, sys\n"
        f"importlib.import_module({package!r})\n"
        f"importlib.import_module({package + '.models'!r})\n"
        f"sys.exit(3 if hasattr(builtins, {CANARY!r}) else 0)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(out))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _mypy(out: Path, package: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            package,
        ],
        cwd=out,
        env=dict(os.environ, MYPYPATH=str(ROOT / "runtime")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_hostile_strings_in_every_position(tmp_path: Path) -> None:
    built: list[tuple[Path, str]] = []
    counter = iter(range(10_000))

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=schemas())
    def run(case: tuple[str, str, dict[str, Any]]) -> None:
        folder, package, doc = case
        root = tmp_path / f"ex{next(counter)}"
        directory = root / os.fsdecode(folder.encode("utf-8", "surrogateescape"))
        directory.mkdir(parents=True)
        text = yaml.safe_dump(doc, allow_unicode=False, sort_keys=False)
        (directory / "schema.yaml").write_text(text, encoding="ascii")
        result = build([directory], root=root, jobs=1)
        if not result.ok:
            _located(result.diagnostics)
            return
        out = root / "out"
        for rel, data in result.files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        _imports_inertly(out, package)
        built.append((out, package))

    run()
    assert built, "no draw produced a valid schema: the test would prove nothing"
    for out, package in built[:2]:
        _mypy(out, package)
