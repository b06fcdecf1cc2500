"""WebSocket tests: generated/ goes on ``sys.path`` so the committed packages import as
users import them (the tests use the generated presence registry)."""

from __future__ import annotations

import sys
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[2] / "generated"
if str(GENERATED) not in sys.path:
    sys.path.insert(0, str(GENERATED))
