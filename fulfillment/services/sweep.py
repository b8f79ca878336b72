"""The sweeper's finder: work a lost task left behind."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from orders.choices import OrderStatus, ReservationStatus
from orders.models import Order, OrderLine, Reservation

from .backorders import _sellable_products
from .common import NOT_ROUTED
from .pickups import pickups_due_to_expire


def routing_sweep(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Find the work a lost task left behind (reads only; the caller re-enqueues it).

    Orders still ``received`` (or with unrouted units) past the threshold, backordered orders
    whose stock is now there, and pickups past their deadline."""
    now = now or timezone.now()
    threshold = now - timedelta(seconds=settings.OMS_SWEEPER_STUCK_SECONDS)
    stuck = set(
        Reservation.objects.filter(
            status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True, created_at__lt=threshold
        )
        .exclude(order__status__in=NOT_ROUTED)
        .values_list("order_id", flat=True)
    )
    stuck |= set(
        Order.objects.filter(status=OrderStatus.RECEIVED, updated_at__lt=threshold).values_list(
            "pk", flat=True
        )
    )
    waiting = OrderLine.objects.filter(quantity_backordered__gt=0, order__updated_at__lt=threshold).exclude(
        order__status__in=NOT_ROUTED
    )
    products = set(waiting.values_list("product_id", flat=True))
    sellable = _sellable_products(products) if products else set()
    backordered = list(
        dict.fromkeys(
            waiting.filter(product_id__in=sellable)
            .order_by("order__created_at")
            .values_list("order_id", flat=True)
        )
    )
    return {
        "stuck": sorted(stuck),
        "backordered": [o for o in backordered if o not in stuck],
        "backordered_products": sorted(sellable),
        "expired_pickups": pickups_due_to_expire(now=now),
    }
