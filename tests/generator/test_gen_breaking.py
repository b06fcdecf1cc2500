"""``entanglegen breaking`` and ``renamed_from``.

Golden cases: tests/cases/breaking_<rule>/ hold ``old/`` and ``new/`` schemas and
``expected/stderr.txt``, the text report of ``entanglegen breaking new --against old``
run in the case directory (as its own project); ``pytest --update-goldens`` rewrites it.  A case named
after a rule must report that rule.  The CLI tests run the real command in process on real
files and a real git repository.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gen_helpers import ROOT, cases, run_cli

from entanglegen.breaking_rules import RULES
from entanglegen.build import build
from entanglement.network import SyncDestination, SyncManager, SyncServer

CASES = cases("breaking_")
NOT_RULES = {"doc_only", "file_moved", "memory_property_removed"}
NOT_RULES |= {"renamed_type_and_property", "property_added_nullable_store_rest"}


def _check(case: Path, tmp_path: Path) -> tuple[int, str, str]:
    """``breaking new --against old`` in a copy of the case that is its own project.

    Its own pyproject.toml keeps the repository's ``[tool.entanglegen.breaking]`` (if the
    project ever accepts a break) out of the goldens.
    """
    project = tmp_path / case.name
    for side in ("old", "new"):
        shutil.copytree(case / side, project / side)
    (project / "pyproject.toml").write_text("[tool.entanglegen]\n")
    return run_cli("breaking", "new", "--against", "old", cwd=project)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_breaking_case(case: Path, update_goldens: bool, tmp_path: Path) -> None:
    code, out, stderr = _check(case, tmp_path)
    expected = case / "expected" / "stderr.txt"
    if update_goldens:
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(stderr)
    assert stderr == expected.read_text()
    assert out == ""
    assert "Traceback" not in stderr
    assert code == (1 if ": breaking: " in stderr else 0)
    rule = case.name.removeprefix("breaking_").upper()
    if rule in RULES:
        assert f"[{rule}]" in stderr
        assert (": breaking: " in stderr) == bool(RULES[rule]), "categories"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_a_side_against_itself_has_no_change(case: Path) -> None:
    for side in ("old", "new"):
        path = (case / side).relative_to(ROOT).as_posix()
        code, out, err = run_cli("breaking", path, "--against", path)
        assert (code, out) == (0, "")
        assert "0 breaking, 0 ignored, 0 safe change(s)" in err.splitlines()[-1]


def test_the_example_schemas_load_on_both_sides() -> None:
    code, _, err = run_cli("breaking", "schemas", "--against", "schemas")
    assert code == 0
    assert "0 breaking, 0 ignored, 0 safe change(s)" in err.splitlines()[-1]


def test_every_rule_has_a_case_and_a_doc_entry() -> None:
    names = {c.name.removeprefix("breaking_") for c in CASES}
    assert {r.lower() for r in RULES} <= names
    assert names - {r.lower() for r in RULES} <= NOT_RULES
    docs = (ROOT / "docs" / "schema.md").read_text()
    chapter = docs.split("## Evolving a schema", 1)[1]
    for rule in RULES:
        assert f"`{rule}`" in chapter, rule


def test_not_breaking_changes_report_nothing(tmp_path: Path) -> None:
    for name in ("doc_only", "file_moved"):
        code, _, err = _check(ROOT / "tests" / "cases" / f"breaking_{name}", tmp_path)
        assert code == 0
        assert err.count("\n") == 1
        assert "0 breaking, 0 ignored, 0 safe" in err


def test_memory_registry_has_no_sql_category(tmp_path: Path) -> None:
    case = ROOT / "tests" / "cases" / "breaking_memory_property_removed"
    code, _, err = _check(case, tmp_path)
    assert code == 1
    assert "[PROPERTY_REMOVED]" in err
    assert "(WIRE, API)" in err
    assert "SQL" not in err


# -- the command line ----------------------------------------------------------------

SCHEMA = """\
registry: board
package: board_sync
types:
  Stroke:
    primary_key: id
    properties:
      id: int
      width: {type: int, default: 1}
      note: {type: str, nullable: true}
