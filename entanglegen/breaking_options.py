"""Rules of ``entanglegen breaking`` for the table options and the exact and typed types.

Categories as in :mod:`entanglegen.breaking_props` (``SQL`` is dropped in a memory
registry, where none of the table options exist).  Choices:

* a unique constraint or unique index added, and a CHECK added or changed, are
  *breaking* (WIRE, SQL): rows already stored may violate them, so the revision that
  adds them can fail, and a peer on the old schema may send a row that the new database
  refuses, which then never arrives.  Removing them is safe.  A unique index and a unique
  constraint over the same columns are one rule (either way round, and in any column
  order: uniqueness of a set of columns does not depend on their order); a unique index
  that becomes a plain one (or back) is a removal and an addition.  A unique rule added
  over columns that include the old key, an old unique rule's columns, or a property
  added as nullable with no default (stored and old peers' rows leave it NULL, and
  NULLs never conflict) is *implied*: those rows satisfy it already, so it is safe.
* a plain index added or removed is safe: it changes no value and no name peers see.
* indexes and constraints are matched by their columns (through ``renamed_from``), a
  CHECK by the property that declares it; their *names* are not compared (a name change
  alone changes no row, no peer and no code).  A CHECK's SQL is compared as tokens:
  spacing, the case of keywords and unquoted names, and the old names of renamed columns
  are not changes.  A constraint over a removed property goes with its column: only the
  ``PROPERTY_REMOVED`` is reported.
* ``server_default`` and ``onupdate`` changes are safe: they fill columns the peers'
  objects always carry (a server default only applies to rows written outside the
  models; ``onupdate`` only to this node's own updates) and nothing else sees them.
* decimal digits: fewer digits before the point (``precision - scale``) or after it
  (``scale``) is *narrowed*; more of either, with neither fewer, *widened*.  Both are WIRE
  and SQL, as for ``length``: the decoders refuse a value with more digits than their
  column holds (never rounded), so in one direction peers refuse each other's values,
  and the column type changes.
* lists and maps: ``json`` → a list or map is *narrowed* (WIRE, SQL, API: new peers and
  the typed column refuse what is not one), a list or map → ``json`` *widened* (WIRE,
  API: old peers refuse new peers' other values; the column stays JSON).  int → float
  items are widened (WIRE, API: ``list[int]`` is not a ``list[float]`` for mypy; stored
  items fit), float → int items narrowed (WIRE, SQL, API); anything else (list ↔ map,
  str → int items, a scalar ↔ a list) is ``PROPERTY_TYPE_CHANGED``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .breaking_model import ConstraintFacts, PropFacts, TypeFacts
from .diagnostics import Loc
from .spec import UNIQUE

__all__ = ["Emit", "constraints", "containers", "digits", "server_side", "type_text"]

WIRE, SQL, API = "WIRE", "SQL", "API"

# emit(rule, subject, loc, message, categories): what every rule function is handed
Emit = Callable[[str, str, Loc, str, tuple[str, ...]], None]


def type_text(p: PropFacts) -> str:
    """What a property's type is, in the words of the messages."""
    if p.kind == "ref":
        return f"a reference to {p.target}"
    if p.kind == "enum":
        return f"enum {p.enum}" if p.enum else f"an inline enum {list(p.values)}"
    if p.container:
        return f"{p.container} of {p.item}"
    return p.scalar


# -- indexes and constraints ---------------------------------------------------------

_Key = tuple[str, tuple[str, ...]]


def constraints(
    emit: Emit, owner: str, old: TypeFacts, new: TypeFacts, names: dict[str, str]
) -> None:
    """Unique, CHECK and index changes of one type; ``names``: old property → new."""
    pool: dict[_Key, list[ConstraintFacts]] = {}
    gone = set(old.props) - set(names)  # removed properties
    for c in old.constraints:
        if not gone.intersection(c.columns):  # else dropped with its column
            pool.setdefault(_key(c, names), []).append(c)
    implied = _implied_by(old, new, names)
    renamed = _columns(old, new, names)
    for c in new.constraints:
        was = _take(pool.get(_key(c, {})), c.name)
        if was is None:
            _added(emit, owner, c, implied)
        elif c.kind == "check" and _tokens(was.sql, renamed) != _tokens(c.sql, {}):
            emit(
                "CHECK_CHANGED",
                _subject(owner, c),
                c.loc,
                f"check of {_subject(owner, c)} changed from {was.sql!r} to "
                f"{c.sql!r}: stored rows and old peers' rows may fail it",
                (WIRE, SQL),
            )
    for left in pool.values():
        for c in left:
            _removed(emit, owner, new, names, c)


