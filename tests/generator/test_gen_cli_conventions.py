"""CLI conventions through ``main(argv)``: streams, exit status, the check summary,
``init``, the distribution layout, help texts, ``pki issue --init`` and the typescript
target hand-over."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from gen_helpers import CASES, ROOT, run_cli

GOOD = CASES / "good_memory_basic" / "schemas"


def test_check_summary_on_success_and_quiet() -> None:
    code, out, err = run_cli("check", "schemas")
    assert (code, err) == (0, "")
    types = sum(
        len(yaml.safe_load(p.read_text())["types"])
        for p in (ROOT / "schemas").glob("*.yaml")
    )
    assert out == f"checked 2 files, {types} types: ok\n"
    assert run_cli("check", "schemas", "-q") == (0, "", "")


def test_machine_formats_keep_stdout_clean() -> None:
    code, out, err = run_cli("check", "schemas", "--format", "json")
    assert code == 0
    assert json.loads(out) == []
    assert err.startswith("checked 2 files, ")  # the human line moves to stderr
    code, out, err = run_cli("check", "schemas", "--format", "github", "-q")
    assert (code, out, err) == (0, "", "")


def test_build_json_output_is_one_array(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    for _ in range(2):  # a real build, then the up-to-date shortcut
        code, out, err = run_cli(
            "build", str(GOOD), "-o", str(out_dir), "--format", "json"
        )
        assert code == 0, err
        assert json.loads(out) == []
        assert "entanglegen: " in err


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "no/such/dir"),
        ("build", "no/such/file.yaml"),
        ("check", "schemas", "missing.yaml"),
        ("migrations", "check", "no/such/dir"),
        ("breaking", "no/such/dir", "--against", "schemas"),
    ],
)
def test_a_missing_path_is_a_usage_error(argv: tuple[str, ...]) -> None:
    code, out, err = run_cli(*argv)
    assert code == 2, out + err
    assert "no/such" in err or "missing.yaml" in err
    assert "Traceback" not in err


def test_argparse_errors_return_2_from_main() -> None:
    code, _, err = run_cli("check", "--format", "xml")
    assert code == 2
    assert "invalid choice: 'xml'" in err
    assert run_cli("frobnicate")[0] == 2
    assert run_cli("--help")[0] == 0


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('layout = "flat"', "layout must be one of packages, distribution"),
        ('version = "latest"', "version must be a version string such as '1.0.2'"),
    ],
)
def test_bad_configuration_is_a_usage_error(
    tmp_path: Path, setting: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.entanglegen]\n{setting}\n")
    code, _, err = run_cli("check", cwd=tmp_path)
    assert code == 2
    assert f"pyproject.toml: [tool.entanglegen] {message}" in err


def test_init_scaffolds_a_project_that_builds(tmp_path: Path) -> None:
    code, out, err = run_cli("init", "my-app", cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "my-app"
    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]
    assert config["entanglegen"]["layout"] == "distribution"
    schema = project / "schemas" / "my_app.yaml"
    assert "package: my_app_sync" in schema.read_text()
    assert json.loads((project / "schemas" / "entanglegen.schema.json").read_text())
    assert "pip install -e generated/my_app_sync" in out
    assert run_cli("check", cwd=project) == (0, "checked 1 file, 1 type: ok\n", "")
    code, _, err = run_cli("build", cwd=project)
    assert code == 0, err
    dist = project / "generated" / "my_app_sync"
    assert (dist / "my_app_sync" / "models" / "note.py").is_file()
    assert (dist / "my_app_sync" / "py.typed").is_file()
    meta = tomllib.loads((dist / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "my-app-sync"
    assert meta["project"]["version"] == "0.1.0"
    assert meta["tool"]["setuptools"]["package-dir"] == {"": "."}
    # A second init changes nothing.
    before = (project / "pyproject.toml").read_text()
    code, _, err = run_cli("init", "my-app", cwd=tmp_path)
    assert code == 1
    assert "has [tool.entanglegen] already; nothing written" in err
    assert (project / "pyproject.toml").read_text() == before


def test_init_adds_to_an_existing_pyproject_and_keeps_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"')
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "board.yaml").write_text("mine\n")
    code, out, _ = run_cli("init", "--name", "board", cwd=tmp_path)
    assert code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "x"\n\n[tool.entanglegen]\n')
    assert tomllib.loads(text)["project"] == {"name": "x"}
    assert (tmp_path / "schemas" / "board.yaml").read_text() == "mine\n"
    assert "kept schemas/board.yaml (exists)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("init", "--name", "Bad-Name"), "is not a lower-case identifier"),
        (("init", "afile"), "exists and is not a directory"),
        (("init", "broken"), "broken/pyproject.toml: cannot read it: "),
    ],
)
def test_init_usage_errors(tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "pyproject.toml").write_text("[tool\n")
    code, _, err = run_cli(*argv, cwd=tmp_path)
    assert code == 2
    assert message in err
    assert not (tmp_path / "pyproject.toml").exists()
    assert not (tmp_path / "broken" / "schemas").exists()
    assert (tmp_path / "broken" / "pyproject.toml").read_text() == "[tool\n"


def test_distribution_layout_check_and_stale_files(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    args = ("build", str(GOOD), "-o", str(out_dir), "--layout", "distribution")
    assert run_cli(*args)[0] == 0
    dist = out_dir / "board_sync"
    assert (dist / "pyproject.toml").is_file()
    assert (dist / "board_sync" / "__init__.py").is_file()
    assert run_cli(*args, "--check") == (0, "", "")
    pyproject = dist / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"0.1.0"', '"9"'))
    code, out, _ = run_cli(*args, "--check")
    assert code == 1
    assert f"--- a/{out_dir.as_posix()}/board_sync/pyproject.toml" in out
    # What an install leaves beside the import package is not ours to remove.
    build_copy = dist / "build" / "lib" / "board_sync"
    shutil.copytree(dist / "board_sync", build_copy)
    assert run_cli(*args)[0] == 0
    assert (build_copy / "__init__.py").is_file()
    # Back to the packages layout: the distribution's files are stale and removed.
    code, out, _ = run_cli("build", str(GOOD), "-o", str(out_dir))
    assert code == 0
    assert (out_dir / "board_sync" / "__init__.py").is_file()
    assert not pyproject.exists()
    assert not (dist / "board_sync" / "registry.py").exists()


def _help(*argv: str) -> str:
    code, out, err = run_cli(*argv, "--help")
    assert code == 0, err
    return out


HELPS = [
    (),
    ("init",),
    ("check",),
    ("build",),
    ("pki",),
    ("pki", "init"),
    ("pki", "issue"),
    ("pki", "hash"),
    ("demo",),
    ("breaking",),
    ("schema",),
    ("migrations",),
    ("migrations", "new"),
    ("migrations", "check"),
    ("node",),
    ("node", "add"),
    ("node", "list"),
    ("node", "serve"),
    ("node", "upgrade"),
    ("node", "remove"),
]


def _undocumented(text: str) -> list[str]:
    """Argument lines of an argparse help text that carry no help text."""
    lines = text.splitlines()
    bare = []
    for i, line in enumerate(lines):
        if not re.match(r"^  \S", line) or line.endswith(":"):
            continue
        inline = len(re.split(r"\s{2,}", line.strip(), maxsplit=1)) == 2
        after = lines[i + 1] if i + 1 < len(lines) else ""
        listing = re.match(r"^    \w", after)  # a group of sub-commands follows
        if not (inline or listing or re.match(r"^ {6,}[^\s-]", after)):
            bare.append(line.strip())
    return bare


@pytest.mark.parametrize("argv", HELPS, ids=lambda a: " ".join(a) or "entanglegen")
def test_help_is_plain_and_complete(argv: tuple[str, ...]) -> None:
    text = _help(*argv)
    assert "usage:" in text
    for markup in ("``", ":func:", ":mod:", "§", "PROTOCOL.md", "quirk"):
        assert markup not in text, f"{markup!r} in {' '.join(argv)} --help"
    assert _undocumented(text) == []


def test_pki_issue_needs_a_ca_unless_init(tmp_path: Path) -> None:
    typo = tmp_path / "pkk"
    code, _, err = run_cli("pki", "issue", "-d", str(typo), "hq")
    assert code == 2
    assert f"no CA in {typo.as_posix()}" in err
    assert "--init" in err
    assert not typo.exists()  # nothing was created
    code, _, err = run_cli("pki", "issue", "-d", str(typo), "--init", "hq")
    assert code == 0, err
    assert {p.name for p in typo.iterdir()} >= {"ca.key", "ca.pem", "hq.pem", "hq.key"}
    ca = (typo / "ca.pem").read_bytes()
    assert run_cli("pki", "issue", "-d", str(typo), "field")[0] == 0
    assert (typo / "ca.pem").read_bytes() == ca  # the same CA signs both


def test_typescript_target_is_handed_over(tmp_path: Path) -> None:
    pytest.importorskip("entanglegen.typescript", reason="engineer H's target")
    out_dir = tmp_path / "ts"
    code, _, err = run_cli(
        "build", str(GOOD), "--target", "typescript", "-o", str(out_dir)
    )
    assert code == 0, err
    assert (out_dir / "board_sync" / "package.json").is_file()
    assert (
        run_cli(
            "build", str(GOOD), "--target", "typescript", "-o", str(out_dir), "--check"
        )[0]
        == 0
    )
    code, _, err = run_cli(
        "build", str(GOOD), "schemas", "--target", "typescript", "-o", str(out_dir)
    )
    assert code == 2
    assert "--target typescript takes one schema directory" in err
