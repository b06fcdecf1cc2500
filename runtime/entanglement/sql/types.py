"""Column types of the SQL layer: GUID and SqlDestHash (PROTOCOL.md §12.10).

A public path kept for applications and generated packages: a thin re-export of
:mod:`entanglement.sql.schema.types`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.schema.types import *  # noqa: F403
from entanglement.sql.schema.types import __all__ as __all__
