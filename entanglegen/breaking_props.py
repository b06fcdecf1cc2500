"""Rules of ``entanglegen breaking`` for one property (added, removed, renamed, changed).

Categories (docs/schema.md, "Evolving a schema"):

* ``WIRE``: a peer on the old schema and one on the new can no longer exchange the type
  exactly, in at least one direction, or a value would be lost or altered between them;
* ``SQL``: an existing database needs a migration that alters or drops existing tables or
  columns (adding a column is not counted: it cannot lose a row);
* ``API``: generated Python names or types change under code that uses them.

A category that cannot apply is dropped where the change is made: ``WIRE`` for a
property that is not synchronised on either side, ``SQL`` in a memory registry.

The table options (unique, check, index, server_default, onupdate), decimal digits and
list/map items have their rules in :mod:`entanglegen.breaking_options`.

Choices where the issue leaves the direction open:

* int → float is *widened* (WIRE, SQL): new peers take every value old peers send, but
  old peers cannot take a value with a fraction part from new peers (new → old breaks);
  the column change is lossless.  float → int is *narrowed* (WIRE, SQL, API): old peers'
  fractions cannot be taken (old → new breaks) and the column change rounds stored rows.
  Likewise an enum → str is widened and str → enum narrowed.
* a longer or unlimited ``length`` is widened, a shorter one narrowed; both are WIRE (one
  direction refuses the other's longest strings) and SQL (the column type changes).
* every synchronised property added is WIRE: an old peer refuses a message carrying an
  attribute it does not know (PROTOCOL.md §8, "unknown attributes are rejected"), so it
  stops receiving the whole row until it is upgraded; unless the *old* schema's type says
  ``unknown_properties: store_rest`` and the property is nullable or defaulted: then old
  peers store the rest of the row and get it whole once upgraded, which is safe.
"""

from __future__ import annotations

from .breaking_model import PropFacts
from .breaking_options import Emit, containers, digits, server_side, type_text
from .diagnostics import Loc

__all__ = ["API", "SQL", "WIRE", "Emit", "added", "changed", "removed"]

WIRE, SQL, API = "WIRE", "SQL", "API"

_WIDENING = {("int", "float"), ("enum", "str")}


def added(emit: Emit, owner: str, p: PropFacts, *, store_rest: bool = False) -> None:
    """A new property; ``store_rest``: old nodes store the rest of rows naming it."""
    subject = f"{owner}.{p.name}"
    if not p.sync:
        emit(
            "PROPERTY_ADDED_NO_SYNC",
            subject,
            p.loc,
            f"property {subject} added (sync: false: kept on each node, never sent)",
            (),
        )
        return
    old_peers = "old peers refuse every message of the type that carries it"
    if p.nullable or p.has_default:
        rule = "PROPERTY_ADDED_NULLABLE" if p.nullable else "PROPERTY_ADDED_DEFAULTED"
        fill = "null" if p.nullable else "its default"
        if store_rest:
            emit(
                rule,
                subject,
                p.loc,
                f"property {subject} added; old peers store the rest of each row "
                "(unknown_properties: store_rest) and receive it whole once upgraded, "
                f"rows from old peers get {fill}",
                (),
            )
            return
        emit(
            rule,
            subject,
            p.loc,
            f"property {subject} added; {old_peers} until they are upgraded, and rows "
            f"from old peers get {fill}",
            (WIRE,),
        )
        return
    emit(
        "PROPERTY_ADDED_REQUIRED",
        subject,
        p.loc,
        f"required property {subject} added: {old_peers}, rows from old peers and "
        "existing rows have no value, and code creating the type must pass it",
        (WIRE, SQL, API),
    )


def removed(emit: Emit, owner: str, p: PropFacts) -> None:
    subject = f"{owner}.{p.name}"
    emit(
        "PROPERTY_REMOVED",
        subject,
        p.loc,
        f"property {subject} removed: new peers refuse messages of old peers that "
        "carry it, its column and values are dropped, and code using it breaks",
        (WIRE, SQL, API),
    )


