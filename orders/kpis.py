"""Order KPIs (registered with ``oms.kpis``): orders placed in the period by channel and by day,
and where those orders stand now.

Revenue is what the customers paid (``Order.total``), per currency, for orders not cancelled;
``sales_by_channel`` says it once per channel in the channel's own currency (a channel sells in
one currency: placement refuses another), for multi-currency reports."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from oms.kpis import kpi_register, money, money_by_currency

from .choices import OrderStatus
from .selectors import orders_placed_between as _placed

_REVENUE = Sum("total", filter=~Q(status=OrderStatus.CANCELLED))


def orders_by_channel(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """``{channel code: {"orders": n, "revenue": {currency: amount}}}`` for orders placed."""
    rows = (
        _placed(start=start, end=end, location_id=location_id)
        .values("channel__code", "currency")
        .annotate(orders=Count("pk"), revenue=_REVENUE)
        .order_by("channel__code", "currency")
    )
    counts: dict[str, int] = defaultdict(int)
    revenue: dict[str, list[tuple[str, Decimal | None]]] = defaultdict(list)
    for row in rows:
        counts[row["channel__code"]] += row["orders"]
        revenue[row["channel__code"]].append((row["currency"], row["revenue"]))
    return {
        code: {"orders": counts[code], "revenue": money_by_currency(revenue[code])} for code in sorted(counts)
    }


def sales_by_channel(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """``{channel code: {"currency", "orders", "sales", "average_order"}}``: sales in the channel's
    currency (orders not cancelled), and their average."""
    rows = (
        _placed(start=start, end=end, location_id=location_id)
        .filter(currency=F("channel__currency"))
        .values("channel__code", "channel__currency")
        .annotate(
            orders=Count("pk"), sold=Count("pk", filter=~Q(status=OrderStatus.CANCELLED)), sales=_REVENUE
        )
        .order_by("channel__code")
    )
    return {
        row["channel__code"]: {
            "currency": row["channel__currency"],
            "orders": row["orders"],
            "sales": money(row["sales"]),
            "average_order": money(row["sales"] / row["sold"]) if row["sold"] else None,
        }
        for row in rows
    }


def orders_by_day(*, start: datetime, end: datetime, location_id: int | None = None) -> list[dict[str, Any]]:
    """One row per local day and channel with orders: ``{"date", "channel", "orders", "revenue"}``."""
    rows = (
        _placed(start=start, end=end, location_id=location_id)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "channel__code", "currency")
        .annotate(orders=Count("pk"), revenue=_REVENUE)
        .order_by("day", "channel__code", "currency")
    )
    counts: dict[tuple[date, str], int] = defaultdict(int)
    revenue: dict[tuple[date, str], list[tuple[str, Decimal | None]]] = defaultdict(list)
    for row in rows:
        key = (row["day"], row["channel__code"])
        counts[key] += row["orders"]
        revenue[key].append((row["currency"], row["revenue"]))
    return [
        {
            "date": day.isoformat(),
            "channel": code,
            "orders": counts[(day, code)],
            "revenue": money_by_currency(revenue[(day, code)]),
        }
        for day, code in sorted(counts)
    ]


def order_status_mix(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, int]:
    """How many of the orders placed are in each status now (every status, zeros included)."""
    counts = dict(
        _placed(start=start, end=end, location_id=location_id)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in OrderStatus.values}


kpi_register("orders_by_channel", orders_by_channel)
kpi_register("sales_by_channel", sales_by_channel)
kpi_register("orders_by_day", orders_by_day)
kpi_register("order_status_mix", order_status_mix)
