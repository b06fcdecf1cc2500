"""The shared codecs of generated packages, under the name they first had.

Kept only for packages generated before :mod:`entanglement.generated_support` got its
name: their modules import ``from entanglement import support as _support``.  A thin
re-export of that module, whose ``__all__`` is this module's too; new code (and the
generator) imports :mod:`entanglement.generated_support`.
"""

from entanglement.generated_support import *  # noqa: F403
from entanglement.generated_support import __all__ as __all__
