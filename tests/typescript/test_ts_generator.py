"""The TypeScript target of the generator: committed output current, deterministic,
``check`` catching every kind of difference, diagnostics with file:line:col."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ts_paths import GENERATED_TS, ROOT

from entanglegen.typescript import MANIFEST, build, generate

SCHEMAS = ROOT / "schemas"


def test_committed_output_is_what_the_schemas_generate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build(SCHEMAS, GENERATED_TS, check=True) == 0, capsys.readouterr().err


def test_output_is_deterministic() -> None:
    _, first = generate(SCHEMAS, ROOT)
    _, second = generate(SCHEMAS, ROOT)
    assert first == second
    assert "presence_sync/src/types.ts" in first
    assert "exercise_sync/package.json" in first


def test_generated_code_has_no_any() -> None:
    _, files = generate(SCHEMAS, ROOT)
    for path, data in files.items():
        if path.endswith(".ts"):
            code = re.sub(r"/\*.*?\*/|//[^\n]*", "", data.decode(), flags=re.S)
            assert not re.search(r"\bany\b", code), path


def test_check_reports_changed_missing_and_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ts"
    assert build(SCHEMAS, out, check=False) == 0
    assert build(SCHEMAS, out, check=True) == 0
    types = out / "presence_sync" / "src" / "types.ts"
    types.write_text(types.read_text() + "// edited\n")
    (out / "exercise_sync" / "src" / "enums.ts").unlink()
    capsys.readouterr()
    assert build(SCHEMAS, out, check=True) == 1
    err = capsys.readouterr().err
    assert f"{types}: differs" in err
    assert "enums.ts: missing" in err
    assert types.read_text().endswith("// edited\n")  # check writes nothing

    # A registry that is gone leaves stale files: check names them, build removes them.
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    shutil.copy(SCHEMAS / "exercise.yaml", schemas)
    assert build(schemas, out, check=True) == 1
    assert "presence_sync/src/types.ts: stale" in capsys.readouterr().err
    assert build(schemas, out, check=False) == 0
    assert not (out / "presence_sync" / "src" / "types.ts").exists()
    assert (out / "exercise_sync" / "src" / "enums.ts").exists()
    assert build(schemas, out, check=True) == 0
    assert (out / MANIFEST).exists()


def test_names_taken_by_the_runtime_are_diagnosed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "bad.yaml"
    schema.write_text(
        "registry: bad\n"
        "package: bad_sync\n"
        "storage: memory\n"
        "types:\n"
        "  SyncClient:\n"
        "    primary_key: id\n"
        "    properties:\n"
        "      id: int\n"
        "      extra: str\n"
    )
    assert build(tmp_path, tmp_path / "out", check=False) == 1
    err = capsys.readouterr().err
    assert re.search(r"bad\.yaml:5:3: error: type name 'SyncClient' is taken", err), err
    assert re.search(
        r"bad\.yaml:9:7: error: property name 'extra' is a member", err
    ), err
    assert not (tmp_path / "out").exists()


def test_schema_errors_stop_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.yaml").write_text("registry: x\npackage: x_sync\ntypes: [1]\n")
    assert build(tmp_path, tmp_path / "out", check=False) == 1
    assert "broken.yaml:" in capsys.readouterr().err
    assert build(tmp_path / "nowhere", tmp_path / "out", check=False) == 2
