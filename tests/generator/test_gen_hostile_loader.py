"""The loader's bounds and locations on hostile YAML (issue 11), through ``load_text``."""

from __future__ import annotations

import pytest

from entanglegen.diagnostics import Diagnostics
from entanglegen.loader import ALIAS_BUDGET, MAX_DEPTH, YMap, YSeq, load_text


def _load(text: str) -> tuple[object, list[tuple[int, int, str]]]:
    diags = Diagnostics()
    node = load_text(text, "f.yaml", diags)
    return node, [(d.line, d.col, d.message) for d in diags.items]


def test_an_unclosed_bracket_names_where_it_opens() -> None:
    _, diags = _load("a: 1\nb: [1, 2\n")
    assert diags[0][2].endswith("(it opens at line 2, column 4)")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: &x [*x]\n", (1, 8), "recursive YAML alias *x"),
        ("a: *y\n", (1, 4), "unknown YAML alias *y"),
        ("a: 1\n---\nb: 2\n", (2, 1), "a schema file holds one YAML document"),
        ("a:\n  b: 1\n  c: x\x00y\n", (3, 7), "character U+0000 is not allowed"),
        (
            "a: 1\nb: 'open\nc: 2\n",
            (2, 4),
            "YAML syntax error: while scanning a quoted",
        ),
        ("a: 1\nb: [1, 2\n", (3, 1), "YAML syntax error: while parsing a flow seq"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", (1, 1003), "YAML syntax error"),
        ("a: !!float x\n", (1, 4), "invalid float value 'x'"),
        ("a: !!set {x}\n", (1, 4), "YAML tag '!!set' is not allowed"),
        ("a: !!omap [b: 1]\n", (1, 4), "YAML tag '!!omap' is not allowed"),
    ],
)
def test_refused_at_its_place(text: str, where: tuple[int, int], message: str) -> None:
    node, diags = _load(text)
    assert node is None
    assert len(diags) == 1, diags
    assert diags[0][:2] == where
    assert diags[0][2].startswith(message), diags[0][2]


def test_nesting_limit() -> None:
    def nested(levels: int) -> str:
        return "".join("  " * i + f"k{i}:\n" for i in range(levels - 1)) + (
            "  " * (levels - 1) + "leaf: 1\n"
        )

    node, diags = _load(nested(MAX_DEPTH))
    assert isinstance(node, YMap)
    assert diags == []
    node, diags = _load(nested(MAX_DEPTH + 1))
    assert node is None
    # The first mapping too many starts at its first key.
    assert diags == [
        (
            MAX_DEPTH + 1,
            2 * MAX_DEPTH + 1,
            f"YAML nesting deeper than {MAX_DEPTH} levels",
        )
    ]


def test_aliases_within_the_budget_are_shared_not_copied() -> None:
    node, diags = _load("a: &x [1, 2, 3]\nb: *x\nc: *x\n")
    assert diags == []
    assert isinstance(node, YMap)
    b, c = node.get("b"), node.get("c")
    assert isinstance(b, YSeq)
    assert b is c  # one tree, however often it is named


def test_the_alias_budget_counts_expanded_nodes() -> None:
    # Each alias of &x costs the 1 + 9 nodes of its tree.
    uses = ALIAS_BUDGET // 10
    body = "".join(f"k{i}: *x\n" for i in range(uses))
    node, diags = _load("x: &x [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + body)
    assert diags == []
    assert isinstance(node, YMap)
    _, diags = _load("x: &x [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + body + "last: *x\n")
    assert diags == [
        (uses + 2, 7, f"YAML aliases expand to more than {ALIAS_BUDGET} nodes")
    ]


def test_merge_keys_are_plain_keys() -> None:
    node, diags = _load("a: &x {b: 1}\nc:\n  <<: *x\n")
    assert diags == []
    assert isinstance(node, YMap)
    inner = node.get("c")
    assert isinstance(inner, YMap)
    assert inner.names() == ["<<"]


def test_bad_values_stop_the_file_but_not_the_report() -> None:
    # Every bad value of the file is reported, then the file is not validated further.
    node, diags = _load("a: 2020-02-30\nb: !!int twelve\nc: !!python/tuple [1]\n")
    assert node is None
    assert [d[:2] for d in diags] == [(1, 4), (2, 4), (3, 4)]