def _key(c: ConstraintFacts, names: dict[str, str]) -> _Key:
    cols = tuple(names.get(n, n) for n in c.columns)
    return (c.rule, tuple(sorted(cols)) if c.rule == "unique" else cols)


def _take(
    candidates: list[ConstraintFacts] | None, name: str
) -> ConstraintFacts | None:
    """The old constraint matching a new one (the same name first), taken out of the
    pool so that two indexes over the same columns match one each."""
    if not candidates:
        return None
    same = [c for c in candidates if c.name == name]
    found = same[0] if same else candidates[0]
    candidates.remove(found)
    return found


def _implied_by(
    old: TypeFacts, new: TypeFacts, names: dict[str, str]
) -> list[frozenset[str]]:
    """Column sets (new names) a unique rule over which every stored row and every old
    peer's row satisfies: the old key, an old unique rule's columns, or a property added
    as nullable with no default (NULL there, and NULLs never conflict)."""
    sets = [frozenset(names.get(n, n) for n in c.columns) for c in old.constraints]
    sets = [s for s, c in zip(sets, old.constraints, strict=True) if c.rule == "unique"]
    if old.key != (UNIQUE,):  # a key property cannot be renamed; a removed one is no
        sets.append(frozenset(old.key))  # column of the new table, so matches nothing
    kept = set(names.values())
    for name, p in new.props.items():
        filled = p.has_default or p.server_default is not None
        if name not in kept and p.nullable and not filled:
            sets.append(frozenset((name,)))
    return sets


def _subject(owner: str, c: ConstraintFacts) -> str:
    return f"{owner}.{c.columns[0]}" if len(c.columns) == 1 else owner


def _what(c: ConstraintFacts) -> str:
    if c.kind == "check":
        return f"check {c.sql!r}"
    return f"{'unique' if c.rule == 'unique' else 'index'} on ({', '.join(c.columns)})"


def _added(
    emit: Emit, owner: str, c: ConstraintFacts, implied: list[frozenset[str]]
) -> None:
    subject = _subject(owner, c)
    text = f"{_what(c)} added to {owner} ({c.name})"
    if c.rule == "index":
        emit("INDEX_ADDED", subject, c.loc, text, ())
        return
    if c.rule == "unique" and any(s <= set(c.columns) for s in implied):
        emit(
            "UNIQUE_ADDED",
            subject,
            c.loc,
            f"{text}: every stored row and old peers' rows satisfy it (it includes "
            "the old key, an old unique rule's columns, or a new nullable column "
            "they leave null)",
            (),
        )
        return
    emit(
        "UNIQUE_ADDED" if c.rule == "unique" else "CHECK_ADDED",
        subject,
        c.loc,
        f"{text}: stored rows may violate it (the revision fails), and new nodes "
        "refuse old peers' rows that do",
        (WIRE, SQL),
    )


def _removed(
    emit: Emit, owner: str, new: TypeFacts, names: dict[str, str], c: ConstraintFacts
) -> None:
    """Reported at the property that carried it (else the type) in the new file."""
    rules = {"index": "INDEX_REMOVED", "unique": "UNIQUE_REMOVED"}
    cols = [names.get(n, n) for n in c.columns]
    one = len(cols) == 1 and cols[0] in new.props
    emit(
        rules.get(c.rule, "CHECK_REMOVED"),
        f"{owner}.{cols[0]}" if len(cols) == 1 else owner,
        new.props[cols[0]].loc if one else new.loc,
        f"{_what(c)} removed from {owner} ({c.name})",
        (),
    )


