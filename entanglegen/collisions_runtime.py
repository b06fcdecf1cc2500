"""Names the runtime itself uses, read from the runtime classes and tables.

The generator compares schema names with these so that a generated package never
shadows a runtime attribute, wire type or bookkeeping table; reading them from the
runtime keeps the rules in step with it (an absent runtime gives empty sets).
"""

from __future__ import annotations

from functools import cache

__all__ = ["bookkeeping_tables", "runtime_attributes", "runtime_wire_types"]

# Alembic's default version table; the generated migrations keep the default.
_ALEMBIC_VERSION_TABLE = "alembic_version"


@cache
def runtime_attributes(storage: str) -> dict[str, str]:
    """Public attribute name -> the runtime class that defines it, for one storage."""
    classes: list[type] = []
    try:
        if storage == "sql":
            from entanglement.sql.base import SqlSynchronizable

            classes.append(SqlSynchronizable)
        else:
            from entanglement.interface import Synchronizable
            from entanglement.memory import StoreInSyncStoreMixin

            classes += [Synchronizable, StoreInSyncStoreMixin]
    except ImportError:  # no runtime installed: nothing to compare with
        return {}
    names: dict[str, str] = {}
    for cls in classes:
        for name in dir(cls):
            if not name.startswith("_"):
                names.setdefault(name, cls.__name__)
    return names


@cache
def runtime_wire_types() -> frozenset[str]:
    """The sync_type names the runtime's SQL meta registry already uses."""
    try:
        from entanglement.sql.meta import sql_meta_registry
    except ImportError:
        return frozenset()
    return frozenset(sql_meta_registry.registry)


@cache
def bookkeeping_tables() -> frozenset[str]:
    """Tables the runtime keeps beside the application's, lower-cased."""
    try:
        from entanglement.sql.tables import bookkeeping_metadata
    except ImportError:
        return frozenset({_ALEMBIC_VERSION_TABLE})
    return frozenset(
        {name.lower() for name in bookkeeping_metadata.tables}
        | {_ALEMBIC_VERSION_TABLE}
    )
