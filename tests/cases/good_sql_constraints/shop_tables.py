"""The ``table_args`` hook of the good_sql_constraints case (imported by its tests)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def item_table_args() -> tuple[Any, ...]:
    """What the schema language does not say: a check over two columns, a comment."""
    return (
        sa.CheckConstraint("price >= 0 OR NOT active", name="ck_items_price_active"),
        {"comment": "Stock items of a warehouse."},
    )
