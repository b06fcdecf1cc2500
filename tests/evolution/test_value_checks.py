"""A received value that does not fit its declared type is refused, never converted.

Through two in-memory managers over TLS (the general and the routed receive paths),
and property by property: the codec plan's inline check (one generated function per
class) accepts exactly what the rule's checker accepts, so the fast path and the
decoding path never disagree.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

sys.path.insert(0, str(Path(__file__).parent.parent / "runtime" / "net"))

from net_helpers import (
    Owner,
    Thing,
    connect_pair,
    fresh_registries,
    manager,
    run,
    server,
)

from entanglement._codecplan import as_is_names_of, decoders_of
from entanglement._model import fill_from_message
from entanglement.interface import (
    SyncBadEncodingError,
    Synchronizable,
    SyncRegistry,
    sync_property,
)
from entanglement.sql import SqlSynchronizable, SqlSyncRegistry

BAD_SIZES = [2.5, 3.0, True, "4", [4]]


async def _send_things(pki: Any) -> tuple[dict[int, Thing], Owner]:
    a_reg, b_reg, _ = fresh_registries()
    srv, cli = server(pki["a"], a_reg), manager(pki["b"], b_reg)
    try:
        _, at_srv = await connect_pair(srv, cli, pki["a"], pki["b"])
        owner = Owner()
        things = [Thing(1, owner, color="red", size=3)]
        things += [
            Thing(10 + i, owner, color="x", size=v) for i, v in enumerate(BAD_SIZES)
        ]
        things += [
            Thing(20, owner, color=7, size=1),
            Thing(2, owner, color="", size=-5),
        ]
        for thing in things:
            srv.synchronize(thing, destinations=[at_srv])
        await b_reg.wait_for(lambda: 2 in b_reg.things)
        return dict(b_reg.things), owner
    finally:
        await srv.aclose()
        await cli.aclose()


def test_mistyped_values_are_refused_over_tls(pki: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="entanglement")
    stored, _ = run(_send_things(pki))
    assert sorted(stored) == [1, 2]  # in order: every refused one came before 2
    assert (stored[1].color, stored[1].size) == ("red", 3)
    assert type(stored[1].size) is int
    assert stored[2].size == -5
    refused = [
        r.getMessage() for r in caplog.records if "rejected sync" in r.getMessage()
    ]
    assert len(refused) == len(BAD_SIZES) + 1, refused
    assert all("'server'" in line for line in refused), refused
    assert any("'size'" in m and "got float 2.5" in m for m in refused), refused
    assert any("'size'" in m and "got boolean True" in m for m in refused), refused
    assert any("'size'" in m and "got string '4'" in m for m in refused), refused
    assert any("'color'" in m and "got int 7" in m for m in refused), refused


class Typed(Synchronizable):
    sync_registry = SyncRegistry()
    sync_primary_keys = ("key",)
    key: str = sync_property()
    count: int | None = sync_property()
    ratio: float = sync_property()
    flag: bool = sync_property()
    free: Any = sync_property()  # no rule: anything JSON


class _Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class Row(_Base):
    __tablename__ = "value_rows"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(3))
    kind: Mapped[str] = mapped_column(sa.Enum("a", "b", native_enum=False))
    on: Mapped[bool] = mapped_column(sa.Boolean)
    size: Mapped[float] = mapped_column(sa.Float)


VALUES = [0, 1, -1, 2**63 - 1, -(2**63), 2**63, 2.5, 3.0, True, False, "", "a",
          "abcd", "b", None, [], {}]  # fmt: skip
CASES = [(Typed, n) for n in ("key", "count", "ratio", "flag", "free")]
CASES += [(Row, n) for n in ("id", "code", "kind", "on", "size", "sync_serial")]


@pytest.mark.parametrize(("cls", "name"), CASES)
def test_inline_check_agrees_with_the_decoding_path(cls: type, name: str) -> None:
    as_is, decoder = as_is_names_of(cls), decoders_of(cls)[name]
    for value in VALUES:
        msg = {name: value}
        inline = as_is.issuperset(msg)
        try:
            decoded = value if decoder is None or value is None else decoder(value)
        except ValueError:
            assert not inline, (name, value)
            continue
        assert inline, (name, value)
        assert decoded is value  # accepted values are never converted


def test_a_mistyped_value_leaves_the_object_unchanged() -> None:
    obj = Typed()
    fill_from_message(obj, {"key": "k", "count": 1, "ratio": 1.5, "flag": False})
    with pytest.raises(SyncBadEncodingError, match=r"'count'.*got float 2\.5"):
        fill_from_message(obj, {"ratio": 9.0, "count": 2.5})
    assert (obj.count, obj.ratio) == (1, 1.5)  # not 2, and nothing half-applied
