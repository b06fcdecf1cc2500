"""Filling a batched row from its message: plain values straight into ``__dict__``.

A batched row (:mod:`entanglement.sql.receive.batch`) never joins a session, so the
values of its plain column properties (:class:`~entanglement.sql.schema.plan.RowPlan`)
go straight into its ``__dict__``: no attribute events, no history.
:func:`fill_plain` does it for a message or says it cannot (the object model's fill
then assigns through the attributes and raises its errors).

A catch-up sends thousands of messages of one class with the same keys; for a key
tuple whose properties all store their values as they are (no decoder, the class's
value check having accepted them), the fill is compiled once (at most ``FILLS`` per
class, then the general loop): the value check, the NOT NULL checks of the keys in
message order, then the stores.  It does what the general loop does for those keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entanglement._codecplan import compiled_function
from entanglement.interface import SyncBadEncodingError
from entanglement.sql.schema.plan import RowPlan, row_plan

__all__ = ["FILLS", "fill_plain"]

FILLS = 32  # compiled fills kept per class (message key tuples)
_MISSING: Any = object()
Fill = Callable[[dict[str, Any], dict[str, Any]], bool]


def fill_plain(row: Any, msg: dict[str, Any]) -> bool:
    """Store the decoded values of ``msg`` in ``row.__dict__`` if all are plain.

    Returns False, having changed nothing, when a key is not a plain property of the
    row's class or a value does not decode: the caller then takes the object model's
    path, which raises the proper error (or assigns through the attribute).

    Raises:
        SyncBadEncodingError: a null for a NOT NULL column (refused alone, rather than
            failing the whole batch's commit or silently taking the column default).
    """
    cls = type(row)
    plan = row_plan(cls)
    keys = tuple(msg)
    fills = plan.fills
    fill = fills.get(keys, _MISSING)
    if fill is _MISSING:
        fill = None
        if len(fills) < FILLS:
            fill = fills[keys] = _compile_fill(plan, keys, cls.sync_type)
    if fill is not None:
        return fill(row.__dict__, msg)  # type: ignore[no-any-return]
    if plan.check is not None and not plan.check(msg):
        return False  # a value of the wrong type: the object model's path refuses it
    decoders = plan.decoders
    decoded: list[tuple[str, Any]] = []
    for key, value in msg.items():
        if key[:1] == "_":
            continue
        decoder = decoders.get(key, _MISSING)
        if decoder is _MISSING:
            return False
        if value is None and key in plan.required:
            # stored, it would fail the whole batch's commit (or take the default)
            _null(cls.sync_type, key, msg)
        if decoder is None or value is None:
            decoded.append((key, value))
            continue
        try:
            result = decoder(value)
        except Exception:
            return False
        # a decoder returning None for a non-null value has handled it itself
        if result is not None:
            decoded.append((key, result))
    row.__dict__.update(decoded)
    return True


def _null(sync_type: str, key: str, msg: dict[str, Any]) -> None:
    raise SyncBadEncodingError(f"{sync_type}: {key!r} cannot be null", network_msg=msg)


def _compile_fill(plan: RowPlan, keys: tuple[str, ...], sync_type: str) -> Fill | None:
    # None unless every key (but the reserved "_" ones) is a plain property stored
    # as it is; the same checks and stores as fill_plain's loop
    names = [key for key in keys if key[:1] != "_"]
    if any(plan.decoders.get(key, _MISSING) is not None for key in names):
        return None
    namespace: dict[str, Any] = {"CHECK": plan.check, "NULL": _null, "TYPE": sync_type}
    lines = ["def fill(state, msg):"]
    if plan.check is not None:
        lines += ["    if not CHECK(msg):", "        return False"]
    for i, key in enumerate(names):
        namespace[f"K{i}"] = key
        lines.append(f"    v{i} = msg[K{i}]")
        if key in plan.required:  # (stored, a null would fail the batch's commit)
            lines += [f"    if v{i} is None:", f"        NULL(TYPE, K{i}, msg)"]
    lines += [f"    state[K{i}] = v{i}" for i in range(len(names))]
    lines.append("    return True")
    fill: Fill = compiled_function(lines, namespace, "fill", f"{sync_type} batch fill")
    return fill
