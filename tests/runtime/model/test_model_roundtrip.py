"""Property test: any object survives to_sync → JSON text → sync_construct/fill."""

from __future__ import annotations

import datetime
import enum
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from entanglement import DestHash
from entanglement.interface import Synchronizable, Unique, sync_property
from entanglement.types import register_enum


class Mood(enum.Enum):
    HAPPY = "h"
    GRUMPY = "g"


register_enum(Mood)


class Record(Synchronizable):
    sync_primary_keys = Unique
    id: uuid.UUID = sync_property(constructor=True)
    when: datetime.datetime | None = sync_property()
    blob: bytes = sync_property()
    peer: DestHash = sync_property()
    mood: Mood = sync_property()
    text: str = sync_property()
    number: int = sync_property()
    items: list[int] = sync_property()

    def __init__(self, *, id: uuid.UUID) -> None:
        self.id = id


json_text = st.text(st.characters(codec="utf-8"))


@given(
    id=st.uuids(),
    when=st.none() | st.datetimes(timezones=st.just(datetime.UTC)),
    blob=st.binary(),
    peer=st.binary(min_size=32, max_size=32).map(DestHash),
    mood=st.sampled_from(Mood),
    text=json_text,
    number=st.integers(),
    items=st.lists(st.integers()),
)
def test_round_trip(id, when, blob, peer, mood, text, number, items):
    obj = Record(id=id)
    obj.when, obj.blob, obj.peer, obj.mood = when, blob, peer, mood
    obj.text, obj.number, obj.items = text, number, items
    payload = json.dumps({**obj.to_sync(), "_sync_type": "Record"})
    msg = json.loads(payload)
    got = Record.sync_construct(msg)
    got.sync_receive_constructed(msg)
    assert got.id == id
    assert got.when == when
    assert got.blob == blob
    assert got.peer == peer
    assert got.mood is mood
    assert (got.text, got.number, got.items) == (text, number, items)