def changed(emit: Emit, owner: str, old: PropFacts, new: PropFacts) -> None:
    """Every difference between two versions of one property (matched by the caller)."""
    subject = f"{owner}.{new.name}"
    loc = new.loc
    if old.name != new.name:
        emit(
            "PROPERTY_RENAMED",
            subject,
            loc,
            f"property {owner}.{old.name} renamed to {new.name} (the column is "
            "renamed; the attribute changes name)",
            (SQL, API),
        )
    if old.sync and new.sync and old.wire != new.wire:
        why = (
            " (renamed_from was removed)"
            if old.renamed_from and not new.renamed_from
            else ""
        )
        emit(
            "WIRE_NAME_CHANGED",
            subject,
            loc,
            f"wire name of {subject} changes from {old.wire!r} to {new.wire!r}{why}: "
            f"peers still sending {old.wire!r} are refused",
            (WIRE,),
        )
    if old.sync != new.sync:
        what = "now synchronised" if new.sync else "no longer synchronised"
        emit(
            "PROPERTY_SYNC_CHANGED",
            subject,
            loc,
            f"property {subject} is {what}: peers on the other schema refuse the "
            "messages that carry it",
            (WIRE,),
        )
    _type(emit, subject, old, new)
    digits(emit, subject, old, new)
    server_side(emit, subject, old, new)
    _length(emit, subject, old, new)
    _nullable(emit, subject, old, new)
    _default(emit, subject, old, new)
    if old.sync and new.sync and old.codec != new.codec:
        emit(
            "ENCODER_CHANGED",
            subject,
            loc,
            f"encoder/decoder of {subject} changed ({_codec(old)} → {_codec(new)}): "
            "the wire form of its values may differ between old and new peers",
            (WIRE,),
        )


def _codec(p: PropFacts) -> str:
    enc, dec = p.codec
    return f"{enc or '-'}/{dec or '-'}" if enc or dec else "built-in"


