"""Reads of fulfilment work, scoped by who asks: an associate sees only their locations' fulfilment
orders (anything else is not found), a manager sees all, channels see none (only through their
orders)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Prefetch, QuerySet

from oms.actors import Actor
from oms.errors import NotFound
from oms.lookups import filter_given, pk_or_none

from .models import FulfillmentOrder, FulfillmentOrderLine


class FulfillmentOrderNotFound(NotFound):
    default_code = "fulfillment_order_not_found"
    default_message = "Fulfilment order not found."


def fulfillment_order_queryset_for_actor(actor: Actor) -> QuerySet[FulfillmentOrder]:
    """The fulfilment orders the actor may see: all (a manager), its locations' (an associate), or none."""
    qs = FulfillmentOrder.objects.all()
    if actor.is_manager or actor.is_system:
        return qs
    if actor.is_associate:
        return qs.filter(location_id__in=actor.location_ids)
    return qs.none()


def fulfillment_order_get_for_actor(*, fulfillment_order_id: int | str, actor: Actor) -> FulfillmentOrder:
    """The fulfilment order if the actor may see it; FulfillmentOrderNotFound otherwise (a bad id too)."""
    pk = pk_or_none(fulfillment_order_id)
    fo = fulfillment_order_queryset_for_actor(actor).filter(pk=pk).first() if pk is not None else None
    if fo is None:
        raise FulfillmentOrderNotFound(f"No fulfilment order '{fulfillment_order_id}'.")
    return fo


def fulfillment_order_detail_queryset(qs: QuerySet[FulfillmentOrder]) -> QuerySet[FulfillmentOrder]:
    """``qs`` with its location, order, customer and lines loaded (no query per fulfilment order)."""
    return qs.select_related("location", "order", "order__customer").prefetch_related(
        Prefetch(
            "lines",
            queryset=FulfillmentOrderLine.objects.select_related("order_line").order_by("pk"),
        )
    )


def fulfillment_order_list(
    *,
    actor: Actor,
    location: str | None = None,
    status: list[str] | None = None,
    method: str | None = None,
    order_id: int | None = None,
) -> QuerySet[FulfillmentOrder]:
    """The fulfilment orders the actor may see that match every filter given, with their detail loaded."""
    qs = filter_given(
        fulfillment_order_queryset_for_actor(actor),
        location__code=location,
        status__in=status,
        method=method,
        order_id=order_id,
    )
    return fulfillment_order_detail_queryset(qs)


def fulfillment_orders_for_orders(order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The ``fulfillment_orders`` section of orders: {order id: [{id, location, status, lines}]}."""
    if not order_ids:
        return {}
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    fos = (
        FulfillmentOrder.objects.filter(order_id__in=order_ids)
        .select_related("location")
        .prefetch_related(
            Prefetch(
                "lines", queryset=FulfillmentOrderLine.objects.select_related("order_line").order_by("pk")
            )
        )
        .order_by("pk")
    )
    for fo in fos:
        grouped[fo.order_id].append(
            {
                "id": fo.pk,
                "number": fo.number,
                "location": fo.location.code,
                "status": fo.status,
                "carrier": fo.carrier,
                "tracking_number": fo.tracking_number,
                "pickup_expires_at": fo.pickup_expires_at.isoformat() if fo.pickup_expires_at else None,
                "lines": [
                    {"line": li.order_line_id, "sku": li.order_line.sku, "quantity": li.quantity}
                    for li in fo.lines.all()
                ],
            }
        )
    return dict(grouped)
