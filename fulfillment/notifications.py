"""Customer e-mails about fulfilment: ready for pickup (store, address, opening hours, the hold's
deadline), shipped (carrier, tracking number) and pickup expired. Registered in
``FulfillmentConfig.ready`` through the kernel's registry; each sent e-mail lands on the order's
timeline through orders' ``order_email_sent_event``."""

from __future__ import annotations

from typing import Any

from oms.notifications import Notification, notification_register
from orders.notifications import (
    customer_recipient,
    line_context,
    order_context,
    order_email_sent_event,
    store_context,
)

from .models import FulfillmentOrder, FulfillmentOrderLine


def _fulfillment_order(payload: dict[str, Any]) -> FulfillmentOrder | None:
    fo_id = payload.get("fulfillment_order_id")
    if fo_id is None:
        return None
    return (
        FulfillmentOrder.objects.select_related("order__customer", "order__pickup_location", "location")
        .filter(pk=fo_id)
        .first()
    )


def _lines(fo: FulfillmentOrder) -> list[dict[str, Any]]:
    rows = (
        FulfillmentOrderLine.objects.filter(fulfillment_order=fo)
        .select_related("order_line")
        .order_by("order_line__line_number", "pk")
    )
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:  # one line per order line, even when several reservations serve it
        if row.order_line_id in merged:
            merged[row.order_line_id]["quantity"] += row.quantity
        else:
            merged[row.order_line_id] = line_context(row.order_line, quantity=row.quantity)
    return list(merged.values())


def _build(fo: FulfillmentOrder | None, template: str, **extra: Any) -> Notification | None:
    if fo is None:
        return None
    order = fo.order
    recipient, language = customer_recipient(order.customer)
    context = {
        **order_context(order),
        "fulfillment_number": fo.number,
        "lines": _lines(fo),
        "store": store_context(fo.location),
        **extra,
    }
    return Notification(
        recipient=recipient, template=template, context=context, language=language, order_id=order.pk
    )


def ready_for_pickup_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    fo = _fulfillment_order(payload)
    if fo is None:
        return None
    return _build(fo, "ready_for_pickup", hold_until=fo.pickup_expires_at, ready_at=fo.ready_at)


def shipped_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    fo = _fulfillment_order(payload)
    if fo is None:
        return None
    return _build(
        fo,
        "shipped",
        carrier=fo.carrier,
        tracking_number=fo.tracking_number,
        shipped_at=fo.completed_at,
    )


def pickup_expired_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    fo = _fulfillment_order(payload)
    if fo is None:
        return None
    return _build(fo, "pickup_expired", hold_until=fo.pickup_expires_at)


def connect() -> None:
    notification_register(
        "fulfillment.ready_for_pickup", ready_for_pickup_build, on_sent=order_email_sent_event
    )
    notification_register("fulfillment.shipped", shipped_build, on_sent=order_email_sent_event)
    notification_register("fulfillment.pickup_expired", pickup_expired_build, on_sent=order_email_sent_event)
