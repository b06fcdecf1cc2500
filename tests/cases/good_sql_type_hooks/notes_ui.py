"""The hooks of the good_sql_type_hooks case (imported by its tests): they record calls."""

from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, Any, str]] = []


def note_arrived(obj: Any, **info: Any) -> None:
    CALLS.append(("arrived", obj.id, obj.text))


def note_removed(obj: Any, **info: Any) -> None:
    CALLS.append(("removed", obj.id, str(info["operation"])))
