"""``sync_property(aliases=...)``: sent under the old name, received under either."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement._model import fill_from_message
from entanglement.interface import Synchronizable, SyncRegistry, sync_property
from entanglement.sql.base import SqlSynchronizable, SqlSyncRegistry
from entanglement.sql.schema.construct import canonical_names

_registry = SyncRegistry()


class Stroke(Synchronizable):
    sync_registry = _registry
    sync_primary_keys = ("id",)
    id: str = sync_property()
    colour: str = sync_property(aliases=("color", "tint"))


def _stroke(colour: str) -> Stroke:
    stroke = Stroke()
    stroke.id, stroke.colour = "s1", colour
    return stroke


def test_sent_under_the_first_alias() -> None:
    assert _stroke("red").to_sync() == {"id": "s1", "color": "red"}
    # the general loop (a subset of attributes) uses the same wire name
    assert _stroke("red").to_sync(["colour"]) == {"color": "red"}


@pytest.mark.parametrize("key", ["colour", "color", "tint"])
def test_received_under_any_name(key: str) -> None:
    stroke = Stroke()
    fill_from_message(stroke, {"_sync_type": "Stroke", "id": "s1", key: "blue"})
    assert stroke.colour == "blue"
    assert "color" not in vars(stroke)  # the alias forwards, it stores nothing


def test_bad_aliases_refused() -> None:
    with pytest.raises(TypeError, match="string"):
        sync_property(aliases="color")
    with pytest.raises(ValueError, match="'_'"):
        sync_property(aliases=("_old",))
    with pytest.raises(ValueError, match="repeat"):
        sync_property(aliases=("a", "a"))


def test_alias_clashing_with_an_attribute_refused() -> None:
    with pytest.raises(TypeError, match="already an attribute"):

        class Clash(Synchronizable):
            sync_registry = SyncRegistry()
            sync_primary_keys = ("id",)
            id: str = sync_property()
            colour: str = sync_property(aliases=("color",))

            def color(self) -> str:
                return "x"


class _Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class Line(_Base):
    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    width: Mapped[float] = sync_property(mapped_column(sa.Float), aliases=("thick",))


def test_sql_row_sent_and_received_under_the_old_name() -> None:
    line = Line(id=1, width=2.5, sync_serial=3)
    assert line.to_sync()["thick"] == 2.5
    assert "width" not in line.to_sync()
    msg: dict[str, Any] = {"id": 1, "thick": 4.0, "width": 5.0}
    canonical_names(msg, {"thick": "width"})
    assert msg == {"id": 1, "width": 5.0}  # both names: the new one wins