def _type(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    loc = new.loc
    if old.kind == "ref" or new.kind == "ref":
        if old.target != new.target:
            cats = (WIRE, SQL) + ((API,) if old.scalar != new.scalar else ())
            emit(
                "REFERENCE_TARGET_CHANGED",
                subject,
                loc,
                f"{subject} was {type_text(old)}, now {type_text(new)}: stored and "
                "exchanged keys name other objects",
                cats,
            )
        elif old.scalar != new.scalar:
            emit(
                "PROPERTY_TYPE_CHANGED",
                subject,
                loc,
                f"{subject} references {new.target}, whose key changed from "
                f"{old.scalar} to {new.scalar}",
                (WIRE, SQL, API),
            )
        return
    if old.kind == "enum" and new.kind == "enum":
        if old.enum != new.enum:
            same = set(old.values) == set(new.values)
            emit(
                "PROPERTY_TYPE_CHANGED",
                subject,
                loc,
                f"{subject} was {type_text(old)}, now {type_text(new)}",
                (API,) if same else (WIRE, SQL, API),
            )
        elif not new.enum:
            enum_values(emit, subject, loc, old.values, new.values)
        return
    if old.container or new.container:
        containers(emit, subject, old, new)
        return
    before = "enum" if old.kind == "enum" else old.scalar
    after = "enum" if new.kind == "enum" else new.scalar
    if before == after:
        return
    text = f"{subject} was {type_text(old)}, now {type_text(new)}"
    if (before, after) in _WIDENING:
        emit(
            "PROPERTY_TYPE_WIDENED",
            subject,
            loc,
            f"{text}: new peers take what old peers send, old peers refuse values "
            "of new peers that do not fit the old type (breaks new → old)",
            (WIRE, SQL) if before == "int" else (WIRE, SQL, API),
        )
    elif (after, before) in _WIDENING:
        emit(
            "PROPERTY_TYPE_NARROWED",
            subject,
            loc,
            f"{text}: new peers refuse values of old peers that do not fit (breaks "
            "old → new), and converting stored rows can lose data",
            (WIRE, SQL, API),
        )
    else:
        emit("PROPERTY_TYPE_CHANGED", subject, loc, text, (WIRE, SQL, API))


def enum_values(
    emit: Emit,
    subject: str,
    loc: Loc,
    old: tuple[str, ...],
    new: tuple[str, ...],
    sql_length: bool = True,
) -> None:
    """Values added, removed, or renamed (replaced at the same position) in an enum."""
    gone = [v for v in old if v not in new]
    came = [v for v in new if v not in old]
    for value in list(gone):
        index = old.index(value)
        if index < len(new) and new[index] in came:
            emit(
                "ENUM_VALUE_RENAMED",
                f"{subject}.{new[index]}",
                loc,
                f"enum value {value!r} of {subject} renamed to {new[index]!r}: peers "
                "refuse each other's spelling and stored rows hold the old one",
                (WIRE, SQL, API),
            )
            gone.remove(value)
            came.remove(new[index])
    for value in gone:
        emit(
            "ENUM_VALUE_REMOVED",
            f"{subject}.{value}",
            loc,
            f"enum value {value!r} removed from {subject}: new peers refuse it from old "
            "peers, stored rows holding it cannot be read, its member is gone",
            (WIRE, SQL, API),
        )
    longer = sql_length and max(map(len, new)) > max(map(len, old), default=0)
    for value in came:
        emit(
            "ENUM_VALUE_ADDED",
            f"{subject}.{value}",
            loc,
            f"enum value {value!r} added to {subject}: old peers refuse it",
            (WIRE, SQL) if longer else (WIRE,),
        )


def _length(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    if old.length == new.length or old.scalar != new.scalar:
        return
    before = "unlimited" if old.length is None else str(old.length)
    after = "unlimited" if new.length is None else str(new.length)
    if new.length is None or (old.length is not None and new.length > old.length):
        emit(
            "PROPERTY_LENGTH_WIDENED",
            subject,
            new.loc,
            f"length of {subject} widened from {before} to {after}: old peers refuse "
            "the longer values of new peers",
            (WIRE, SQL),
        )
    else:
        emit(
            "PROPERTY_LENGTH_NARROWED",
            subject,
            new.loc,
            f"length of {subject} narrowed from {before} to {after}: new peers refuse "
            "longer values of old peers, and longer stored values do not fit",
            (WIRE, SQL),
        )


def _nullable(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    if old.nullable == new.nullable:
        return
    if new.nullable:
        emit(
            "PROPERTY_MADE_NULLABLE",
            subject,
            new.loc,
            f"{subject} is now nullable: old peers refuse null from new peers, and code "
            "reading it must handle None",
            (WIRE, SQL, API),
        )
    else:
        emit(
            "PROPERTY_MADE_REQUIRED",
            subject,
            new.loc,
            f"{subject} is no longer nullable: new peers refuse null from old peers, "
            "and stored nulls do not fit the column",
            (WIRE, SQL, API),
        )


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _same_default(old: PropFacts, new: PropFacts) -> bool:
    if old.scalar == new.scalar == "decimal":
        # written as text or an integer: 0 and "0" are one Decimal, "0.00" another
        # (its own digits are its wire text)
        return str(old.default) == str(new.default)
    return _same_value(old.default, new.default)


def _default(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    if not old.has_default and not new.has_default:
        return
    if not old.has_default:
        emit(
            "PROPERTY_DEFAULT_ADDED",
            subject,
            new.loc,
            f"{subject} now defaults to {new.default!r}",
            (),
        )
    elif not new.has_default:
        emit(
            "PROPERTY_DEFAULT_REMOVED",
            subject,
            new.loc,
            f"{subject} no longer defaults to {old.default!r}: code creating the type "
            "must pass it",
            (API,),
        )
    elif not _same_default(old, new):
        emit(
            "PROPERTY_DEFAULT_CHANGED",
            subject,
            new.loc,
            f"default of {subject} changed from {old.default!r} to {new.default!r}: "
            "objects created without it get another value",
            (API,),
        )
