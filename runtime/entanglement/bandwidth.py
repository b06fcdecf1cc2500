"""The bandwidth limiter of a connection (§7.6), at the original's module path.

:class:`BandwidthProtocol` lives in :mod:`entanglement.protocol` beside the driver it
meters; this module names it where code written for the original imports it from.
"""

from entanglement.protocol import BandwidthProtocol

__all__ = ["BandwidthProtocol"]
