"""``entanglegen breaking`` on the table options and exact types of issue 13.

Unique, index, check, server_default and onupdate, decimal digits, list and map items
and navigation attributes: old → new schema pairs through the real command, in process,
on real files (and one real git repository).  The rule codes' golden cases are in
``test_gen_breaking.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gen_helpers import ROOT, run_cli
from test_gen_breaking import _git

# -- table options, decimals, lists and maps -------------------------------------------

SHOP = """\
registry: shop
package: shop_sync
storage: {storage}
types:
  Warehouse:
    primary_key: id
    properties:
      id: {{type: uuid, default: random}}
  Item:
    primary_key: id
{options}    properties:
      id: {{type: uuid, default: random}}
      warehouse: Warehouse
{props}"""
ITEM_PROPS = """\
      sku: {type: str, length: 32, unique: true}
      name: {type: str, index: true}
      qty: {type: int, default: 0, check: "qty >= 0"}
"""


def _shop(props: str = ITEM_PROPS, options: str = "", storage: str = "sql") -> str:
    return SHOP.format(storage=storage, options=options, props=props)


def _compare(tmp_path: Path, old: str, new: str) -> tuple[int, list[str]]:
    """``breaking new --against old`` on one schema file each: (exit code, lines)."""
    for side, text in (("old", old), ("new", new)):
        (tmp_path / side).mkdir(parents=True)
        (tmp_path / side / "shop.yaml").write_text(text)
    (tmp_path / "pyproject.toml").write_text("[tool.entanglegen]\n")
    code, out, err = run_cli("breaking", "new", "--against", "old", cwd=tmp_path)
    assert out == ""
    assert "Traceback" not in err
    assert "error" not in err, err
    return code, err.splitlines()[:-1]


def _rules_of(lines: list[str]) -> list[str]:
    return [line.split("[", 1)[1].split("]")[0] for line in lines]


def test_renamed_properties_and_types_keep_their_constraints(tmp_path: Path) -> None:
    old = _shop(options="    unique:\n      - [warehouse, sku]\n")
    new = _shop(
        ITEM_PROPS.replace("sku: {", "code: {renamed_from: sku, ")
        .replace("qty: {", "quantity: {renamed_from: qty, ")
        .replace('"qty >= 0"', '"quantity >= 0"'),
        "    renamed_from: Item\n    unique:\n      - [warehouse, code]\n",
    ).replace("  Item:\n", "  Article:\n")
    code, lines = _compare(tmp_path, old, new)
    # The table (and so every constraint's name) is renamed too: not a constraint change.
    assert sorted(_rules_of(lines)) == [
        "PROPERTY_RENAMED",
        "PROPERTY_RENAMED",
        "TABLE_RENAMED",
        "TYPE_RENAMED",
    ]
    assert code == 1  # TABLE_RENAMED and PROPERTY_RENAMED are SQL


def test_equivalent_constraints_are_not_changes(tmp_path: Path) -> None:
    child = (
        "  Perishable:\n    parent: Item\n    indexes:\n"
        "      - properties: [id, best_before]\n"
        "    properties:\n      best_before: {type: date, index: true}\n"
    )
    old = _shop(options="    unique:\n      - [warehouse, name]\n") + child
    new = (
        _shop(
            ITEM_PROPS.replace(", index: true", "").replace(
                '"qty >= 0"', "'\"qty\">=0'"
            ),
            "    indexes:\n"
            "      - {properties: [name, warehouse], unique: true, name: by_place}\n"
            "      - {properties: [name], name: items_by_name}\n",
        )
        + child
    )
    assert _compare(tmp_path, old, new) == (0, [])


def test_check_sql_compared_as_tokens(tmp_path: Path) -> None:
    new = _shop(ITEM_PROPS.replace('"qty >= 0"', '"QTY >= 0 and qty < 10"'))
    code, lines = _compare(tmp_path, _shop(), new)
    assert code == 1
    assert lines == [
        "new/shop.yaml:16:43: breaking: [CHECK_CHANGED] check of Item.qty changed from "
        "'qty >= 0' to 'QTY >= 0 and qty < 10': stored rows and old peers' rows may "
        "fail it (WIRE, SQL)"
    ]


def test_an_index_made_unique_is_a_removal_and_an_addition(tmp_path: Path) -> None:
    new = _shop(ITEM_PROPS.replace("index: true", "unique: true"))
    code, lines = _compare(tmp_path, _shop(), new)
    assert code == 1
    assert lines == [
        "new/shop.yaml:15:7: safe: [INDEX_REMOVED] index on (name) removed from Item "
        "(ix_item_name)",
        "new/shop.yaml:15:33: breaking: [UNIQUE_ADDED] unique on (name) added to Item "
        "(uq_item_name): stored rows may violate it (the revision fails), and new "
        "nodes refuse old peers' rows that do (WIRE, SQL)",
    ]
    backwards = _compare(tmp_path / "back", new, _shop())
    assert backwards[0] == 0
    assert _rules_of(backwards[1]) == ["UNIQUE_REMOVED", "INDEX_ADDED"]


def test_a_unique_rule_implied_by_the_old_table_is_safe(tmp_path: Path) -> None:
    new = _shop(
        ITEM_PROPS.replace(", unique: true", ""),
        "    unique:\n      - [name, sku]\n      - [id, name]\n",
    )
    code, lines = _compare(tmp_path, _shop(), new)
    assert code == 0
    assert [line.split(": ")[1:3] for line in lines] == [
        [
            "safe",
            "[UNIQUE_ADDED] unique on (name, sku) added to Item (uq_item_name_sku)",
        ],
        ["safe", "[UNIQUE_ADDED] unique on (id, name) added to Item (uq_item_id_name)"],
        ["safe", "[UNIQUE_REMOVED] unique on (sku) removed from Item (uq_item_sku)"],
    ]
    assert "it includes the old key, an old unique rule's columns" in lines[0]
    # A new nullable column without default is NULL in every old row: implied too;
    # with a default every old row gets the same value, and they collide.
    for n, (column, status) in enumerate(
        [
            ("{type: str, nullable: true, unique: true}", "safe"),
            ("{type: str, default: x, unique: true}", "breaking"),
            (
                "{type: str, nullable: true, server_default: x, unique: true}",
                "breaking",
            ),
        ]
    ):
        new = _shop(ITEM_PROPS + f"      code: {column}\n")
        code, lines = _compare(tmp_path / str(n), _shop(), new)
        assert code == 1  # the added property itself is WIRE
        assert _rules_of(lines)[-1] == "UNIQUE_ADDED"
        assert f": {status}: [UNIQUE_ADDED]" in lines[-1]


def test_constraints_of_a_removed_property_go_with_it(tmp_path: Path) -> None:
    old = _shop(options="    indexes:\n      - properties: [warehouse, name]\n")
    code, lines = _compare(tmp_path, old, _shop(""))
    assert code == 1
    assert _rules_of(lines) == ["PROPERTY_REMOVED"] * 3


@pytest.mark.parametrize(
    ("before", "after", "rule", "categories"),
    [
        (
            "{type: json, default: []}",
            "{type: list, of: str, default: []}",
            "PROPERTY_TYPE_NARROWED",
            "WIRE, SQL, API",
        ),
        (
            "{type: list, of: str, default: []}",
            "{type: json, default: []}",
            "PROPERTY_TYPE_WIDENED",
            "WIRE, API",
        ),
        (
            "{type: list, of: int}",
            "{type: list, of: float}",
            "PROPERTY_TYPE_WIDENED",
            "WIRE, API",
        ),
        (
            "{type: map, of: float}",
            "{type: map, of: int}",
            "PROPERTY_TYPE_NARROWED",
            "WIRE, SQL, API",
        ),
        (
            "{type: list, of: str}",
            "{type: map, of: str}",
            "PROPERTY_TYPE_CHANGED",
            "WIRE, SQL, API",
        ),
        (
            "{type: list, of: str}",
            "{type: list, of: bool}",
            "PROPERTY_TYPE_CHANGED",
            "WIRE, SQL, API",
        ),
        ("str", "{type: list, of: str}", "PROPERTY_TYPE_CHANGED", "WIRE, SQL, API"),
    ],
)
@pytest.mark.parametrize("storage", ["sql", "memory"])
def test_list_and_map_type_changes(
    tmp_path: Path, storage: str, before: str, after: str, rule: str, categories: str
) -> None:
    def schema(kind: str) -> str:
        return _shop(f"      tags: {kind}\n", storage=storage)

    code, lines = _compare(tmp_path, schema(before), schema(after))
    if storage == "memory":
        categories = categories.replace("SQL, ", "")
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"new/shop.yaml:14:7: breaking: [{rule}] Item.tags was ")
    assert lines[0].endswith(f" ({categories})")


def test_decimal_digits_in_a_memory_registry_are_wire_only(tmp_path: Path) -> None:
    def schema(digits: str) -> str:
        return _shop(f"      price: {{type: decimal, {digits}}}\n", storage="memory")

    old = schema("precision: 10, scale: 2")
    code, lines = _compare(tmp_path, old, schema("precision: 10, scale: 4"))
    assert (code, _rules_of(lines)) == (1, ["PROPERTY_DIGITS_NARROWED"])  # 8 → 6 whole
    assert lines[0].startswith("new/shop.yaml:14:7: breaking: ")
    assert lines[0].endswith(" (WIRE)")
    code, lines = _compare(tmp_path / "b", old, schema("precision: 12"))
    assert (code, _rules_of(lines)) == (1, ["PROPERTY_DIGITS_NARROWED"])  # scale 2 → 0
    code, lines = _compare(tmp_path / "c", old, schema("precision: 11, scale: 2"))
    assert (code, _rules_of(lines)) == (1, ["PROPERTY_DIGITS_WIDENED"])
    code, lines = _compare(tmp_path / "d", old, schema("precision: 10, scale: 2"))
    assert (code, lines) == (0, [])


ORG = """\
registry: org
package: org_sync
storage: sql
types:
  Team:
    primary_key: name
    properties:
      name: {type: str, length: 40}
  Person:
    primary_key: id
    properties:
      id: {type: uuid, default: random}
      team: {type: Team, navigate: team_ref, back: members}
  Membership:
    primary_key: [person, team]
    many_to_many: {person: teams, team: people}
    properties:
      person: Person
      team: Team
