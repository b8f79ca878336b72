"""Fulfilment KPIs (registered with ``oms.kpis``): how the network serves the orders placed in the
period, as things stand now (an order placed on the last day counts even if it ships later).

Every figure here looks at the orders created in ``[start, end)`` and at their fulfilment orders;
for one location (``location_id``), at the orders it serves and at its own fulfilment orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

from inventory.choices import LocationKind
from oms.kpis import duration_percentiles, kpi_register, rate
from orders.choices import FulfillmentMethod, OrderEventKind
from orders.models import Order, OrderEvent, OrderLine
from orders.selectors import orders_placed_between

from .choices import FulfillmentStatus
from .models import FulfillmentOrder

FS = FulfillmentStatus
# An order that ever waited for stock: backordered at placement, or its units backordered later
# (a location rejected them) and filled again.
BACKORDER_EVENTS = (OrderEventKind.BACKORDERED, OrderEventKind.BACKORDER_FILLED)


def _orders(start: datetime, end: datetime, location_id: int | None) -> QuerySet[Order]:
    return orders_placed_between(start=start, end=end, location_id=location_id)


def _fulfillment_orders(
    start: datetime, end: datetime, location_id: int | None
) -> QuerySet[FulfillmentOrder]:
    """The fulfilment orders of the orders placed in the period; with ``location_id``, that location's."""
    fos = FulfillmentOrder.objects.filter(order__created_at__gte=start, order__created_at__lt=end).order_by()
    return fos if location_id is None else fos.filter(location_id=location_id)


def fill_rate(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Units delivered (shipped or collected) out of units ordered, and the share of orders whose
    every unit was delivered without any unit ever being backordered."""
    units = (
        OrderLine.objects.filter(order__in=_orders(start, end, location_id))
        .order_by()
        .aggregate(
            ordered=Sum("quantity"),
            fulfilled=Sum("quantity_fulfilled"),
            cancelled=Sum("quantity_cancelled"),
            backordered=Sum("quantity_backordered"),
        )
    )
    orders = _orders(start, end, location_id)
    waited = OrderEvent.objects.filter(order=OuterRef("pk"), kind__in=BACKORDER_EVENTS)
    filled = (
        orders.filter(~Exists(waited))
        .annotate(ordered=Sum("lines__quantity"), fulfilled=Sum("lines__quantity_fulfilled"))
        .filter(ordered=F("fulfilled"))
        .count()
    )
    ordered = units["ordered"] or 0
    fulfilled = units["fulfilled"] or 0
    order_count = orders.count()
    return {
        "units_ordered": ordered,
        "units_fulfilled": fulfilled,
        "units_cancelled": units["cancelled"] or 0,
        "units_backordered": units["backordered"] or 0,
        "unit_fill_rate": rate(fulfilled, ordered),
        "orders": order_count,
        "orders_filled_without_backorder": filled,
        "order_fill_rate": rate(filled, order_count),
    }


def split_shipment_rate(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Orders sent to more than one location (fulfilment orders other than rejected ones), out of
    the orders sent to at least one."""
    per_order = (
        _fulfillment_orders(start, end, location_id)
        .exclude(status=FS.REJECTED)
        .values("order_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    routed = per_order.count()
    split = per_order.filter(n__gt=1).count()
    return {"orders_routed": routed, "orders_split": split, "rate": rate(split, routed)}


def cycle_times(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """p50 / p90 in seconds from the order's creation to: allocation (routed to locations), each
    shipment, each pickup made ready at the counter, and each hand-over to the customer."""
    fos = _fulfillment_orders(start, end, location_id)
    since = "order__created_at"
    return {
        "to_allocation": duration_percentiles(
            _orders(start, end, location_id), since="created_at", until="allocated_at"
        ),
        "to_ship": duration_percentiles(fos.filter(status=FS.SHIPPED), since=since, until="completed_at"),
        "to_ready_for_pickup": duration_percentiles(
            fos.filter(method=FulfillmentMethod.PICKUP), since=since, until="ready_at"
        ),
        "to_pickup": duration_percentiles(fos.filter(status=FS.PICKED_UP), since=since, until="completed_at"),
    }


def pickup(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Pickups made ready at the counter: collected on time (by ``pickup_expires_at``), collected,
    expired, still waiting; the rates are out of the pickups that are over (collected or expired)."""
    totals = (
        _fulfillment_orders(start, end, location_id)
        .filter(method=FulfillmentMethod.PICKUP, ready_at__isnull=False)
        .aggregate(
            ready=Count("pk"),
            picked_up=Count("pk", filter=Q(status=FS.PICKED_UP)),
            on_time=Count("pk", filter=Q(status=FS.PICKED_UP, completed_at__lte=F("pickup_expires_at"))),
            expired=Count("pk", filter=Q(status=FS.EXPIRED)),
            waiting=Count("pk", filter=Q(status=FS.READY_FOR_PICKUP)),
        )
    )
    over = totals["picked_up"] + totals["expired"]
    return {
        "ready": totals["ready"],
        "picked_up": totals["picked_up"],
        "picked_up_on_time": totals["on_time"],
        "expired": totals["expired"],
        "waiting": totals["waiting"],
        "on_time_rate": rate(totals["on_time"], over),
        "expiry_rate": rate(totals["expired"], over),
    }


def ship_from_store(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Shipped fulfilment orders, and the share shipped by a store rather than a warehouse."""
    totals = (
        _fulfillment_orders(start, end, location_id)
        .filter(status=FS.SHIPPED)
        .aggregate(shipped=Count("pk"), from_store=Count("pk", filter=Q(location__kind=LocationKind.STORE)))
    )
    return {
        "shipped": totals["shipped"],
        "shipped_from_store": totals["from_store"],
        "share": rate(totals["from_store"], totals["shipped"]),
    }


def rejections(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Fulfilment orders the locations rejected, out of those sent to them, overall and by location."""
    rows = (
        _fulfillment_orders(start, end, location_id)
        .values("location__code", "location__kind")
        .annotate(sent=Count("pk"), rejected=Count("pk", filter=Q(status=FS.REJECTED)))
        .order_by("location__code")
    )
    by_location = {
        row["location__code"]: {
            "kind": row["location__kind"],
            "fulfillment_orders": row["sent"],
            "rejected": row["rejected"],
            "rate": rate(row["rejected"], row["sent"]),
        }
        for row in rows
    }
    sent = sum(row["fulfillment_orders"] for row in by_location.values())
    rejected = sum(row["rejected"] for row in by_location.values())
    return {
        "fulfillment_orders": sent,
        "rejected": rejected,
        "rate": rate(rejected, sent),
        "by_location": by_location,
    }


kpi_register("fill_rate", fill_rate)
kpi_register("split_shipment_rate", split_shipment_rate)
kpi_register("cycle_times", cycle_times)
kpi_register("pickup", pickup)
kpi_register("ship_from_store", ship_from_store)
kpi_register("rejections", rejections)
