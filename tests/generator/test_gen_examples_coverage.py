"""The example schemas in ``schemas/`` use the schema language's features (issue 13).

Read as plain YAML: which keys each section uses, which property kinds (decimal, list,
map) each storage has, and whether each storage holds a reference to a type keyed by
several properties.  The hook keys of a type (``on_receive``, ``on_delete``,
``table_args``) name functions of ``entanglegen_examples.hooks``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml
from gen_helpers import ROOT

LANGUAGE = {
    "property": {
        "unique",
        "index",
        "check",
        "onupdate",
        "server_default",
        "precision",
        "scale",
        "of",
        "navigate",
        "back",
    },
    "type": {"indexes", "unique", "many_to_many"},
    "index": {"properties", "unique"},
}
WAITING = {"type": {"table_args", "on_receive", "on_delete"}}
KINDS = {"decimal", "list", "map", "composite reference"}


def _schemas() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(ROOT.glob("schemas/*.yaml"))]


def _used() -> dict[str, set[str]]:
    """Keys used per section, and property kinds per storage (``kinds:sql``...)."""
    used: dict[str, set[str]] = defaultdict(set)
    for schema in _schemas():
        types = schema.get("types") or {}
        storage = schema.get("storage", "memory")
        for spec in types.values():
            used["type"] |= set(spec)
            for index in spec.get("indexes") or []:
                used["index"] |= set(index)
            for prop in (spec.get("properties") or {}).values():
                body = prop if isinstance(prop, dict) else {"type": prop}
                used["property"] |= set(body)
                target = types.get(body["type"]) or {}
                if isinstance(target.get("primary_key"), list):
                    used[f"kinds:{storage}"].add("composite reference")
                used[f"kinds:{storage}"].add(body["type"])
    return used


def test_the_examples_use_every_key_and_kind_of_the_language() -> None:
    used = _used()
    for section, keys in LANGUAGE.items():
        assert keys - used[section] == set(), section
    for storage in ("sql", "memory"):
        assert KINDS - used[f"kinds:{storage}"] == set(), storage


def test_the_examples_use_the_type_hook_keys() -> None:
    assert WAITING["type"] - _used()["type"] == set()
