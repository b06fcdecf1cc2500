"""An old and a new schema version on two SQL nodes over TLS (issue 9 part 4).

While they differ, the old node refuses what it cannot read (a property it does not
know, a name longer than its column), never truncating it, names the peer and the
property in its log, and does not count the refused rows as received.  Once it is
migrated and restarted with the new schema, both databases hold the same rows,
values and ``sync_serial``s.  With ``sync_unknown_properties = "store_rest"`` the old
node stores the rest of such rows meanwhile, and still gets them whole after the
upgrade.  A row whose ``sync_serial`` does not fit 64 bits is refused alone
(issue 10 item 5).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent.parent / "sql"))

from sql_helpers import SqlNode, connected, run, shutdown, wait_until

from entanglement.sql import SyncOwner

from .models import (
    UPGRADE_V1,
    UPGRADE_V1_POSTGRES,
    V1Stroke,
    V1TolerantStroke,
    V2Stroke,
    rows,
)


def _commit(node: SqlNode, *objs: Any) -> None:
    with node.session() as session:
        session.add_all(objs)
        session.commit()


def _edit(node: SqlNode, cls: type, ident: int, **values: Any) -> None:
    with node.session() as session:
        row = session.get(cls, ident)
        if values.get("delete"):
            session.delete(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        session.commit()


def _incoming(node: SqlNode, other: SqlNode) -> int:
    with node.plain() as session:
        owner = session.scalars(
            sa.select(SyncOwner).where(SyncOwner.dest_hash == other.hash)
        ).one()
        return int(owner.incoming_serial)


def _max_serial(node: SqlNode) -> int:
    with node.plain() as session:
        return int(session.scalar(sa.text("select max(serial) from sync_serial")))


def _upgrade(node: SqlNode) -> None:
    statements = list(UPGRADE_V1)
    if node.engine.dialect.name == "postgresql":
        statements += UPGRADE_V1_POSTGRES
    with node.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def _same(a: SqlNode, b: SqlNode) -> bool:
    left, right = rows(a.engine), rows(b.engine)
    for table in (left, right):
        for row in table.values():
            row.pop("sync_owner_id")  # the same owner; compared through the serials
    return left == right


async def _scenario(pki: Any, db_factory: Any, old_model: type, caplog: Any) -> None:
    old = await SqlNode("old", db_factory("old"), pki["a"], models=(old_model,)).start()
    new = await SqlNode("new", db_factory("new"), pki["b"], models=(V2Stroke,)).start()
    _commit(old, old_model(id=1, name="one", width=1.5, label="first"))
    _commit(
        new,
        V2Stroke(id=10, name="ten", width=2.0, caption="tenth"),
        V2Stroke(id=11, name="eleven", width=2.5, colour="#ff0000"),
        V2Stroke(id=12, name="a-name-too-long-for-v1", width=3.0),
    )
    await connected(old, new)
    await wait_until(lambda: 1 in rows(new.engine))
    # both sides edit and delete while they run different schemas
    _commit(old, old_model(id=2, name="two", width=4.0))
    _edit(old, old_model, 1, width=9.5)
    _edit(new, V2Stroke, 10, colour="#00ff00", caption="tenth!")
    _edit(new, V2Stroke, 11, delete=True)
    _commit(new, V2Stroke(id=13, name="thirteen", width=5.0))
    await wait_until(lambda: rows(new.engine).get(1, {}).get("width") == 9.5)
    await wait_until(lambda: 2 in rows(new.engine))
    last = _max_serial(new)  # the old node held its YouHave of everything back:
    await wait_until(
        lambda: f"not {last})" in caplog.text or f"not {last} " in caplog.text
    )
    stored = rows(old.engine)
    assert 12 not in stored  # refused, never truncated to 8 characters
    if old_model is V1TolerantStroke:  # the rest of the rows it could not read whole
        assert stored[13]["name"] == "thirteen"
    else:
        assert 13 not in stored
    assert all(len(row["name"]) <= 8 for row in stored.values())
    assert _incoming(old, new) < _max_serial(new)  # the refused rows are not counted
    # the old node is migrated and restarted with the new schema
    await old.stop()
    old.dispose()
    upgraded = SqlNode("old", old.url, pki["a"], models=(V2Stroke,))
    _upgrade(upgraded)
    await upgraded.start(old.port)
    await wait_until(lambda: upgraded.live(new) and new.live(upgraded))
    await wait_until(lambda: _same(upgraded, new))
    assert set(rows(new.engine)) == {1, 2, 10, 12, 13}
    assert rows(upgraded.engine)[10]["colour"] == "#00ff00"
    assert rows(upgraded.engine)[10]["caption"] == "tenth!"
    await shutdown(upgraded, new)


def test_old_node_refuses_what_it_cannot_read_then_converges(pki, db_factory, caplog):
    caplog.set_level(logging.INFO, logger="entanglement")
    run(_scenario(pki, db_factory, V1Stroke, caplog), timeout=90)
    refused = [
        r.getMessage() for r in caplog.records if "rejected sync of" in r.getMessage()
    ]
    assert any("'colour'" in m and "'new'" in m for m in refused), refused
    assert any("'name'" in m and "at most 8" in m for m in refused), refused
    assert any("recording serial" in r.getMessage() for r in caplog.records)


def test_store_rest_keeps_the_rest_meanwhile(pki, db_factory, caplog):
    caplog.set_level(logging.INFO, logger="entanglement")
    run(_scenario(pki, db_factory, V1TolerantStroke, caplog), timeout=90)
    stored = [
        r.getMessage() for r in caplog.records if "which this schema" in r.getMessage()
    ]
    assert any("'colour'" in m and "'new'" in m for m in stored), stored
