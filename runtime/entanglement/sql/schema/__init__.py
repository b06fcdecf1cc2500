"""The lowest layer of the SQL package: models, bookkeeping tables and classes, column
codecs, row plans, per-manager state and the database upgrade.  It imports nothing
from the other sub-packages (send, receive, resync).
"""
