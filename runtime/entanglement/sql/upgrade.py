"""Upgrading a database: the bookkeeping chain and generated packages' chains.

A public path kept for applications and generated packages: a thin re-export of
:mod:`entanglement.sql.schema.upgrade`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.schema.upgrade import *  # noqa: F403
from entanglement.sql.schema.upgrade import __all__ as __all__
