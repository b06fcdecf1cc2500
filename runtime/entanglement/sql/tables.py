"""The bookkeeping tables (sync_serial, sync_owners, sync_deleted, sync_destinations).

A public path kept for applications and generated packages: a thin re-export of
:mod:`entanglement.sql.schema.tables`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.schema.tables import *  # noqa: F403
from entanglement.sql.schema.tables import __all__ as __all__