"""


def _project(tmp_path: Path, ignore: str = "") -> Path:
    root = tmp_path / "proj"
    (root / "schemas").mkdir(parents=True)
    (root / "schemas" / "board.yaml").write_text(SCHEMA)
    tool = '[tool.entanglegen]\nschemas = ["schemas"]\n'
    if ignore:
        tool += f"\n[tool.entanglegen.breaking]\nignore = {ignore}\n"
    (root / "pyproject.toml").write_text(tool)
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=60,
    )


def _repo(tmp_path: Path, ignore: str = "") -> Path:
    root = _project(tmp_path, ignore)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "v1")
    return root


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "schemas" / "board.yaml"
    path.write_text(path.read_text().replace(old, new))


def test_git_ref_mode(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert run_cli("breaking", "--against", "main", cwd=root)[0] == 0
    _edit(root, "      note: {type: str, nullable: true}\n", "")
    code, out, err = run_cli("breaking", "--against", "main", cwd=root)
    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == (
        "schemas/board.yaml:9:7: breaking: [PROPERTY_REMOVED] property Stroke.note "
        "removed: new peers refuse messages of old peers that carry it, its column and "
        "values are dropped, and code using it breaks (WIRE, API)"
    )
    assert err.splitlines()[-1] == (
        "entanglegen breaking: 1 breaking (WIRE 1, API 1), 0 ignored, 0 safe change(s) "
        "against main"
    )
    _git(root, "commit", "-q", "-am", "v2")
    # HEAD~1 still has the property; HEAD does not.
    assert run_cli("breaking", "--against", "HEAD~1", cwd=root)[0] == 1
    assert run_cli("breaking", "--against", "HEAD", cwd=root)[0] == 0
    # Explicit schema paths are looked up at the ref under the same names.
    code, _, err = run_cli(
        "breaking", "schemas/board.yaml", "--against", "HEAD~1", cwd=root
    )
    assert code == 1
    assert "[PROPERTY_REMOVED]" in err


def test_git_ref_mode_from_a_subdirectory_of_the_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = _repo(repo)  # the project lives in repo/proj, the work tree is repo/
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "outer")
    _edit(root, "width: {type: int, default: 1}", "width: {type: float, default: 1}")
    code, _, err = run_cli("breaking", "--against", "main", cwd=root / "schemas")
    assert code == 1
    assert err.startswith("schemas/board.yaml:8:7: breaking: [PROPERTY_TYPE_WIDENED]")


def test_unknown_ref_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    code, out, err = run_cli("breaking", "--against", "no-such-ref", cwd=root)
    assert (code, out) == (2, "")
    assert err == (
        f"entanglegen breaking: error: 'no-such-ref' is neither a directory nor a git "
        f"ref of {root}\n"
    )
    code, _, err = run_cli("breaking", cwd=root)
    assert code == 2
    assert "--against" in err
    code, _, err = run_cli("breaking", "--against", "main", "--format", "xml", cwd=root)
    assert code == 2
    assert "invalid choice" in err
    plain = _project(tmp_path / "nogit")  # not a git work tree at all
    code, _, err = run_cli("breaking", "--against", "main", cwd=plain)
    assert code == 2
    assert "neither a directory nor a git ref" in err
    assert "Traceback" not in err


def test_directory_mode_and_invalid_schemas(tmp_path: Path) -> None:
    root = _project(tmp_path)
    old = tmp_path / "old"
    old.mkdir()
    (old / "board.yaml").write_text(SCHEMA.replace("nullable: true", "length: 5"))
    code, _, err = run_cli("breaking", "--against", str(old), cwd=root)
    assert code == 1
    by_file = run_cli("breaking", "--against", str(old / "board.yaml"), cwd=root)[2]
    assert by_file.splitlines()[:-1] == err.splitlines()[:-1]  # not the "against" line
    assert "[PROPERTY_MADE_NULLABLE]" in err
    assert "[PROPERTY_LENGTH_WIDENED]" in err
    (root / "schemas" / "board.yaml").write_text(SCHEMA.replace("id: int", "id: nope"))
    code, _, err = run_cli("breaking", "--against", str(old), cwd=root)
    assert code == 2
    assert "the schemas of the working tree do not validate" in err
    assert "schemas/board.yaml:7:11: error: unknown type 'nope'" in err


def test_ignore_config(tmp_path: Path) -> None:
    root = _repo(tmp_path, '["PROPERTY_REMOVED:Stroke.note", "ENCODER_CHANGED:*"]')
    _edit(root, "      note: {type: str, nullable: true}\n", "")
    code, _, err = run_cli("breaking", "--against", "main", cwd=root)
    assert code == 0
    assert "schemas/board.yaml:9:7: ignored: [PROPERTY_REMOVED]" in err
    assert (
        "entanglegen breaking: ignore entry 'ENCODER_CHANGED:*' matches no change "
        "(remove it from pyproject.toml?)" in err
    )
    assert "0 breaking, 1 ignored, 0 safe" in err
    # The registry-qualified subject matches too; another subject does not.
    for entry, status in (("board.Stroke.*", 0), ("Other.note", 1)):
        (root / "pyproject.toml").write_text(
            f'[tool.entanglegen.breaking]\nignore = ["PROPERTY_REMOVED:{entry}"]\n'
        )
        assert run_cli("breaking", "--against", "main", cwd=root)[0] == status


@pytest.mark.parametrize(
    ("ignore", "message"),
    [
        ('["PROPERTY_REMOVD:Stroke.note"]', "unknown rule 'PROPERTY_REMOVD' (did you"),
        ('["PROPERTY_REMOVED"]', "'PROPERTY_REMOVED' is not 'RULE:Type.prop'"),
        ('"PROPERTY_REMOVED:x"', "must be a list"),
    ],
)
def test_bad_ignore_entries_are_usage_errors(
    tmp_path: Path, ignore: str, message: str
) -> None:
    root = _repo(tmp_path, ignore)
    code, _, err = run_cli("breaking", "--against", "main", cwd=root)
    assert code == 2
    assert message in err
    assert "pyproject.toml" in err


def test_json_and_github_go_to_stdout(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _edit(root, "width: {type: int, default: 1}", "width: {type: int, default: 2}")
    _edit(root, "      note: {type: str, nullable: true}\n", "")
    (root / "schemas" / "board.yaml").write_text(
        (root / "schemas" / "board.yaml").read_text()
        + "      extra: {type: str, sync: false, default: x}\n"
    )
    code, out, err = run_cli(
        "breaking", "--against", "main", "--format", "json", cwd=root
    )
    assert code == 1
    data = json.loads(out)
    assert data["against"] == "main"
    assert [(c["rule"], c["status"], c["categories"]) for c in data["changes"]] == [
        ("PROPERTY_DEFAULT_CHANGED", "breaking", ["API"]),
        ("PROPERTY_ADDED_NO_SYNC", "safe", []),
        ("PROPERTY_REMOVED", "breaking", ["WIRE", "API"]),
    ]
    assert data["changes"][0] | {"message": ""} == {
        "path": "schemas/board.yaml",
        "line": 8,
        "col": 7,
        "rule": "PROPERTY_DEFAULT_CHANGED",
        "registry": "board",
        "subject": "Stroke.width",
        "message": "",
        "categories": ["API"],
        "status": "breaking",
    }
    assert err.count("\n") == 1
    assert err.startswith("entanglegen breaking: 2 breaking")
    code, out, err = run_cli(
        "breaking", "--against", "main", "--format", "github", cwd=root
    )
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(
        "::error file=schemas/board.yaml,line=8,col=7,"
        "title=entanglegen breaking [PROPERTY_DEFAULT_CHANGED]::default of Stroke.width"
    )
    assert lines[1].startswith("::notice file=schemas/board.yaml,line=9,col=7,")
    assert lines[2].endswith("(WIRE, API)")
    assert err.count("\n") == 1


# -- renamed_from in the generator ---------------------------------------------------

RENAMED = """\
registry: board
package: board_sync
storage: {storage}
types:
  Pen:
    renamed_from: Stroke
    primary_key: id
    properties:
      id: int
      thickness: {{type: float, default: 1.0, renamed_from: width}}
      label: {{type: str, renamed_from: name}}
      local: {{type: str, sync: false, default: x, renamed_from: cached}}
