"""Property collection, codecs from annotations, to_sync rules and receiving (§8)."""

from __future__ import annotations

import datetime
import enum
import uuid

import pytest

from entanglement.interface import (
    EphemeralUnflooded,
    SyncBadEncodingError,
    Synchronizable,
    SyncRegistry,
    Unique,
    no_sync_property,
    overrides_sync_receive,
    sync_property,
)
from entanglement.types import register_enum


class Polygon(Synchronizable):
    sync_primary_keys = ("name",)
    name = sync_property()
    sides = sync_property()
    color = sync_property("black")


class Triangle(Polygon):
    sides = no_sync_property(3)
    area = sync_property()


class Square(Polygon):
    # redeclared: the most-derived declaration wins, and comes first
    color = sync_property("red", encoder=str.upper, decoder=str.lower)
    corner = sync_property()


def test_effective_properties_subclass_first_and_most_derived_wins():
    assert list(Polygon._sync_properties) == ["name", "sides", "color", "_sync_owner"]
    assert list(Square._sync_properties) == [
        "color",
        "corner",
        "name",
        "sides",
        "_sync_owner",
    ]
    assert Square._sync_properties["color"].declaring_class is Square
    assert Polygon._sync_properties["color"].declaring_class is Polygon


def test_no_sync_property_hides_inherited_property():
    # quirk 29 fixed: the subclass's no_sync_property removes "sides"
    assert "sides" not in Triangle._sync_properties
    t = Triangle()
    t.name = "t"
    assert t.sides == 3  # the wrapped value stays in the class
    t.area = 1.5
    assert t.to_sync() == {"area": 1.5, "name": "t", "color": "black"}
    with pytest.raises(SyncBadEncodingError, match="has no sync property 'sides'"):
        Triangle().sync_receive_constructed({"sides": 4})


def test_wrapped_values_stay_unwrapped_names_are_removed():
    assert Polygon.__dict__["color"] == "black"
    assert "name" not in Polygon.__dict__
    p = Polygon()
    assert not hasattr(p, "name")
    assert p.color == "black"


def test_sync_type_per_class_and_override():
    class Renamed(Polygon):
        sync_type = "Other"

    class Child(Renamed):
        pass

    assert Polygon.sync_type == "Polygon"
    assert Renamed.sync_type == "Other"
    assert Child.sync_type == "Child"


def test_class_defaults():
    assert Polygon.sync_priority == 100
    assert Polygon.sync_owner is EphemeralUnflooded
    # quirk 34 fixed: ephemeral objects are simply not local
    assert Polygon().sync_is_local is False

    class Plain(Synchronizable):
        pass

    with pytest.raises(
        NotImplementedError, match="Plain does not set sync_primary_keys"
    ):
        Plain.sync_primary_keys  # noqa: B018
    with pytest.raises(NotImplementedError):
        Plain().sync_primary_keys  # noqa: B018


def test_sync_is_local_with_owners():
    class Owner:
        def __init__(self, dest_hash):
            self.dest_hash = dest_hash

    p = Polygon()
    p.sync_owner = None
    assert p.sync_is_local
    p.sync_owner = Owner(None)
    assert p.sync_is_local
    p.sync_owner = Owner("somewhere")
    assert not p.sync_is_local


def test_to_sync_attribute_subset_always_keeps_sync_owner():
    p = Polygon()
    p.name, p.sides = "p", 5
    p._sync_owner = "0f0e0d0c-0b0a-4908-8706-050403020100"
    assert p.to_sync() == {
        "name": "p",
        "sides": 5,
        "color": "black",
        "_sync_owner": "0f0e0d0c-0b0a-4908-8706-050403020100",
    }
    assert p.to_sync(["sides"]) == {
        "sides": 5,
        "_sync_owner": "0f0e0d0c-0b0a-4908-8706-050403020100",
    }
    assert p.to_sync([]) == p.to_sync(None)
    q = Polygon()
    q.name = None
    assert q.to_sync() == {
        "name": None,
        "color": "black",
    }  # None → null, absent omitted


def test_to_sync_encode_failure_names_property_and_class():
    class Bad(Synchronizable):
        when = sync_property(type=datetime.datetime)

    b = Bad()
    b.when = "not a datetime"
    with pytest.raises(ValueError, match=r"'when' of Bad"):
        b.to_sync()


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


