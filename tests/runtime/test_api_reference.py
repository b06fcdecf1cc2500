"""Every class, function, method and attribute that API.md lists exists at its path.

API.md is the public API of the runtime (``../shared/spec/API.md``, beside the repository).
The test parses its entries (``- class entanglement.x.Name(...)``, ``- method(...)`` below a
class, ``- entanglement.x.function(...)``) and looks each one up, statically (a class's
``sync_primary_keys`` raises when read, by the spec, so ``hasattr`` would not do).

``DEVIATIONS`` are the entries we deliberately do not provide, each with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import SqlSynchronizable, SqlSyncRegistry

API_MD = Path(__file__).resolve().parents[3] / "shared" / "spec" / "API.md"

DEVIATIONS = {
    # Parsing artefact: the "Parameters" heading of listen_ssl's docstring.
    "entanglement.network.SyncServer.Parameters": "not an API entry",
    # Tombstones are replayed as instances of the deleted row's own class (keys decoded
    # from the tombstone), which coalesce with live objects by the ordinary rules; the
    # original's tombstone proxied these Synchronizable methods instead.
    "SyncDeleted.meth": "loop variable leaked into the original's class body",
    "SyncDeleted.sync_compatible": "tombstones replay as the row's own class",
    "SyncDeleted.sync_hash": "tombstones replay as the row's own class",
    "SyncDeleted.sync_primary_keys": "tombstones replay as the row's own class",
    "SyncDeleted.sync_priority": "tombstones replay as the row's own class",
    "SyncDeleted.sync_should_send": "tombstones replay as the row's own class",
    "SyncDeleted.to_sync": "tombstones replay as the row's own class",
    # The in-memory outgoing serial of a local owner is kept per manager (quirk 45: the
    # original kept it on whatever instance was in memory, sometimes a detached one).
    "SyncOwner.outgoing_serial": "kept per manager (quirk 45)",
    # Owners are not owned by themselves through a column here: their wire form still
    # carries _sync_owner = id (§12.3).
    "SyncOwner.sync_owner_id": "owners need no owner column",
}


def _entries() -> list[tuple[str, str, str | None]]:
    """(module, name, member or None) for every entry of API.md, in order."""
    entries: list[tuple[str, str, str | None]] = []
    current: tuple[str, str] | None = None
    for line in API_MD.read_text().splitlines():
        if m := re.match(
            r"- (?:class|exception) (entanglement\.[\w.]+)\.(\w+)\b", line
        ):
            current = (m[1], m[2])
            entries.append((m[1], m[2], None))
        elif m := re.match(r"- (entanglement\.[\w.]+)\.(\w+)\(", line):
            entries.append((m[1], m[2], None))
        elif current and (
            m := re.match(r"- (?:async |classmethod |property )?(\w+)(?:\(| =|$)", line)
        ):
            entries.append((*current, m[1]))
    return entries


def _has(obj: Any, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


def _mapped_sql_class() -> Any:
    # Column attributes that API.md lists on SqlSynchronizable exist on every mapped class.
    class Base(SqlSynchronizable, DeclarativeBase):
        sync_registry = SqlSyncRegistry()

    class Probe(Base):
        __tablename__ = "api_probe"
        id: Mapped[int] = mapped_column(primary_key=True)

    return Probe


@pytest.mark.skipif(
    not API_MD.exists(), reason=f"{API_MD} is not beside the repository"
)
def test_every_api_entry_exists() -> None:
    entries = _entries()
    assert len(entries) > 100  # the parser really read the reference
    mapped = _mapped_sql_class()
    missing = []
    for module, name, member in entries:
        obj = getattr(importlib.import_module(module), name, None)
        label = f"{module}.{name}" + (f".{member}" if member else "")
        short = f"{name}.{member}" if member else label
        if label in DEVIATIONS or short in DEVIATIONS:
            continue
        if obj is None or (member and not _has(obj, member)):
            if member and name == "SqlSynchronizable" and _has(mapped, member):
                continue
            missing.append(label)
    assert missing == []


@pytest.mark.skipif(
    not API_MD.exists(), reason=f"{API_MD} is not beside the repository"
)
def test_deviations_are_still_deviations() -> None:
    # An entry listed as a deviation that now exists should leave the list.
    present = []
    for module, name, member in _entries():
        label = f"{module}.{name}" + (f".{member}" if member else "")
        short = f"{name}.{member}" if member else label
        if member and short in DEVIATIONS:
            obj = getattr(importlib.import_module(module), name)
            if _has(obj, member):
                present.append(short)
    assert present == []
