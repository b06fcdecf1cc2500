"""Checked by ``mypy --strict`` in test_model_typing.py: the typing contract of declarations.

``sync_property`` / ``no_sync_property`` are factories returning ``Any`` for the type
checker, so declarations keep the attribute's declared type.
"""

from __future__ import annotations

import datetime
from typing import Any, assert_type

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import (
    Synchronizable,
    SyncRegistry,
    no_sync_property,
    sync_property,
)

registry = SyncRegistry()


class Point(Synchronizable):
    sync_registry = registry
    sync_primary_keys = ("x",)

    x: int = sync_property()
    y: float = sync_property(constructor=True)
    label: str | None = sync_property(None, "a label", type=str)
    when: datetime.datetime = sync_property()
    # (``@tag.encoder`` decorators work at runtime but are untyped for mypy --strict,
    # because the declaration is ``Any``; typed code passes encoder= / decoder=.)
    tag: object = sync_property(encoder=str, decoder=str)

    def __init__(self, *, y: float = 0.0) -> None:
        self.y = y


class Triangle(Point):
    sides: int = no_sync_property(3)


class Model(DeclarativeBase):
    pass


class Row(Model):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(primary_key=True)
    local_state: Mapped[str] = no_sync_property(mapped_column(String))


def probe(p: Point, t: Triangle, r: Row) -> dict[str, Any]:
    assert_type(p.x, int)
    assert_type(p.label, str | None)
    assert_type(t.sides, int)
    assert_type(r.local_state, str)
    return p.to_sync(["x"])