register_enum(Level)


class Annotated_(Synchronizable):
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    at: datetime.datetime | None = sync_property()
    level: Level = sync_property()
    later: LaterDefined = sync_property()  # resolved lazily at first use
    raw: bytes = sync_property(type=None)
    explicit = sync_property(type=uuid.UUID)


class LaterDefined(datetime.date):
    pass


def test_codecs_from_annotations_and_type():
    a = Annotated_()
    a.id = uuid.UUID(int=1)
    a.at = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    a.level = Level.HIGH
    a.later = LaterDefined(2020, 2, 2)
    a.raw = b"\x00"
    a.explicit = uuid.UUID(int=2)
    wire = a.to_sync()
    assert wire["id"] == "00000000-0000-0000-0000-000000000001"
    assert wire["at"] == "2020-01-01T00:00:00+00:00"
    assert wire["level"] == "HIGH"
    assert wire["later"] == "2020-02-02"
    assert wire["raw"] == "AA=="  # bytes is in the type map
    assert wire["explicit"] == "00000000-0000-0000-0000-000000000002"
    b = Annotated_()
    b.sync_receive_constructed(dict(wire))
    assert b.id == a.id
    assert b.at == a.at
    assert b.level is Level.HIGH
    assert b.raw == b"\x00"


def test_unresolvable_annotation_means_no_codec():
    class Fwd(Synchronizable):
        thing: NeverDefined = sync_property()  # type: ignore[name-defined]  # noqa: F821

    f = Fwd()
    f.thing = [1, 2]
    assert f.to_sync() == {"thing": [1, 2]}


def test_encoder_and_decoder_decorators():
    class Managed(Synchronizable):
        manager = sync_property()

        @manager.encoder
        def manager(value):
            return value["id"]

        @manager.decoder
        def manager(value):
            return {"id": value}

    m = Managed()
    m.manager = {"id": 7}
    assert m.to_sync() == {"manager": 7}
    n = Managed()
    n.sync_receive_constructed({"manager": 8})
    assert n.manager == {"id": 8}


def test_receive_constructed_errors():
    with pytest.raises(
        SyncBadEncodingError, match="Polygon has no sync property 'bogus'"
    ) as e:
        Polygon().sync_receive_constructed({"name": "x", "bogus": 1, "_sync_type": "P"})
    assert e.value.network_msg == {"name": "x", "bogus": 1, "_sync_type": "P"}
    with pytest.raises(SyncBadEncodingError, match="cannot decode 'at'") as e2:
        Annotated_().sync_receive_constructed({"at": "yesterday"})
    assert isinstance(e2.value.__cause__, ValueError)

    class ReadOnly(Synchronizable):
        value = sync_property(property(lambda self: 1))

    with pytest.raises(SyncBadEncodingError, match="cannot set 'value'"):
        ReadOnly().sync_receive_constructed({"value": 2})


def test_receive_ignores_underscore_keys_and_decoder_none_is_not_assigned():
    a = Annotated_()
    a.sync_receive_constructed({"_sync_owner": "x", "at": None, "explicit": ""})
    assert a.at is None  # null assigns None
    assert not hasattr(a, "explicit")  # decoder returned None for "": not assigned
    assert not hasattr(a, "_sync_owner")


class Built(Synchronizable):
    sync_primary_keys = Unique
    a = sync_property(constructor=1)
    b = sync_property(constructor=2)
    c: uuid.UUID = sync_property(constructor=True)
    d = sync_property()

    def __init__(self, a, b, *, c=None):
        self.a, self.b, self.c = a, b, c


def test_sync_construct_constructor_arguments():
    msg = {"a": 1, "b": 2, "c": str(uuid.UUID(int=3)), "d": 4, "_sync_type": "Built"}
    obj = Built.sync_construct(msg)
    assert (obj.a, obj.b, obj.c) == (1, 2, uuid.UUID(int=3))
    assert msg == {"d": 4, "_sync_type": "Built"}  # consumed keys are removed
    obj.sync_receive_constructed(msg)
    assert obj.d == 4
    with pytest.raises(SyncBadEncodingError, match="cannot construct Built"):
        Built.sync_construct({"a": 1})
    with pytest.raises(SyncBadEncodingError, match="gaps"):
        Built.sync_construct({"b": 1})


