"""Fixtures of the fault-injection suite.

``fault_seed``: the seed of one run, from ``ENTANGLEGEN_FAULT_SEED`` or fresh; it is
printed (``-s`` shows it, a failing test's report shows it) and recorded as the test's
``seed`` user property, so any run can be replayed.
"""

from __future__ import annotations

import os
import random

import pytest


@pytest.fixture
def fault_seed(request: pytest.FixtureRequest) -> int:
    text = os.environ.get("ENTANGLEGEN_FAULT_SEED")
    seed = int(text) if text else random.SystemRandom().randrange(2**32)
    request.node.user_properties.append(("seed", seed))
    print(f"{request.node.name}: seed {seed} (replay: ENTANGLEGEN_FAULT_SEED={seed})")
    return seed