"""


@pytest.mark.parametrize("storage", ["memory", "sql"])
def test_renamed_from_is_emitted(tmp_path: Path, storage: str) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "board.yaml").write_text(RENAMED.format(storage=storage))
    result = build([tmp_path / "s"], root=tmp_path)
    assert result.ok, result.diagnostics
    code = result.files["board_sync/models/pen.py"].decode()
    assert 'sync_type = "Stroke"' in code
    assert "class Pen(" in code
    declarations = {
        block.split(":")[0].strip(): " ".join(block.split())
        for block in code.split("\n\n")
        if block.startswith("    ") and " = " in block and "sync_property(" in block
    }
    assert 'aliases=("width",)' in declarations["thickness"]
    assert 'aliases=("name",)' in declarations["label"]
    assert code.count("aliases=") == 2  # never on a property that is not sent
    if storage == "sql":
        assert '__tablename__ = "pen"' in code


def test_explicit_sync_type_wins_over_renamed_from(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    text = RENAMED.format(storage="memory").replace(
        "    renamed_from: Stroke\n", "    renamed_from: Stroke\n    sync_type: PenV2\n"
    )
    (tmp_path / "s" / "board.yaml").write_text(text)
    result = build([tmp_path / "s"], root=tmp_path)
    assert 'sync_type = "PenV2"' in result.files["board_sync/models/pen.py"].decode()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("renamed_from: width", "renamed_from: label"),
            "schemas/board.yaml:10:60: error: property 'thickness' is renamed from "
            "'label', which still exists [types.Pen.properties.thickness.renamed_from] "
            "(hint: remove or rename the old property, or drop renamed_from)",
        ),
        (
            ("renamed_from: name", "renamed_from: width"),
            "schemas/board.yaml:11:40: error: properties 'thickness' and 'label' are "
            "both renamed from 'width' [types.Pen.properties.label.renamed_from]",
        ),
        (
            ("renamed_from: name", "renamed_from: label"),
            "schemas/board.yaml:11:40: error: property 'label' is renamed from itself "
            "[types.Pen.properties.label.renamed_from]",
        ),
        (
            ("renamed_from: name", "renamed_from: sync_name"),
            "schemas/board.yaml:11:40: error: renamed_from 'sync_name' is not a property "
            "name that could have been declared [types.Pen.properties.label.renamed_from]",
        ),
        (
            ("      id: int\n", "      id: {type: int, renamed_from: number}\n"),
            "schemas/board.yaml:9:37: error: primary key 'id' cannot be renamed: the key "
            "is the object's identity on every peer [types.Pen.properties.id.renamed_from] "
            "(hint: keep the key's name (its attribute and column stay as they are))",
        ),
        (
            ("renamed_from: Stroke", "renamed_from: Pen"),
            "schemas/board.yaml:6:19: error: type 'Pen' is renamed from itself "
            "[types.Pen.renamed_from]",
        ),
        (
            ("renamed_from: Stroke", "renamed_from: [Stroke]"),
            "schemas/board.yaml:6:19: error: renamed_from must be a string "
            "[types.Pen.renamed_from]",
        ),
    ],
)
def test_renamed_from_errors_are_located(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    (tmp_path / "schemas").mkdir()
    text = RENAMED.format(storage="sql").replace(*edit)
    (tmp_path / "schemas" / "board.yaml").write_text(text)
    code, out, err = run_cli("check", "schemas", cwd=tmp_path)
    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == expected


def test_renamed_type_must_not_still_exist(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    text = RENAMED.format(storage="memory") + (
        "  Brush:\n    renamed_from: Pen\n    primary_key: id\n"
        "    properties:\n      id: int\n"
        "  Quill:\n    renamed_from: Stroke\n    sync_type: Quill\n    primary_key: id\n"
        "    properties:\n      id: int\n"
    )
    (tmp_path / "schemas" / "board.yaml").write_text(text)
    code, _, err = run_cli("check", "schemas", cwd=tmp_path)
    assert code == 1
    assert err.splitlines()[:2] == [
        "schemas/board.yaml:14:19: error: type 'Brush' is renamed from 'Pen', which "
        "still exists [types.Brush.renamed_from] (hint: remove or rename the old type, "
        "or drop renamed_from)",
        "schemas/board.yaml:19:19: error: types 'Pen' and 'Quill' are both renamed from "
        "'Stroke' [types.Quill.renamed_from]",
    ]


# -- renamed_from at runtime: the old and the new generated code exchange values -------

OLD_BOARD = """\
registry: board
package: board_v1
types:
  Stroke:
    primary_key: id
    properties:
      id: int
      width: {type: float, default: 1.0}
      label: str
