"""The SQL column codecs (§8.4, §12.10), at the original's module path.

Importing this module (or :mod:`entanglement.sql`) registers the codecs of the column
types listed in :mod:`entanglement.sql.schema.codecs`; ``register_type`` adds more, and
``column_codec`` tells which codec a column type gets.
"""

from entanglement.sql.schema.codecs import column_codec
from entanglement.types import register_type

__all__ = ["column_codec", "register_type"]
