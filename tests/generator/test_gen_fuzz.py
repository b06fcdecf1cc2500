"""Random schemas never crash the generator: problems are diagnostics, and whatever
validates compiles.  (Hypothesis draws documents from the language's own vocabulary, valid
and invalid values mixed, so most draws reach deep into validation and generation.)"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from entanglegen.build import build

NAMES = st.sampled_from(["A", "B", "c-d", "__import__", "Base", "Team", "x y", 3, ""])
PROPS = st.sampled_from(
    ["id", "x", "class", "_y", "sync_z", "self", "a-b", "Team", "str"]
)
TYPES = st.sampled_from(
    [
        "str",
        "int",
        "float",
        "bool",
        "bytes",
        "uuid",
        "datetime",
        "date",
        "json",
        "enum",
        "A",
        "B",
        "Team",
        "r.A",
        "other.B",
        "Colour",
        "strng",
        7,
    ]
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 70000),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["random", "now", "today", "a", "red"]),
    st.lists(st.sampled_from(["a", "b", "a-b", "A_B"]), max_size=3),
)


def _prop() -> st.SearchStrategy[object]:
    body = st.fixed_dictionaries(
        {"type": TYPES},
        optional={
            "nullable": st.one_of(st.booleans(), VALUES),
            "default": VALUES,
            "length": st.one_of(st.integers(-1, 300), VALUES),
            "values": st.one_of(
                st.lists(st.sampled_from(["a", "b", "c-d", "C_D"]), max_size=3), VALUES
            ),
            "sync": st.one_of(st.booleans(), VALUES),
            "encoder": st.sampled_from(["m.enc", "bad path", "os.system"]),
            "doc": st.text(max_size=10),
            "nulable": st.booleans(),
        },
    )
    return st.one_of(TYPES, body, VALUES)


TYPE_BODY = st.fixed_dictionaries(
    {},
    optional={
        "primary_key": st.one_of(
            PROPS, st.lists(PROPS, max_size=3), st.just("unique"), VALUES
        ),
        "parent": NAMES,
        "priority": VALUES,
        "table": st.sampled_from(["t", "items", "bad name", 5]),
        "storage": st.sampled_from(["memory", "sql", "disk"]),
        "sync_type": st.text(max_size=5),
        "properties": st.dictionaries(PROPS, _prop(), max_size=4),
        "doc": st.text(max_size=10),
    },
)

DOCUMENT = st.fixed_dictionaries(
    {
        "types": st.one_of(
            st.dictionaries(NAMES, TYPE_BODY, min_size=1, max_size=3), VALUES
        )
    },
    optional={
        "registry": st.sampled_from(["r", "other", "class", "", "1x", None]),
        "package": st.sampled_from(["r_sync", "json", "Bad", "class", None]),
        "storage": st.sampled_from(["memory", "sql", "sqll"]),
        "enums": st.dictionaries(
            st.sampled_from(["Colour", "Base", "A"]),
            st.fixed_dictionaries(
                {
                    "values": st.one_of(
                        st.lists(st.sampled_from(["red", "x-y", "X_Y"]), max_size=3),
                        VALUES,
                    )
                }
            ),
            max_size=2,
        ),
        "operations": st.dictionaries(
            st.sampled_from(["sync", "delete", "snyc", "nudge", "Bad"]),
            st.one_of(
                st.none(),
                st.fixed_dictionaries({"handler": st.sampled_from(["m.f", "bad"])}),
            ),
            max_size=3,
        ),
        "policy": st.dictionaries(
            st.sampled_from(["should_send", "should_listen", "should_lisen"]),
            st.sampled_from(["m.f", "x"]),
            max_size=2,
        ),
    },
)


VALID_TYPES = st.sampled_from(
    ["str", "int", "float", "bool", "bytes", "uuid", "datetime", "date", "json", "A"]
)
NEARLY_VALID_PROP = st.one_of(
    VALID_TYPES,
    st.fixed_dictionaries(
        {"type": VALID_TYPES},
        optional={
            "nullable": st.just(True),
            "doc": st.text(max_size=20),
            "sync": st.booleans(),
            "default": st.sampled_from(
                [None, "x", 1, 2.5, True, [], {"k": "v"}, "random"]
            ),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("enum"),
            "values": st.lists(
                st.text(min_size=1, max_size=5), min_size=1, max_size=3, unique=True
            ),
        },
    ),
)
NEARLY_VALID = st.builds(
    lambda storage, a_props, b_props, b_parent: {
        "registry": "r",
        "package": "r_sync",
        "storage": storage,
        "types": {
            "A": {"primary_key": "id", "properties": {"id": "uuid", **a_props}},
            "B": (
                {"parent": "A", "properties": b_props}
                if b_parent
                else {
                    "primary_key": ["id", "n"],
                    "properties": {"id": "int", "n": "str", **b_props},
                }
            ),
        },
    },
    st.sampled_from(["memory", "sql"]),
    st.dictionaries(
        st.sampled_from(["x", "class", "from", "Any", "y-z", "str", "doc"]),
        NEARLY_VALID_PROP,
        max_size=4,
    ),
    st.dictionaries(
        st.sampled_from(["w", "import", "print", "q"]), NEARLY_VALID_PROP, max_size=3
    ),
    st.booleans(),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.one_of(DOCUMENT, NEARLY_VALID))
def test_random_schemas_never_crash(
    tmp_path: Path, document: dict[str, object]
) -> None:
    schema = tmp_path / "fuzz.yaml"
    schema.write_text(yaml.safe_dump(document, sort_keys=False))
    result = build([schema], root=tmp_path, jobs=1)
    event("generated" if result.ok else "rejected")
    if result.ok:
        for rel, data in result.files.items():
            if rel.endswith(".py"):
                compile(data, rel, "exec")
    else:
        assert result.diagnostics, "a failed build names its problems"
