"""SQL transitions (§15): the tracker mixin and its error.

A public path kept for applications and generated packages: a thin re-export of
:mod:`entanglement.sql.send.transition`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.send.transition import *  # noqa: F403
from entanglement.sql.send.transition import __all__ as __all__
