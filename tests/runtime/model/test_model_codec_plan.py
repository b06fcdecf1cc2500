"""The per-class codec plans give exactly what the general to_sync/fill loops give.

``to_sync()`` (no attributes) takes the generated plan; ``to_sync(all names)`` takes
the general loop.  Both must agree for every kind of value, and the plan must step
aside (same result, same errors) for absent attributes, values that encode
themselves, failing encoders and property names that are not identifiers.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entanglement._codecplan import FILLS_PER_CLASS, encoder_of, filler_of
from entanglement._model import assign_failed, fill_from_message
from entanglement.interface import SyncBadEncodingError, Synchronizable, sync_property


class Encodes:
    def __init__(self, text: str) -> None:
        self.text = text

    def sync_encode_value(self) -> str:
        return f"encoded:{self.text}"


class Sample(Synchronizable):
    sync_primary_keys = ("key",)
    key: int = sync_property()
    plain: Any = sync_property()
    when: datetime.datetime = sync_property()
    ident: uuid.UUID = sync_property()
    shout: str = sync_property(encoder=lambda v: v.upper(), decoder=lambda v: v.lower())


def all_names(cls: type[Synchronizable]) -> list[str]:
    return list(cls._sync_properties)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5),
    st.floats(allow_nan=False), st.builds(Encodes, st.text(max_size=3)),
)  # fmt: skip


@given(
    key=st.integers(),
    plain=scalars,
    when=st.none() | st.datetimes(timezones=st.just(datetime.UTC)),
    ident=st.none() | st.uuids(),
    shout=st.none() | st.text(max_size=4),
    owner=st.none() | st.text(max_size=3),
    absent=st.sets(st.sampled_from(["plain", "when", "ident", "shout", "_sync_owner"])),
)
def test_plan_matches_general_loop(
    key: int,
    plain: Any,
    when: Any,
    ident: Any,
    shout: Any,
    owner: Any,
    absent: set[str],
) -> None:
    obj = Sample()
    values = {"key": key, "plain": plain, "when": when, "ident": ident, "shout": shout,
              "_sync_owner": owner}  # fmt: skip
    for name, value in values.items():
        if name not in absent:
            setattr(obj, name, value)
    general = obj.to_sync(all_names(Sample))
    assert obj.to_sync() == general
    planned = encoder_of(Sample)(obj)
    encodes_itself = isinstance(plain, Encodes) and "plain" not in absent
    if encodes_itself:
        assert planned is None  # the general loop calls sync_encode_value
        assert general["plain"] == f"encoded:{plain.text}"
    else:
        assert planned == general
        assert list(planned) == list(general)  # same key order, same frame bytes
    assert absent.isdisjoint(general)


def test_failing_encoder_reports_the_property() -> None:
    obj = Sample()
    obj.key, obj.shout = 1, 42  # int has no .upper()
    with pytest.raises(AttributeError):
        encoder_of(Sample)(obj)  # the plan lets the encoder's error through ...
    with pytest.raises(ValueError, match="'shout' of Sample"):
        obj.to_sync()  # ... and to_sync reports it through the general loop


def test_non_identifier_property_names() -> None:
    namespace: dict[str, Any] = {
        "sync_primary_keys": ("id",),
        "id": sync_property(),
        "with-dash": sync_property(),
        "class": sync_property(),
    }
    Odd = type(Synchronizable)("Odd", (Synchronizable,), namespace)
    obj = Odd()
    obj.id = 3
    setattr(obj, "with-dash", "d")
    setattr(obj, "class", "c")
    assert encoder_of(Odd)(obj) == {"id": 3, "with-dash": "d", "class": "c"}
    assert obj.to_sync() == {"id": 3, "with-dash": "d", "class": "c"}


def test_subclass_gets_its_own_plan() -> None:
    class Base(Synchronizable):
        sync_primary_keys = ("id",)
        id: int = sync_property()

    class Derived(Base):
        extra: str = sync_property()

    base, derived = Base(), Derived()
    base.id, derived.id, derived.extra = 1, 2, "x"
    assert encoder_of(Base)(base) == {"id": 1}
    assert encoder_of(Derived)(derived) == {"id": 2, "extra": "x"}
    assert encoder_of(Base) is not encoder_of(Derived)
    assert Base().to_sync() == {}


def test_fill_decodes_through_the_plan() -> None:
    obj = Sample()
    when = datetime.datetime(2026, 11, 24, 1, 0, tzinfo=datetime.UTC)
    ident = uuid.uuid4()
    message = {"key": 7, "plain": None, "when": when.isoformat(), "ident": str(ident),
               "shout": "LOUD", "_sync_owner": None}  # fmt: skip
    obj.sync_receive_constructed(message)
    assert (obj.key, obj.plain, obj.when, obj.ident, obj.shout) == (
        7, None, when, ident, "loud",
    )  # fmt: skip
    with pytest.raises(SyncBadEncodingError, match="no sync property 'nope'"):
        obj.sync_receive_constructed({"nope": 1})
    with pytest.raises(SyncBadEncodingError, match="cannot decode 'when'"):
        obj.sync_receive_constructed({"key": 8, "when": "not a date"})
    assert obj.key == 7  # nothing assigned when a value fails to decode


def test_fill_assigns_codec_free_messages_as_they_are() -> None:
    # A message naming only properties without a codec (and reserved keys) is filled
    # by plain assignment; one naming a codec property or an unknown key is not.
    obj = Sample()
    obj.sync_receive_constructed({"key": 3, "plain": [1, "x"], "_sync_type": "S",
                                  "_sync_owner": "o", "_other": 1})  # fmt: skip
    assert (obj.key, obj.plain) == (3, [1, "x"])
    assert not hasattr(obj, "_other")
    assert "_sync_owner" not in vars(obj)
    obj.sync_receive_constructed({"key": 4, "shout": "QUIET"})
    assert (obj.key, obj.shout) == (4, "quiet")
    with pytest.raises(SyncBadEncodingError, match="no sync property 'nope'"):
        obj.sync_receive_constructed({"key": 5, "nope": 1})
    assert obj.key == 4  # an unknown key is found before anything is assigned


# -- the compiled fill of one key tuple (filler_of) ---------------------------------


def _odd_class() -> type[Synchronizable]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if value == "refuse":  # a setter's own refusal, reported for its key
            raise ValueError("this object refuses 'refuse'")
        object.__setattr__(self, name, value)

    namespace: dict[str, Any] = {
        "sync_primary_keys": ("id",),
        "__annotations__": {"id": int, "count": int, "name": str, "ratio": float},
        "id": sync_property(),
        "count": sync_property(),
        "name": sync_property(),
        "ratio": sync_property(),
        "blob": sync_property(),
        "with-dash": sync_property(),
        "class": sync_property(),
        "__setattr__": __setattr__,
    }
    return type(Synchronizable)("Filled", (Synchronizable,), namespace)


Filled = _odd_class()
FILL_KEYS = ["id", "count", "name", "ratio", "blob", "with-dash", "class",
             "_sync_owner", "_sync_type"]  # fmt: skip
values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=4), st.just("refuse"), st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)  # fmt: skip


def _outcome(fill: Any, msg: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    obj = Filled()
    try:
        fill(obj, msg)
    except Exception as exc:  # compared by type and text below
        return dict(vars(obj)), f"{type(exc).__name__}: {exc}"
    return dict(vars(obj)), None


def _planned(obj: Any, msg: dict[str, Any]) -> None:
    # What a receive plan does: the compiled fill of the message's key tuple, or the
    # general fill where there is none or the compiled one defers.  (The cache is
    # emptied so that every example gets its own compiled fill, past the bound.)
    Filled.__dict__.get("_sync_fill_plans", {}).clear()
    filler = filler_of(Filled, tuple(msg), assign_failed)
    if filler is None or not filler(obj, msg):
        fill_from_message(obj, msg)


@given(
    st.lists(st.sampled_from(FILL_KEYS), unique=True, max_size=9).flatmap(
        lambda keys: st.fixed_dictionaries({k: values for k in keys})
    )
)
def test_compiled_fill_matches_the_general_fill(msg: dict[str, Any]) -> None:
    # Same attributes set, same error (type and text), whatever the key order, the
    # values' rules (an int beyond 64 bits, a bool for an int, a non-string name) or
    # the setter's refusal.
    assert _outcome(_planned, msg) == _outcome(fill_from_message, msg)


def test_compiled_fill_is_one_per_key_tuple_and_bounded() -> None:
    class Small(Synchronizable):
        sync_primary_keys = ("id",)
        id: int = sync_property()
        note: str = sync_property()
        shout: str = sync_property(encoder=str.upper, decoder=str.lower)

    first = filler_of(Small, ("id", "note"), assign_failed)
    assert first is not None
    assert filler_of(Small, ("id", "note"), assign_failed) is first
    assert filler_of(Small, ("note", "id"), assign_failed) is not first  # order counts
    assert filler_of(Small, ("id", "shout"), assign_failed) is None  # a codec: general
    assert filler_of(Small, ("id", "nope"), assign_failed) is None  # unknown: general
    obj = Small()
    assert first(obj, {"id": 1, "note": "n"})
    assert (obj.id, obj.note) == (1, "n")
    assert not first(obj, {"id": "1", "note": "m"})  # a rule broken: nothing assigned
    assert (obj.id, obj.note) == (1, "n")
    # A peer choosing key tuples cannot grow the cache past its bound.
    for i in range(FILLS_PER_CLASS * 2):
        filler_of(Small, ("id",) * (i + 1), assign_failed)
    assert len(Small.__dict__["_sync_fill_plans"]) == FILLS_PER_CLASS
    assert filler_of(Small, ("note",), assign_failed) is None  # past it: general
    assert filler_of(Filled, ("id", "with-dash", "class"), assign_failed) is not None
