"""The SQL meta registry and its messages (IHave, YouHave, MyOwners).

A public path kept for applications and generated packages: a thin re-export of
:mod:`entanglement.sql.resync.meta`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.resync.meta import *  # noqa: F403
from entanglement.sql.resync.meta import __all__ as __all__
