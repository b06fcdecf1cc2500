"""Catching up: the meta registry and its messages (IHave, YouHave, MyOwners), the
answer, filters, announcements, the commit watcher and SQL destinations.  The top
layer: may import every other sub-package.
"""
