"""Daily capacity: how many fulfilment orders each location has open for a day.

``Location.daily_capacity`` caps the fulfilment orders a location takes a day (empty = unlimited).
The counter lives in ``LocationDailyLoad``, one row per location and day. The fulfillment app calls
``location_load_change(delta=+1)`` when it creates a fulfilment order and ``delta=-1`` when one is
rejected, cancelled or expired; the sourcing engine reads today's value (``load_candidates``) and
skips a location once ``load_today >= daily_capacity``.

Every change is one conditional UPDATE (plus one INSERT the first time a location gets a fulfilment
order on a day), so concurrent routing workers never lose an increment, and the counter never goes
below zero (a CHECK constraint backs it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import LocationDailyLoad


def location_load_change(*, location_id: int, day: date, delta: int) -> None:
    """Add ``delta`` (positive or negative) to the open fulfilment orders of a location on ``day``.

    Clamped at zero: taking away more than is counted leaves 0 (a release that races a reset must
    not fail the caller's transaction)."""
    if delta == 0:
        return
    rows = LocationDailyLoad.objects.filter(location_id=location_id, day=day)
    updated = rows.update(open_fulfillment_orders=Greatest(F("open_fulfillment_orders") + delta, Value(0)))
    if updated or delta < 0:
        return
    try:
        with transaction.atomic():  # a savepoint: a concurrent INSERT must not break the caller
            LocationDailyLoad.objects.create(location_id=location_id, day=day, open_fulfillment_orders=delta)
    except IntegrityError:  # another transaction created the row first: add to it
        rows.update(open_fulfillment_orders=F("open_fulfillment_orders") + delta)


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
