"""``python -m entanglegen``: the same as the ``entanglegen`` script."""

import sys

from .cli import main

sys.exit(main())
