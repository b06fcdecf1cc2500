"""The SQL application of ``bench/catchup.py``, imported by both of its node processes.

As issue 12 asks of the benchmark's application, its registry overrides
``sync_receive`` (counting the rows it saw, the "application-specific processing" of
API.md) and calls super; the model is a declarative class with a GUID key and its own
``__init__``.  The
answering node imports it by dotted path (``entanglegen node --base _cu_models.Base``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry


class BenchRegistry(SqlSyncRegistry):
    """The application's registry: overrides ``sync_receive`` and calls super."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bench_received = 0

    def sync_receive(self, obj: Any, operation: Any, **info: Any) -> Any:
        result = super().sync_receive(obj, operation, **info)
        self.bench_received += 1
        return result


registry = BenchRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Reading(Base):
    __tablename__ = "reading"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    sensor: Mapped[str] = mapped_column(String(40))
    value: Mapped[float]
    seq: Mapped[int]

    def __init__(self, **kwargs: Any) -> None:
        # The application's own constructor (issue 12 asks for one): the key is
        # made here rather than at flush, so a new reading knows its id at once.
        kwargs.setdefault("id", uuid.uuid4())
        super().__init__(**kwargs)


def rows(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` fresh rows of ``Reading`` (as dicts)."""
    return [
        {"id": uuid.uuid4(), "sensor": f"{prefix}-{i % 97}", "value": i * 0.5, "seq": i}
        for i in range(n)
    ]
