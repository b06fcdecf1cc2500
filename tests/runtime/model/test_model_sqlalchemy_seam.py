"""The metaclass seam the SQL layer builds on: SynchronizableMeta + SQLAlchemy declarative.

A metaclass deriving from both wraps columns into sync properties before calling
``super().__new__``; the columns must reach SQLAlchemy intact and the properties must be
in ``_sync_properties``.  Runs against a real SQLite file.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from entanglement.interface import (
    Synchronizable,
    SynchronizableMeta,
    SyncProperty,
    SyncRegistry,
    no_sync_property,
    sync_property,
)
from entanglement.types import lookup_codec, register_type

DeclarativeMeta = type(DeclarativeBase)


class CombinedMeta(SynchronizableMeta, DeclarativeMeta):  # type: ignore[misc, valid-type]
    """What the SQL layer does: wrap every plain mapped_column into a sync_property."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any
    ):
        for attr, value in list(ns.items()):
            if isinstance(value, sa.orm.MappedColumn):
                ns[attr] = SyncProperty(value)
        return super().__new__(mcls, name, bases, ns, **kw)


registry = SyncRegistry()


class Base(Synchronizable, DeclarativeBase, metaclass=CombinedMeta):
    __abstract__ = True
    sync_registry = registry


class Widget(Base):
    __tablename__ = "widget"
    sync_primary_keys = ("id",)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(50))
    made: Mapped[datetime.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    secret: Mapped[str | None] = no_sync_property(mapped_column(sa.String(20)))
    extra: int = sync_property(7)


def test_columns_reach_sqlalchemy_and_become_sync_properties(tmp_path: Path):
    assert list(Widget._sync_properties) == [
        "id",
        "name",
        "made",
        "extra",
        "_sync_owner",
    ]
    assert set(Widget.__table__.columns.keys()) == {"id", "name", "made", "secret"}
    assert registry.get_syncable("Widget") is Widget
    assert "Base" not in registry.registry  # __abstract__ bases are not registered
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'seam.db'}")
    try:
        Base.metadata.create_all(engine)
        made = datetime.datetime(2024, 8, 6, 12, 0, tzinfo=datetime.UTC)
        with Session(engine) as session:
            w = Widget(name="gear", made=made, secret="s")
            session.add(w)
            session.flush()
            # (read before commit: SQLite hands back naive datetimes on reload)
            wire = w.to_sync()
            wid = w.id
            session.commit()
        # Mapped[...] annotations are unwrapped to pick the codec from the type map.
        assert wire == {
            "id": str(wid),
            "name": "gear",
            "made": "2024-08-06T12:00:00+00:00",
            "extra": 7,
        }
        with Session(engine) as session:
            loaded = session.get(Widget, wid)
            assert loaded is not None
            loaded.sync_receive_constructed({"name": "cog", "_sync_type": "Widget"})
            session.commit()
            assert session.get(Widget, wid).name == "cog"  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_codec_lookup_serves_sql_column_types():
    # The SQL layer looks codecs up by column type class; subclasses match (quirk 28).
    class Shouting(sa.types.TypeDecorator[str]):
        impl = sa.String
        cache_ok = True

    class Louder(Shouting):
        cache_ok = True

    register_type(Shouting, str.upper, str.lower)
    codec = lookup_codec(Louder)
    assert codec is not None
    assert codec.encoder("hey") == "HEY"
    assert codec.decoder("HEY") == "hey"
