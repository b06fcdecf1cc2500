"""Golden cases (tests/cases/<name>/): schemas in ``schemas/``, expectations in ``expected/``.

* ``bad_*`` / ``warn_*``: ``expected/stderr.txt`` is what ``entanglegen check`` and
  ``entanglegen build`` print (case directory prefix removed); ``build`` writes nothing.
* ``good_*``: ``expected/`` is the exact output tree of a build with the case directory as
  project root; ``stderr.txt`` beside it (optional) holds the expected warnings.

``pytest --update-goldens`` rewrites the expectations.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from gen_helpers import ROOT, cases, read_tree, run_cli, write_tree

from entanglegen.build import build
from entanglegen.diagnostics import render

BAD = cases("bad_", "warn_")
GOOD = cases("good_")


def _normalise(text: str, case: Path) -> str:
    return text.replace(f"{case.relative_to(ROOT).as_posix()}/", "")


def test_enough_bad_cases() -> None:
    assert len([c for c in BAD if c.name.startswith("bad_")]) >= 30


@pytest.mark.parametrize("case", BAD, ids=lambda p: p.name)
def test_bad_case(case: Path, update_goldens: bool, tmp_path: Path) -> None:
    schemas = (case / "schemas").relative_to(ROOT).as_posix()
    code, out, err = run_cli("check", schemas)
    stderr = _normalise(err, case)
    expected = case / "expected" / "stderr.txt"
    if update_goldens:
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(stderr)
    assert stderr == expected.read_text()
    assert "Traceback" not in stderr
    assert code == (1 if ": error: " in stderr else 0)
    # stdout holds at most the one-line summary of a check that passed (warnings only)
    assert out == "" or (
        code == 0 and out.startswith("checked ") and out.count("\n") == 1
    )

    target = tmp_path / "out"
    build_code, _, build_err = run_cli("build", schemas, "-o", str(target))
    assert _normalise(build_err, case) == stderr
    if code:
        assert build_code == 1
        assert not target.exists(), "a failed build must write nothing"


@pytest.mark.parametrize("case", GOOD, ids=lambda p: p.name)
def test_good_case(case: Path, update_goldens: bool) -> None:
    result = build([case / "schemas"], root=case)
    assert result.ok
    warnings = render(result.diagnostics, "text")
    if update_goldens:
        write_tree(case / "expected", result.files)
        if warnings:
            (case / "stderr.txt").write_text(warnings)
    expected = read_tree(case / "expected")
    assert sorted(result.files) == sorted(expected)
    for rel, data in result.files.items():
        assert data.decode() == expected[rel].decode(), rel
    stderr = case / "stderr.txt"
    assert warnings == (stderr.read_text() if stderr.exists() else "")
    for rel, data in result.files.items():
        if rel.endswith(".py"):
            ast.parse(data, filename=rel)  # every golden module is valid Python
