"""Alembic migrations of the bookkeeping tables (script location of ``create_bookkeeping``)."""
