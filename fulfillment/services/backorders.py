"""Backorders: the orders waiting for stock, routed oldest first when it arrives."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from inventory.models import StockLevel
from orders.choices import OrderStatus
from orders.models import OrderLine

from .routing import route_order


def backordered_orders_for(*, product_ids: Iterable[int] | None = None) -> list[int]:
    """Orders with units waiting for stock, oldest first (first come, first served)."""
    lines = OrderLine.objects.filter(quantity_backordered__gt=0).exclude(
        order__status__in=[OrderStatus.ON_HOLD, OrderStatus.CANCELLED]
    )
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    ids = lines.order_by("order__created_at", "order_id").values_list("order_id", flat=True)
    return list(dict.fromkeys(ids))


def _sellable_products(product_ids: Iterable[int]) -> set[int]:
    return set(
        StockLevel.objects.filter(
            product_id__in=list(product_ids),
            location__active=True,
            on_hand__gt=F("reserved") + F("safety_stock"),
        ).values_list("product_id", flat=True)
    )


def backorders_allocate(*, product_ids: Iterable[int]) -> list[int]:
    """Route the orders waiting for these products, oldest first, without overselling; returns those filled.

    Stock arrived for these products: each waiting order is routed in its own transaction (the
    conditional UPDATEs keep it from overselling). Stops once nothing is left."""
    routed: list[int] = []
    product_ids = set(product_ids)
    for order_id in backordered_orders_for(product_ids=product_ids):
        if not _sellable_products(product_ids):
            break
        result = route_order(order_id=order_id, first_come=False)
        if result.filled_units:
            routed.append(order_id)
    return routed
