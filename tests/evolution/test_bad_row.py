"""Issue 10 item 5: one bad row is refused alone; its burst is stored; the serial held.

A peer sends 50 good rows, one whose ``sync_serial`` does not fit 64 bits (and one
with a null for a NOT NULL column), 50 good rows and ``YouHave 200``: the good rows are stored, the bad one is refused with an
error to the sender (logged with the peer), and the YouHave is not recorded past what
was really received.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent.parent / "sql"))

from sql_helpers import SqlNode, connected, run, shutdown, wait_until

from entanglement.interface import (
    SyncBadEncodingError,
    Synchronizable,
    SyncRegistry,
)
from entanglement.operations import error
from entanglement.sql import SyncOwner
from entanglement.sql.schema.messages import YouHave

from .models import V2Stroke, rows

_raw_registry = SyncRegistry()


class ErrorsSeen(SyncRegistry):
    """The sender's view of the errors its peer answered (registered first)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.register_syncable("SyncBadEncodingError", SyncBadEncodingError)
        self.register_operation("error", error)

    def sync_receive(self, obj: Any, **info: Any) -> Any:
        self.seen.append(obj)
        return super().sync_receive(obj, **info)


class RawStroke(Synchronizable):
    """What a faulty peer sends: any dict, as a ``Stroke``."""

    sync_registry = _raw_registry
    sync_type = "Stroke"
    sync_primary_keys = ("id",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.id = values["id"]
        self.values = values

    def to_sync(self, attributes: Any = None) -> dict[str, Any]:
        return dict(self.values)


def _incoming(node: SqlNode, owner_id: Any) -> int | None:
    with node.plain() as session:
        owner = session.get(SyncOwner, owner_id)
        return None if owner is None else int(owner.incoming_serial)


async def _scenario(pki: Any, db_factory: Any, caplog: Any) -> tuple[int, int | None]:
    receiver = await SqlNode(
        "rx", db_factory("rx"), pki["a"], models=(V2Stroke,)
    ).start()
    sender = await SqlNode("tx", db_factory("tx"), pki["b"], models=(V2Stroke,)).start()
    sender.manager.registries.append(_raw_registry)  # after the SQL one: sends only
    errors = ErrorsSeen()
    sender.manager.registries.insert(0, errors)
    await connected(receiver, sender)
    with sender.plain() as session:
        owner = session.scalars(
            sa.select(SyncOwner).where(SyncOwner.dest_hash.is_(None))
        ).one()
        session.expunge(owner)
    dest = next(p.dest for p in sender.manager.connections)

    def row(i: int, serial: int) -> RawStroke:
        return RawStroke({"id": i, "name": f"r{i}", "width": 1.0, "sync_serial": serial,
                          "_sync_owner": str(owner.id)})  # fmt: skip

    null_name = row(52, 52)
    null_name.values["name"] = None  # NOT NULL: it would fail the batch's commit
    burst = [row(i, i) for i in range(1, 51)] + [row(51, 2**64), null_name]
    burst += [row(i, i) for i in range(53, 103)]
    for obj in burst:
        sender.manager.synchronize(obj, destinations=[dest])
    sender.manager.synchronize(YouHave(200, owner), destinations=[dest])
    await wait_until(lambda: len(rows(receiver.engine)) >= 100)
    await wait_until(lambda: "not 200 " in caplog.text)  # the YouHave, held back
    await wait_until(lambda: len(errors.seen) >= 2)
    texts = sorted(str(e) for e in errors.seen)
    assert len(texts) == 2, texts  # the bad rows alone
    assert "'name' cannot be null" in texts[0]
    assert "sync_serial" in texts[1]
    stored, incoming = rows(receiver.engine), _incoming(receiver, owner.id)
    await shutdown(receiver, sender)
    return len(stored), incoming


def test_a_bad_serial_is_refused_alone(pki, db_factory, caplog):
    caplog.set_level(logging.INFO, logger="entanglement")
    stored, incoming = run(_scenario(pki, db_factory, caplog), timeout=60)
    assert stored == 100
    assert incoming == 0  # the bad row's serial is unknown: nothing is recorded
    refused = [
        r.getMessage() for r in caplog.records if "rejected sync" in r.getMessage()
    ]
    assert any("'sync_serial'" in m and "'tx'" in m for m in refused), refused
