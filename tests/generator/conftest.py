"""Fixtures of the generator tests.

generated/ is put on ``sys.path`` so the committed packages import as users import them.
``pki`` (nodes ``a``..``d``) and ``db_factory`` (per-node SQLite files or PostgreSQL
schemas) come from tests/conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[2] / "generated"
if str(GENERATED) not in sys.path:
    sys.path.insert(0, str(GENERATED))
