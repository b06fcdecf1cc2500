"""Database revisions of this package."""
