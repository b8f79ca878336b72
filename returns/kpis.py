"""Return KPIs (registered with ``oms.kpis``): how much of what was delivered comes back, why, and
the money refunded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Sum, When

from oms.kpis import kpi_register, money_by_currency, rate
from orders.models import OrderLine
from orders.selectors import orders_placed_between

from .choices import ReturnReason, ReturnStatus
from .models import Refund, ReturnLine

# Units a return line counts for: nothing once the return is cancelled; only what arrived once it
# is closed (the rest stopped counting); otherwise every unit the customer sends back.
_UNITS = Case(
    When(rma__status=ReturnStatus.CANCELLED, then=0),
    When(rma__status=ReturnStatus.CLOSED, then=F("quantity_received")),
    default=F("quantity"),
    output_field=IntegerField(),
)


def return_rate(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Units returned out of units delivered, for the orders placed in the period (with
    ``location_id``: the orders that location serves), overall and by the reason the customer gave."""
    orders = orders_placed_between(start=start, end=end, location_id=location_id)
    delivered = (
        OrderLine.objects.filter(order__in=orders).order_by().aggregate(n=Sum("quantity_fulfilled"))["n"] or 0
    )
    rows = (
        ReturnLine.objects.filter(rma__order__in=orders)
        .values("reason")
        .annotate(units=Sum(_UNITS))
        .order_by("reason")
    )
    units = {row["reason"]: row["units"] or 0 for row in rows}
    returned = sum(units.values())
    return {
        "units_fulfilled": delivered,
        "units_returned": returned,
        "rate": rate(returned, delivered),
        "by_reason": {
            reason: {"units": units.get(reason, 0), "rate": rate(units.get(reason, 0), delivered)}
            for reason in ReturnReason.values
        },
    }


def refunds(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Refunds recorded in the period (with ``location_id``: for returns received there): how many,
    and the amounts per currency."""
    rows = Refund.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    if location_id is not None:
        rows = rows.filter(rma__location_id=location_id)
    totals = rows.values("currency").annotate(n=Count("pk"), amount=Sum("amount")).order_by("currency")
    return {
        "count": sum(row["n"] for row in totals),
        "amount": money_by_currency((row["currency"], row["amount"]) for row in totals),
    }


kpi_register("return_rate", return_rate)
kpi_register("refunds", refunds)
