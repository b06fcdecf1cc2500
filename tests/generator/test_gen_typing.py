"""Gate 2 of the generated code: ``mypy --strict`` over generated/ and the typing probe.

Other packages' modules are followed silently: their owners type-check them; here only
errors in the generated packages and the probe count.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from gen_helpers import ROOT


def _mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generated_packages_pass_mypy_strict() -> None:
    result = _mypy("generated/")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typing_probe() -> None:
    result = _mypy("tests/generator/generated_typing_probe.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_a_wrong_type(tmp_path: Path) -> None:
    # The gate must be able to fail: a wrong assert_type is reported.
    probe = tmp_path / "wrong_probe.py"
    probe.write_text(
        "from typing import assert_type\n"
        "from exercise_sync import Team\n"
        "def f(team: Team) -> None:\n"
        "    assert_type(team.name, int)\n"
    )
    result = _mypy(str(probe))
    assert result.returncode == 1
    assert "assert_type" in result.stdout or "Expression is of type" in result.stdout


def test_wrong_constructor_calls_fail_mypy() -> None:
    # Wrong names, wrong types, a missing required column, an object for its key: each
    # marked line gives its error, and nothing else fails (so each line is checked).
    path = "tests/generator/generated_typing_failures.py"
    source = (ROOT / path).read_text().splitlines()
    expected = {
        (n, m[1])
        for n, line in enumerate(source, 1)
        if (m := re.search(r"# error: ([a-z-]+)$", line))
    }
    assert len(expected) == 10
    result = _mypy(path)
    assert result.returncode == 1
    found = {
        (int(m[1]), m[2])
        for m in re.finditer(r":(\d+): error: .*\[([a-z-]+)\]$", result.stdout, re.M)
    }
    assert found == expected, result.stdout


def test_generated_packages_are_lint_and_format_clean() -> None:
    bin_dir = ROOT / ".venv" / "bin"
    ruff = shutil.which("ruff", path=str(bin_dir)) or shutil.which("ruff")
    assert ruff is not None, "ruff is a dev dependency"
    lint = subprocess.run(
        [ruff, "check", "generated/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", "generated/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
