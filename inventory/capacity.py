"""Daily capacity: how many fulfilment orders each location has open for a day.

``Location.daily_capacity`` caps the fulfilment orders a location takes a day (empty = unlimited).
The counter lives in ``LocationDailyLoad``, one row per location and day. The fulfillment app calls
``location_load_change(delta=+1)`` when it creates a fulfilment order and ``delta=-1`` when one is
rejected, cancelled or expired; the sourcing engine reads today's value (``load_candidates``) and
skips a location once ``load_today >= daily_capacity``.

Every change is one statement, so concurrent routing workers never lose an increment: an addition is
one ``INSERT … ON CONFLICT (location_id, day) DO UPDATE`` (for any number of locations; PostgreSQL
and SQLite ≥ 3.24 both have it), a removal one conditional UPDATE clamped at zero (a CHECK
constraint backs it). The upsert's SQL is built in ``inventory.writes``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import LocationDailyLoad
from .writes import location_loads_add_sql

__all__ = ["location_load_change", "location_load_today", "location_loads_add", "location_loads_add_sql"]


def location_load_change(*, location_id: int, day: date, delta: int) -> None:
    """Add ``delta`` (positive or negative) to the open fulfilment orders of a location on ``day``.

    Clamped at zero: taking away more than is counted leaves 0 (a release that races a reset must
    not fail the caller's transaction)."""
    if delta > 0:
        location_loads_add(day=day, added={location_id: delta})
    elif delta < 0:
        LocationDailyLoad.objects.filter(location_id=location_id, day=day).update(
            open_fulfillment_orders=Greatest(F("open_fulfillment_orders") + delta, Value(0))
        )


def location_loads_add(*, day: date, added: Mapping[int, int]) -> None:
    """Add ``added[location_id]`` open fulfilment orders to each location on ``day``, creating the
    day's rows that do not exist yet: one upsert, rows in location order (a stable lock order)."""
    statement = location_loads_add_sql(day=day, added=added)
    if statement is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(*statement)


def location_load_today(*, location_ids: Iterable[int], day: date | None = None) -> dict[int, int]:
    """Open fulfilment orders today (or on ``day``) per location; 0 for a location without a row."""
    ids = list(dict.fromkeys(location_ids))
    if not ids:
        return {}
    day = day or timezone.localdate()
    loads = dict.fromkeys(ids, 0)
    loads.update(
        LocationDailyLoad.objects.filter(location_id__in=ids, day=day).values_list(
            "location_id", "open_fulfillment_orders"
        )
    )
    return loads