def test_constructor_argument_validation():
    with pytest.raises(ValueError, match="position >= 1"):
        sync_property(constructor=0)


def test_sync_receive_convenience_and_override_detection():
    obj = Built.sync_receive({"a": 1, "b": 2, "d": 3})
    assert (obj.a, obj.b, obj.d) == (1, 2, 3)
    assert not overrides_sync_receive(Built)

    class Overrides(Synchronizable):
        @classmethod
        def sync_receive(cls, msg, **info):
            return super().sync_receive(msg, **info)

    class Inherits(Overrides):
        pass

    assert overrides_sync_receive(Overrides)
    assert overrides_sync_receive(Inherits)


def test_legacy_sync_construct_alias():
    class Legacy(Synchronizable):
        @classmethod
        def _sync_construct(cls, msg, **info):
            obj = cls()
            obj.legacy = True
            return obj

    assert Legacy.sync_construct({}).legacy is True


def test_sync_hash_and_compatible():
    a, b, c = Polygon(), Polygon(), Polygon()
    a.name, b.name, c.name = "x", "x", "y"
    assert a.sync_compatible(b)
    assert a.sync_hash() == b.sync_hash()
    assert not a.sync_compatible(c)
    s = Square()
    s.name = "x"
    assert not a.sync_compatible(s)  # same keys, different class
    missing = Polygon()
    assert not missing.sync_compatible(Polygon())  # no key yet: unique
    assert missing.sync_compatible(missing)
    u1, u2 = Built(1, 2), Built(1, 2)
    assert not u1.sync_compatible(u2)  # Unique
    assert u1.sync_compatible(u1)


def test_registry_registration_and_duplicates():
    reg = SyncRegistry()

    class Base(Synchronizable):
        sync_registry = reg

    class Leaf(Base):
        pass

    assert reg.registry == {"Base": Base, "Leaf": Leaf}
    assert Leaf.sync_registry is reg
    assert Leaf().sync_registry is reg
    with pytest.raises(ValueError, match="'Leaf' is already registered"):

        class Leaf(Base):  # type: ignore[no-redef]
            pass

    late = SyncRegistry()

    class Later(Synchronizable):
        pass

    class LaterChild(Later):
        pass

    Later.sync_registry = late  # the metaclass property registers class and subclasses
    assert late.registry == {"Later": Later, "LaterChild": LaterChild}


def test_plain_mixin_declaring_sync_property_is_refused():
    class Mixin:
        x = sync_property()

    with pytest.raises(TypeError, match=r"Mixin\.x is declared in a class that is not"):

        class Uses(Mixin, Synchronizable):
            pass


def test_bad_value_leaves_the_object_untouched():
    a = Annotated_()
    a.level = Level.LOW
    with pytest.raises(SyncBadEncodingError, match="cannot decode 'at'"):
        a.sync_receive_constructed({"level": "HIGH", "at": "not a date"})
    assert a.level is Level.LOW


def test_sync_errors_from_decoders_and_setters_pass_unchanged():
    from entanglement.interface import SyncBadOwner

    def refuse(value):
        raise SyncBadOwner("not yours")

    class Guarded(Synchronizable):
        owner_ref = sync_property(decoder=refuse)
        other = sync_property(property(lambda self: 1, lambda self, v: refuse(v)))

    with pytest.raises(SyncBadOwner, match="not yours") as e:
        Guarded().sync_receive_constructed({"owner_ref": 1})
    assert e.value.__cause__ is None
    with pytest.raises(SyncBadOwner, match="not yours"):
        Guarded().sync_receive_constructed({"other": 1})


def test_dataclass_fields_can_be_wrapped():
    import dataclasses

    @dataclasses.dataclass
    class Point(Synchronizable):
        sync_primary_keys = ("name",)
        name: str = sync_property()
        # the metaclass unwraps these before @dataclass sees the class
        tags: list[str] = sync_property(  # noqa: RUF009
            dataclasses.field(default_factory=list)
        )
        z: int = sync_property(0)

    p = Point("a")
    assert p.to_sync() == {"name": "a", "tags": [], "z": 0}
    assert Point("b", ["t"], 2).to_sync() == {"name": "b", "tags": ["t"], "z": 2}
    assert list(Point._sync_properties) == ["name", "tags", "z", "_sync_owner"]
