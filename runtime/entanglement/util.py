"""Drop-in helpers of §18: hashes, ``memoproperty``, log silencing, SQL helpers.

``GUID``, ``SqlDestHash`` (from :mod:`entanglement.sql.schema.types`) and ``get_or_create``
(from :mod:`entanglement.sql.base`) are imported lazily, on first access, so importing
this module never pulls in the SQL layer.

``memoproperty`` is :class:`functools.cached_property`: computed once per instance and
cached in the instance ``__dict__`` (``del obj.attr`` forgets it).
``entanglement_logs_disabled()`` silences the ``entanglement`` logger *and* its children
(``entanglement.protocol``, ...), whose records would otherwise still reach the parent's
handlers through propagation.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._hashes import CertHash, DestHash, certhash_from_file

__all__ = [
    "GUID",  # noqa: F822 - lazy, see __getattr__
    "CertHash",
    "DestHash",
    "SqlDestHash",  # noqa: F822
    "certhash_from_file",
    "entanglement_logs_disabled",
    "get_or_create",  # noqa: F822
    "memoproperty",
]

memoproperty = functools.cached_property

_LAZY = {
    "GUID": "entanglement.sql.schema.types",
    "SqlDestHash": "entanglement.sql.schema.types",
    "get_or_create": "entanglement.sql.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


@contextmanager
def entanglement_logs_disabled() -> Iterator[None]:
    """Temporarily silence the ``entanglement`` loggers (e.g. around expected failures)."""
    loggers = [logging.getLogger("entanglement")]
    loggers += [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("entanglement.") and isinstance(logger, logging.Logger)
    ]
    previous = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, was_disabled in zip(loggers, previous, strict=True):
            logger.disabled = was_disabled
