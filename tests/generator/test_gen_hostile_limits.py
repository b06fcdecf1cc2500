"""Every command finishes within a bound on schemas built to make it work forever (issue 11).

Each project is run through ``entanglegen check`` and ``entanglegen build`` in a fresh
process with a generous timeout (the machine is shared: the bound catches a hang or a
blow-up, it does not measure speed; bench/generate.py does that).  An alias bomb and a
1,000-deep inheritance chain must be refused with a located error; a 10,000-type project is
valid and must be checked (building it is black-bound, ~15 s per 1,000 modules, and is
measured by the benchmark instead).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BOUND_S = 120

ITEM = "types:\n  Item:\n    primary_key: id\n    properties:\n      id: int\n"


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entanglegen", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        check=False,
    )


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "schema.yaml").write_text(text)
    return tmp_path


def _bomb(anchor: str, levels: int = 30) -> str:
    # 9 ** 30 nodes once expanded; a few hundred bytes of YAML.
    lines = [f"  - &{anchor}0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*{anchor}{i - 1}"] * 9)
        lines.append(f"  - &{anchor}{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _refused(project: Path, where: str, message: str) -> None:
    for args in (("check", "schemas"), ("build", "schemas", "-o", "out")):
        done = _run(project, *args)
        assert done.returncode == 1, done.stderr
        assert f"schemas/schema.yaml:{where}: error: {message}" in done.stderr
        assert "Traceback" not in done.stderr
        assert not (project / "out").exists()


def test_alias_bomb_under_an_unknown_key(tmp_path: Path) -> None:
    text = "registry: shop\npackage: shop_sync\nbombs:\n" + _bomb("a") + ITEM
    _refused(_project(tmp_path, text), "9:10", "YAML aliases expand to more than")


def test_alias_bomb_as_a_json_default(tmp_path: Path) -> None:
    text = (
        "registry: shop\npackage: shop_sync\nanchors:\n"
        + _bomb("b")
        + ITEM
        + "      blob: {type: json, default: *b30}\n"
    )
    _refused(_project(tmp_path, text), "9:10", "YAML aliases expand to more than")


def test_thousand_deep_inheritance(tmp_path: Path) -> None:
    lines = ["registry: shop", "package: shop_sync", ITEM.rstrip("\n")]
    for i in range(1000):
        parent = "Item" if i == 0 else f"T{i - 1}"
        lines += [
            f"  T{i}:",
            f"    parent: {parent}",
            "    properties:",
            f"      p{i}: {{type: str, nullable: true}}",
        ]
    project = _project(tmp_path, "\n".join(lines) + "\n")
    # The one error is at the first type past the limit, not at each of ~970 deeper ones.
    _refused(project, "133:13", "type 'T31' is 33 levels deep")
    done = _run(project, "check", "schemas")
    assert done.stderr.count(": error: ") == 1


def test_ten_thousand_types_are_checked(tmp_path: Path) -> None:
    lines = [
        "registry: big",
        "package: big_sync",
        "enums:",
        "  Level: {values: [a, b]}",
    ]
    lines.append("types:")
    for i in range(10_000):
        lines += [f"  T{i}:", "    primary_key: id", "    properties:", "      id: int"]
        lines.append("      level: Level")
        if i:
            lines.append(f"      prev: {{type: T{i - 1}, nullable: true}}")
    project = _project(tmp_path, "\n".join(lines) + "\n")
    done = _run(project, "check", "schemas")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
