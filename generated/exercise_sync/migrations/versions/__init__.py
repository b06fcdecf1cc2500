"""Revision scripts (Alembic), oldest first."""