def _columns(old: TypeFacts, new: TypeFacts, names: dict[str, str]) -> dict[str, str]:
    """Old column name → new, for the renamed properties of a type."""
    return {
        old.props[a].attr: new.props[b].attr
        for a, b in names.items()
        if old.props[a].attr != new.props[b].attr
    }


_TOKEN = re.compile(
    r"\s+|('(?:[^']|'')*')|\"((?:[^\"]|\"\")*)\"|([A-Za-z_][A-Za-z0-9_$]*)|(.)", re.S
)


def _tokens(sql: str, renamed: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """``sql`` as (kind, text) tokens: a quoted and an unquoted name are one name
    (unquoted ones folded to lower case, as PostgreSQL does), ``renamed`` applied."""
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(sql):
        literal, quoted, word, other = m.groups()
        if literal is not None:
            out.append(("literal", literal))
        elif quoted is not None:
            name = quoted.replace('""', '"')
            out.append(("name", renamed.get(name, name)))
        elif word is not None:
            out.append(("name", renamed.get(word.lower(), word.lower())))
        elif other is not None:
            out.append(("op", other))
    return tuple(out)


# -- decimals, lists and maps, server-side options -----------------------------------


def digits(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    """Precision/scale changes of a decimal that stays a decimal."""
    if old.scalar != "decimal" or new.scalar != "decimal":
        return
    if (old.precision, old.scale) == (new.precision, new.scale):
        return
    whole = (old.precision - old.scale, new.precision - new.scale)
    text = (
        f"digits of {subject} changed from {old.precision}/{old.scale} to "
        f"{new.precision}/{new.scale} (precision/scale)"
    )
    if whole[1] < whole[0] or new.scale < old.scale:
        emit(
            "PROPERTY_DIGITS_NARROWED",
            subject,
            new.loc,
            f"{text}: new peers refuse old peers' values with more digits, and "
            "stored values may not fit",
            (WIRE, SQL),
        )
    else:
        emit(
            "PROPERTY_DIGITS_WIDENED",
            subject,
            new.loc,
            f"{text}: old peers refuse new peers' values with more digits (breaks "
            "new → old); the column type changes",
            (WIRE, SQL),
        )


def _plain_json(p: PropFacts) -> bool:
    return p.kind == "scalar" and p.scalar == "json" and not p.container


def containers(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    """A type change where either side is a list or a map (neither a reference)."""
    if (old.container, old.item) == (new.container, new.item):
        return
    text = f"{subject} was {type_text(old)}, now {type_text(new)}"
    items = (old.item, new.item) if old.container == new.container else ()
    if _plain_json(new) or items == ("int", "float"):
        emit(
            "PROPERTY_TYPE_WIDENED",
            subject,
            new.loc,
            f"{text}: new peers take what old peers send, old peers refuse values "
            "of new peers that do not fit the old type (breaks new → old); stored "
            "values fit",
            (WIRE, API),
        )
    elif _plain_json(old) or items == ("float", "int"):
        emit(
            "PROPERTY_TYPE_NARROWED",
            subject,
            new.loc,
            f"{text}: new peers refuse values of old peers that do not fit (breaks "
            "old → new), and stored values that do not fit cannot be read as "
            f"{type_text(new)}",
            (WIRE, SQL, API),
        )
    else:
        emit("PROPERTY_TYPE_CHANGED", subject, new.loc, text, (WIRE, SQL, API))


def server_side(emit: Emit, subject: str, old: PropFacts, new: PropFacts) -> None:
    """``server_default`` and ``onupdate`` changes (safe: see the module docstring)."""
    if old.server_default != new.server_default:
        emit(
            "SERVER_DEFAULT_CHANGED",
            subject,
            new.loc,
            f"server_default of {subject} changed from {_shown(old.server_default)} "
            f"to {_shown(new.server_default)} (rows written outside the models only)",
            (),
        )
    if old.onupdate != new.onupdate:
        emit(
            "ONUPDATE_CHANGED",
            subject,
            new.loc,
            f"onupdate of {subject} changed from {old.onupdate or 'none'} to "
            f"{new.onupdate or 'none'} (this node's own updates only)",
            (),
        )


def _shown(value: str | None) -> str:
    return "none" if value is None else repr(value)
