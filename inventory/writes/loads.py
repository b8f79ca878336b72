"""The daily load of locations: the upsert of ``capacity.location_loads_add`` as one statement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import UniqueConstraint

from inventory.models import LocationDailyLoad

from .fields import model_field


def location_loads_add_sql(*, day: date, added: Mapping[int, int]) -> tuple[str, list[Any]] | None:
    """The upsert of ``capacity.location_loads_add`` as SQL and parameters (None: nothing to add),
    for a caller that runs it with other writes in one statement (routing on PostgreSQL).

    ``INSERT … ON CONFLICT (location, day) DO UPDATE`` runs on PostgreSQL and SQLite ≥ 3.24 alike,
    so it has no ORM fallback; Django's ``update_conflicts`` would overwrite the counter with the
    new value, not add to it, hence the hand-built statement."""
    rows = sorted((location_id, n) for location_id, n in added.items() if n)
    if not rows:
        return None
    if any(n < 0 for _, n in rows):
        raise ValueError("location_loads_add only adds; use location_load_change to take away")
    meta = LocationDailyLoad._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    location, day_field, counter = (
        model_field(LocationDailyLoad, name) for name in ("location", "day", "open_fulfillment_orders")
    )
    (unique,) = [c for c in meta.constraints if isinstance(c, UniqueConstraint)]  # (location, day)
    target = ", ".join(quote(model_field(LocationDailyLoad, name).column) for name in unique.fields)
    count = quote(counter.column)
    sql = (
        f"INSERT INTO {table} ({quote(location.column)}, {quote(day_field.column)}, {count}) "  # noqa: S608 (the model's names)
        f"VALUES {', '.join(['(%s, %s, %s)'] * len(rows))} "
        f"ON CONFLICT ({target}) DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    )
    value = day_field.get_db_prep_save(day, connection)
    return sql, [param for location_id, n in rows for param in (location_id, value, n)]
