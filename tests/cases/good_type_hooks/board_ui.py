"""The UI hooks of the good_type_hooks case (imported by its tests): they record calls."""

from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, Any, Any]] = []


def stroke_arrived(obj: Any, **info: Any) -> None:
    CALLS.append(("stroke", obj, info["operation"]))


def stroke_erased(obj: Any, **info: Any) -> None:
    CALLS.append(("erased", obj, info["operation"]))


def sticker_arrived(obj: Any, **info: Any) -> None:
    CALLS.append(("sticker", obj, info["registry"]))