"""
NEW_BOARD = """\
registry: board
package: board_v2
types:
  Pen:
    renamed_from: Stroke
    primary_key: id
    properties:
      id: int
      thickness: {type: float, default: 1.0, renamed_from: width}
      label: str
"""


@pytest.fixture
def board_versions(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """The generated packages of OLD_BOARD and NEW_BOARD, imported from a temp dir."""
    out = tmp_path / "out"
    for name, text in (("old", OLD_BOARD), ("new", NEW_BOARD)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "board.yaml").write_text(text)
        result = build([tmp_path / name], root=tmp_path)  # one project per version
        assert result.ok, result.diagnostics
        for rel, data in result.files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("board_v1"), importlib.import_module("board_v2")
    finally:
        sys.path.remove(str(out))
        for module in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
            del sys.modules[module]


PACKAGES = ("board_v1", "board_v2")


def test_renamed_property_is_sent_under_its_old_name(
    board_versions: tuple[Any, Any],
) -> None:
    v1, v2 = board_versions
    pen = v2.Pen(id=1, thickness=2.5, label="a")
    wire = pen.to_sync()
    assert wire["width"] == 2.5
    assert "thickness" not in wire
    assert v2.Pen.sync_type == v1.Stroke.sync_type == "Stroke"


def test_old_and_new_generated_code_exchange_a_renamed_property(
    board_versions: tuple[Any, Any], pki: dict[str, Any]
) -> None:
    v1, v2 = board_versions

    async def scenario() -> None:
        old_reg, new_reg = v1.new_registry(), v2.new_registry()
        a, b = pki["a"], pki["b"]
        srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[old_reg])
        cli = SyncManager(b.cert, 0, key=b.key, cafile=b.cafile, registries=[new_reg])
        async with srv, cli:
            listener = await srv.listen_ssl(0, "127.0.0.1")
            port = int(listener.sockets[0].getsockname()[1])
            srv.add_destination(SyncDestination(b.hash, "new-node"))
            task = cli.add_destination(_At(a.hash, "old-node", port))
            if task is not None:
                await task
            while not (srv.connections and cli.connections):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            old_reg.store_synchronize(v1.Stroke(id=1, width=2.5, label="from old"))
            new_reg.store_synchronize(v2.Pen(id=2, thickness=4.0, label="from new"))
            pens = new_reg.store_for_class(v2.Pen)
            strokes = old_reg.store_for_class(v1.Stroke)
            while 1 not in pens or 2 not in strokes:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            assert (pens[1].thickness, pens[1].label) == (2.5, "from old")
            assert (strokes[2].width, strokes[2].label) == (4.0, "from new")

    async def bounded() -> None:
        async with asyncio.timeout(20):
            await scenario()

    asyncio.run(bounded())


class _At(SyncDestination):
    def __init__(self, dest_hash: Any, name: str, port: int) -> None:
        super().__init__(dest_hash, name, host="127.0.0.1")
        self.port = port


def test_old_side_that_does_not_validate_and_no_schemas(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "schemas" / "board.yaml").write_text(SCHEMA.replace("id: int", "id: nope"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "broken")
    (root / "schemas" / "board.yaml").write_text(SCHEMA)
    code, out, err = run_cli("breaking", "--against", "main", cwd=root)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "entanglegen breaking: the schemas of main do not validate",
        "schemas/board.yaml:7:11: error: unknown type 'nope' "
        "[types.Stroke.properties.id.type]",
        "entanglegen: 1 error, 0 warnings in 1 file",
        "entanglegen breaking: error: fix the schemas of main first",
    ]
    code, out, _ = run_cli(
        "breaking", "--against", "main", "--format", "github", cwd=root
    )
    assert code == 2
    assert out.startswith("::error file=schemas/board.yaml,line=7,col=11,")
    (root / "empty").mkdir()
    code, _, err = run_cli("breaking", "empty", "--against", "main", cwd=root)
    assert code == 2
    assert err == "entanglegen breaking: error: no schema files found in empty\n"


def test_unknown_properties_store_rest_is_emitted_for_sql_types_only(
    tmp_path: Path,
) -> None:
    text = RENAMED.format(storage="sql").replace(
        "    primary_key: id\n",
        "    primary_key: id\n    unknown_properties: store_rest\n",
    )
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "board.yaml").write_text(text)
    result = build([tmp_path / "schemas"], root=tmp_path)
    code = result.files["board_sync/models/pen.py"].decode()
    assert '    sync_unknown_properties = "store_rest"\n' in code
    refuse = text.replace("store_rest", "refuse")
    (tmp_path / "schemas" / "board.yaml").write_text(refuse)
    data = build([tmp_path / "schemas"], root=tmp_path).files[
        "board_sync/models/pen.py"
    ]
    assert b"sync_unknown_properties" not in data  # the runtime's default
    for storage, value, message in (
        ("memory", "store_rest", "unknown_properties applies to sql types only"),
        ("sql", "keep", "unknown_properties must be refuse or store_rest, not 'keep'"),
    ):
        bad = RENAMED.format(storage=storage).replace(
            "    primary_key: id\n",
            f"    primary_key: id\n    unknown_properties: {value}\n",
        )
        (tmp_path / "schemas" / "board.yaml").write_text(bad)
        exit_code, _, err = run_cli("check", "schemas", cwd=tmp_path)
        assert exit_code == 1
        assert err.splitlines()[0] == (
            f"schemas/board.yaml:8:25: error: {message} [types.Pen.unknown_properties]"
        )


# Rules seen when a case runs backwards (new → old); the rest are their own inverse.
PAIRS = {
    "REGISTRY_ADDED": "REGISTRY_REMOVED",
    "OPERATION_ADDED": "OPERATION_REMOVED",
    "ENUM_ADDED": "ENUM_REMOVED",
    "ENUM_VALUE_ADDED": "ENUM_VALUE_REMOVED",
    "TYPE_ADDED": "TYPE_REMOVED",
    "PROPERTY_TYPE_WIDENED": "PROPERTY_TYPE_NARROWED",
    "PROPERTY_LENGTH_WIDENED": "PROPERTY_LENGTH_NARROWED",
    "PROPERTY_MADE_NULLABLE": "PROPERTY_MADE_REQUIRED",
    "PROPERTY_DEFAULT_ADDED": "PROPERTY_DEFAULT_REMOVED",
    "PROPERTY_DIGITS_WIDENED": "PROPERTY_DIGITS_NARROWED",
    "UNIQUE_ADDED": "UNIQUE_REMOVED",
    "CHECK_ADDED": "CHECK_REMOVED",
    "INDEX_ADDED": "INDEX_REMOVED",
    "NAVIGATION_ADDED": "NAVIGATION_REMOVED",
}
INVERSE = PAIRS | {v: k for k, v in PAIRS.items()}
INVERSE |= {r: "PROPERTY_REMOVED" for r in RULES if r.startswith("PROPERTY_ADDED_")}
# Backwards, a declared rename is a removal and an addition, and a removed property
# comes back as an addition of whichever kind it is.
ONE_WAY = {"type_renamed", "property_renamed", "renamed_type_and_property"}
ONE_WAY |= {"property_removed", "memory_property_removed"}


def _rules(text: str) -> set[str]:
    return {line.split("[", 1)[1].split("]")[0] for line in text.splitlines()[:-1]}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name.removeprefix("breaking_") not in ONE_WAY],
    ids=lambda p: p.name,
)
def test_a_case_backwards_reports_the_inverse_rules(case: Path) -> None:
    rel = case.relative_to(ROOT).as_posix()
    forward = _rules(run_cli("breaking", f"{rel}/new", "--against", f"{rel}/old")[2])
    backward = _rules(run_cli("breaking", f"{rel}/old", "--against", f"{rel}/new")[2])
    assert backward == {INVERSE.get(rule, rule) for rule in forward}
