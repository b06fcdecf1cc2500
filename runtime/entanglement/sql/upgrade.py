"""Public path; a thin re-export of :mod:`entanglement.sql.schema.upgrade`.

Creating and upgrading the bookkeeping tables with Alembic (PROTOCOL.md §12.1).

The code lives in :mod:`entanglement.sql.schema.upgrade`; this module keeps the public
path ``entanglement.sql.upgrade`` that applications and generated packages import.
"""

from entanglement.sql.schema.upgrade import (
    BOOKKEEPING_VERSION_TABLE as BOOKKEEPING_VERSION_TABLE,
)
from entanglement.sql.schema.upgrade import (
    PRE_ALEMBIC_REVISION as PRE_ALEMBIC_REVISION,
)
from entanglement.sql.schema.upgrade import (
    PackageMigrations as PackageMigrations,
)
from entanglement.sql.schema.upgrade import (
    PackageStatus as PackageStatus,
)
from entanglement.sql.schema.upgrade import (
    UpgradeError as UpgradeError,
)
from entanglement.sql.schema.upgrade import (
    bookkeeping_head as bookkeeping_head,
)
from entanglement.sql.schema.upgrade import (
    create_bookkeeping_tables as create_bookkeeping_tables,
)
from entanglement.sql.schema.upgrade import (
    current_revision as current_revision,
)
from entanglement.sql.schema.upgrade import (
    find_package_migrations as find_package_migrations,
)
from entanglement.sql.schema.upgrade import (
    package_status as package_status,
)
from entanglement.sql.schema.upgrade import (
    prepare_tables as prepare_tables,
)
from entanglement.sql.schema.upgrade import (
    serve_refusal as serve_refusal,
)
from entanglement.sql.schema.upgrade import (
    upgrade_bases as upgrade_bases,
)
from entanglement.sql.schema.upgrade import (
    upgrade_database as upgrade_database,
)
from entanglement.sql.schema.upgrade import (
    upgrade_package as upgrade_package,
)

__all__ = [
    "BOOKKEEPING_VERSION_TABLE",
    "PRE_ALEMBIC_REVISION",
    "PackageMigrations",
    "PackageStatus",
    "UpgradeError",
    "bookkeeping_head",
    "create_bookkeeping_tables",
    "current_revision",
    "find_package_migrations",
    "package_status",
    "prepare_tables",
    "serve_refusal",
    "upgrade_bases",
    "upgrade_database",
    "upgrade_package",
]