"""


def test_navigation_follows_renamed_types_and_properties(tmp_path: Path) -> None:
    new = (
        ORG.replace("  Team:\n", "  Squad:\n    renamed_from: Team\n    table: team\n")
        .replace("type: Team", "type: Squad")
        .replace("team: Team", "team: Squad")
        .replace("      team: {", "      squad: {renamed_from: team, ")
    )
    code, lines = _compare(tmp_path, ORG, new)
    assert sorted(_rules_of(lines)) == ["PROPERTY_RENAMED", "TYPE_RENAMED"]
    assert code == 1  # the column is renamed (SQL) and so is the class (API)
    # A navigation renamed is one removed (its old name breaks code) and one added.
    code, lines = _compare(tmp_path / "b", ORG, ORG.replace("team_ref", "team_obj"))
    assert (code, _rules_of(lines)) == (1, ["NAVIGATION_REMOVED", "NAVIGATION_ADDED"])
    assert lines[0] == (
        "new/shop.yaml:13:7: breaking: [NAVIGATION_REMOVED] navigation attribute "
        "Person.team_ref removed (one Team, through Person.team): code using it "
        "breaks (API)"
    )


def test_the_example_schemas_changed_in_git(tmp_path: Path) -> None:
    """The new rules on the example schemas, through a git ref and ``--format json``."""
    root = tmp_path / "proj"
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / "pyproject.toml").write_text('[tool.entanglegen]\nschemas = ["schemas"]\n')
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "v1")
    path = root / "schemas" / "exercise.yaml"
    text = path.read_text()
    for old, new in (
        ("precision: 8\n", "precision: 10\n"),
        ('"length(callsign) >= 2"', '"length(callsign) >= 3"'),
        (
            "opened_at: {type: datetime, default: now, index: true}",
            "opened_at: {type: datetime, default: now}",
        ),
        ("navigate: taker, back: handoffs_taken}", "navigate: taker}"),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    code, out, err = run_cli(
        "breaking", "--against", "main", "--format", "json", cwd=root
    )
    assert code == 1
    found = {
        c["rule"]: (c["line"], c["subject"], c["categories"], c["status"])
        for c in json.loads(out)["changes"]
    }
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if fragment in line)

    assert found == {
        "PROPERTY_DIGITS_WIDENED": (
            line_of("      score:"),
            "Team.score",
            ["WIRE", "SQL"],
            "breaking",
        ),
        "CHECK_CHANGED": (
            line_of("length(callsign) >= 3"),
            "Participant.callsign",
            ["WIRE", "SQL"],
            "breaking",
        ),
        "INDEX_REMOVED": (line_of("opened_at:"), "HelpRequest.opened_at", [], "safe"),
        "NAVIGATION_REMOVED": (
            line_of("to_participant:"),
            "Participant.handoffs_taken",
            ["API"],
            "breaking",
        ),
    }
    assert err.splitlines()[-1] == (
        "entanglegen breaking: 3 breaking (WIRE 2, SQL 2, API 1), 0 ignored, 1 safe "
        "change(s) against main"
    )


def test_decimal_defaults_compare_as_their_text(tmp_path: Path) -> None:
    def schema(default: str) -> str:
        return _shop(
            f"      price: {{type: decimal, precision: 6, scale: 2, {default}}}\n"
        )

    assert _compare(tmp_path, schema("default: 0"), schema('default: "0"')) == (0, [])
    code, lines = _compare(
        tmp_path / "b", schema("default: 0"), schema('default: "0.00"')
    )
    assert code == 1
    assert lines == [
        "new/shop.yaml:14:7: breaking: [PROPERTY_DEFAULT_CHANGED] default of Item.price "
        "changed from 0 to '0.00': objects created without it get another value (API)"
    ]


def test_navigation_of_an_added_or_removed_type(tmp_path: Path) -> None:
    # Membership goes: its class (TYPE_REMOVED) and the lists it put on Person and Team.
    without = ORG.split("  Membership:\n")[0]
    code, lines = _compare(tmp_path, ORG, without)
    assert code == 1
    assert sorted(_rules_of(lines)) == [
        "NAVIGATION_REMOVED",
        "NAVIGATION_REMOVED",
        "TYPE_REMOVED",
    ]
    navs = [line for line in lines if "[NAVIGATION_REMOVED]" in line]
    assert sorted(line.split("attribute ")[1].split(" ")[0] for line in navs) == [
        "Person.teams",
        "Team.people",
    ]
    # Person's own team_ref goes with Person; Team.members, which it put on Team, is
    # reported at Team (Person is gone from the new file).
    code, lines = _compare(tmp_path / "b", without, without.split("  Person:\n")[0])
    assert _rules_of(lines) == ["NAVIGATION_REMOVED", "TYPE_REMOVED"]
    assert lines[0].startswith(
        "new/shop.yaml:5:3: breaking: [NAVIGATION_REMOVED] navigation attribute "
        "Team.members removed (a list of Person, through Person.team)"
    )
    assert lines[1].startswith(
        "old/shop.yaml:9:3: breaking: [TYPE_REMOVED] type Person"
    )
    # Backwards: Person is added with its team_ref (TYPE_ADDED says so) and puts
    # Team.members on a type that stays.
    code, lines = _compare(tmp_path / "c", without.split("  Person:\n")[0], without)
    assert code == 0
    assert sorted(_rules_of(lines)) == ["NAVIGATION_ADDED", "TYPE_ADDED"]
    assert "attribute Team.members added" in "".join(lines)
