"""Unit and property tests of the pieces every generated string passes through."""

from __future__ import annotations

import ast
import keyword
import math

from hypothesis import given
from hypothesis import strategies as st

from entanglegen import naming
from entanglegen.literals import docstring, import_block, py_literal, safe_comment_text

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(st.text())
def test_docstring_is_one_inert_string_literal(text: str) -> None:
    literal = docstring(text, indent=4)
    tree = ast.parse(f"class C:\n    {literal}\n")
    body = tree.body[0].body  # type: ignore[attr-defined]
    assert len(body) == 1
    assert isinstance(body[0], ast.Expr)
    assert isinstance(body[0].value, ast.Constant)
    value = body[0].value.value
    assert isinstance(value, str)
    # Wrapping may move whitespace, never other characters.
    assert "".join(value.split()) == "".join(text.strip().expandtabs().split())


@given(json_values)
def test_py_literal_round_trips(value: object) -> None:
    assert ast.literal_eval(py_literal(value)) == value


def test_py_literal_of_non_finite_floats() -> None:
    assert eval(py_literal(math.inf)) == math.inf
    assert eval(py_literal(-math.inf)) == -math.inf
    assert math.isnan(eval(py_literal(math.nan)))


@given(st.text())
def test_names_are_always_safe_identifiers(text: str) -> None:
    for name in (
        naming.class_name(text),
        naming.attribute_name(text),
        naming.member_name(text),
    ):
        assert name.isidentifier()
        assert not keyword.iskeyword(name)
    assert not naming.member_name(text).startswith("_")


def test_naming_rules() -> None:
    assert naming.class_name("help-request") == "HelpRequest"
    assert naming.class_name("int") == "Int"
    assert naming.class_name("Exception") == "Exception_"
    assert naming.class_name("Base") == "Base_"
    assert naming.class_name("3d shape") == "T3dShape"
    assert naming.attribute_name("class") == "class_"
    assert naming.attribute_name("id") == "id"  # builtins unused by generated code stay
    assert naming.attribute_name("str") == "str_"
    assert naming.attribute_name("x-pos") == "x_pos"
    assert naming.attribute_name("9lives") == "_9lives"
    assert naming.member_name("in-progress") == "IN_PROGRESS"
    assert naming.member_name("__class__") == "CLASS"
    assert naming.member_name("1st") == "V_1ST"
    assert naming.snake_case("HelpRequest") == "help_request"
    assert naming.module_alias("a.b.c") == "_a_b_c"


def test_comment_text_is_one_line() -> None:
    # Percent-encoded: no line break, no coding declaration (issue 11).
    assert safe_comment_text("a\nb\rc\x00") == "a%0Ab%0Dc%00"
    assert (
        safe_comment_text("emacs-coding=utf-7/a.yaml") == "emacs-coding%3Dutf-7/a.yaml"
    )


def test_import_block_groups_like_isort() -> None:
    lines = {
        "from .registry import registry",
        "import uuid",
        "from typing import Any",
        "from __future__ import annotations",
        "import sqlalchemy as sa",
        "from entanglement.types import uuid_encoder",
        "from entanglement.types import uuid_decoder",
        "from myhooks import f as _myhooks_f",
    }
    assert import_block(lines, frozenset({"entanglement"})) == (
        "from __future__ import annotations",
        "",
        "import uuid",
        "from typing import Any",
        "",
        "import sqlalchemy as sa",
        "from myhooks import f as _myhooks_f",
        "",
        "from entanglement.types import uuid_decoder, uuid_encoder",
        "",
        "from .registry import registry",
    )
