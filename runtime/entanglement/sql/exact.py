"""The exact decimal column type of the SQL layer: ``ExactDecimal``.

A public path kept for applications and generated packages (a decimal property's column
is ``entanglement.sql.exact.ExactDecimal``): a thin re-export of
:mod:`entanglement.sql.schema.exact`, whose ``__all__`` is this module's too.
"""

from entanglement.sql.schema.exact import *  # noqa: F403
from entanglement.sql.schema.exact import __all__ as __all__
