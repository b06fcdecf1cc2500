"""The SQL layer of entanglement (PROTOCOL.md §12): SQLAlchemy models that synchronise.

The public names are those of :mod:`entanglement.sql.base`, re-exported here (its
``__all__`` is this package's too); the layers below it are ``schema``, ``send``,
``receive`` and ``resync``.
"""

from entanglement.sql.base import *  # noqa: F403
from entanglement.sql.base import __all__ as __all__
