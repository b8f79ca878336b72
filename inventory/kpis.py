"""Inventory KPIs (registered with ``oms.kpis``): how well the books match the shelves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Abs

from oms.kpis import kpi_locations_register, kpi_register, rate

from .choices import MovementKind
from .models import Location, StockMovement


def inventory_accuracy(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Count and snapshot ledger rows written in the period (at one location with
    ``location_id``): the share whose counted ``on_hand`` equalled what the system expected, and
    the units found missing or extra."""
    rows = StockMovement.objects.filter(
        kind__in=[MovementKind.COUNT, MovementKind.SNAPSHOT],
        expected_on_hand__isnull=False,
        on_hand_after__isnull=False,
        created_at__gte=start,
        created_at__lt=end,
    )
    if location_id is not None:
        rows = rows.filter(location_id=location_id)
    variance = F("on_hand_after") - F("expected_on_hand")
    totals = rows.aggregate(
        counted=Count("pk"),
        accurate=Count("pk", filter=Q(on_hand_after=F("expected_on_hand"))),
        absolute=Sum(Abs(variance)),
        net=Sum(variance),
    )
    return {
        "rows_counted": totals["counted"],
        "rows_accurate": totals["accurate"],
        "accuracy": rate(totals["accurate"], totals["counted"]),
        "absolute_unit_variance": totals["absolute"] or 0,
        "net_unit_variance": totals["net"] or 0,
    }


kpi_register("inventory_accuracy", inventory_accuracy)


def kpi_location_choices() -> dict[str, tuple[int, str]]:
    """The locations the KPI page may be scoped to: ``{code: (id, "Store District 1 (st-hcm-d1)")}``."""
    rows = Location.objects.order_by("code").values_list("pk", "code", "name")
    return {code: (pk, f"{name} ({code})") for pk, code, name in rows}


kpi_locations_register(kpi_location_choices)
