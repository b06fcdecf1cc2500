"""Drop-in completeness (PROTOCOL.md §18): scripts written for the original import these."""

from __future__ import annotations

import subprocess
import sys

import pytest

TOP_LEVEL = [
    "SyncServer", "SyncManager", "SyncDestination", "OutgoingUnixDestination",
    "sync_property", "no_sync_property", "Synchronizable", "SyncRegistry", "SyncError",
    "SyncUnauthorized", "SqlSynchronizable", "SqlSyncSession", "sql_sync_declarative_base",
    "sync_session_maker", "SqlSyncDestination", "sync_manager_destinations", "SyncOwner",
    "CertHash", "certhash_from_file", "DestHash",
]  # fmt: skip

MODULE_NAMES = {
    "entanglement.util": [
        "certhash_from_file", "DestHash", "GUID", "SqlDestHash", "get_or_create",
        "entanglement_logs_disabled", "memoproperty",
    ],
    "entanglement.types": [
        "register_type", "register_enum", "binary_encoder", "binary_decoder",
        "datetime_encoder", "datetime_decoder", "uuid_encoder", "uuid_decoder",
    ],
    "entanglement.interface": [
        "Synchronizable", "SynchronizableMeta", "SyncRegistry", "sync_property",
        "no_sync_property", "EphemeralUnflooded", "SyncUnauthorized", "WrongSyncDestination",
    ],
    "entanglement.network": [
        "SyncManager", "SyncServer", "SyncDestination", "SyncDestinationBase",
        "OutgoingUnixDestination",
    ],
    "entanglement.protocol": ["SyncProtocol"],
    "entanglement.sql.base": [
        "Serial", "SqlSyncDestination", "SqlSyncError", "SqlSyncMeta", "SqlSyncRegistry",
        "SqlSyncSession", "SqlSynchronizable", "SyncDeleted", "SyncOwner",
        "sql_sync_declarative_base", "sync_manager_destinations", "sync_session_maker",
    ],
}  # fmt: skip


def test_top_level_names_are_exported() -> None:
    import entanglement

    missing = [name for name in TOP_LEVEL if not hasattr(entanglement, name)]
    assert missing == []
    assert set(TOP_LEVEL) <= set(entanglement.__all__)
    # The top-level SyncOwner is the SQL one (§18), not the in-memory one.
    assert entanglement.SyncOwner.__module__.startswith("entanglement.sql")


@pytest.mark.parametrize("module", sorted(MODULE_NAMES))
def test_module_names_exist(module: str) -> None:
    mod = __import__(module, fromlist=["_"])
    assert [n for n in MODULE_NAMES[module] if not hasattr(mod, n)] == []


@pytest.mark.parametrize("module", sorted(MODULE_NAMES))
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    # The package imports its SQL layer, which imports the package: any import cycle
    # shows up only when a submodule is the very first import.
    _run(f"import {module}")


def _run(code: str) -> str:
    """What a fresh interpreter running ``code`` prints (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_in_memory_api_does_not_load_the_sql_layer() -> None:
    # An in-memory node pays neither SQLAlchemy's start-up nor its objects in every
    # full garbage collection (the package docstring's choice).
    loaded = _run(
        "import sys, entanglement, entanglement.network, entanglement.interface,"
        " entanglement.operations, entanglement.protocol;"
        " print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('sqlalchemy', 'alembic') or m.startswith('entanglement.sql')))"
    )
    assert loaded == "[]"


def test_the_sql_names_load_on_first_use() -> None:
    out = _run(
        "import entanglement, sys;"
        " print(entanglement.SqlSyncRegistry.__module__, entanglement.sql.__name__,"
        " 'sqlalchemy' in sys.modules, 'SyncOwner' in dir(entanglement))"
    )
    assert out == "entanglement.sql.receive.registry entanglement.sql True True"
    out = _run(
        "from entanglement import SyncOwner, sync_session_maker; print(SyncOwner)"
    )
    assert "entanglement.sql" in out


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    import entanglement

    with pytest.raises(AttributeError, match="no attribute 'SqlNothing'"):
        entanglement.SqlNothing  # noqa: B018
