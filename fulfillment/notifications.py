"""Customer e-mails about fulfilment: ready for pickup (store, address, opening hours, the hold's
deadline, the pickup code; sent again with a new code a manager issues), shipped (carrier,
tracking number) and pickup expired. Registered in
``FulfillmentConfig.ready`` through the kernel's registry; each sent e-mail lands on the order's
timeline through orders' ``order_email_sent_event``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oms.notifications import Builder, Notification, notification_register
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


def _build(fo: FulfillmentOrder, template: str, **extra: Any) -> Notification:
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


def _builder(template: str, extra: Callable[[FulfillmentOrder], dict[str, Any]]) -> Builder:
    """The builder of one e-mail about the event's fulfilment order: ``template``, with the order's,
    the lines' and the store's context and ``extra(fo)``."""

    def build(topic: str, payload: dict[str, Any]) -> Notification | None:
        fo = _fulfillment_order(payload)
        return None if fo is None else _build(fo, template, **extra(fo))

    return build


ready_for_pickup_build = _builder(
    "ready_for_pickup",
    lambda fo: {"hold_until": fo.pickup_expires_at, "ready_at": fo.ready_at, "pickup_code": fo.pickup_code},
)
shipped_build = _builder(
    "shipped",
    lambda fo: {
        "carrier": fo.carrier,
        "tracking_number": fo.tracking_number,
        "shipped_at": fo.completed_at,
    },
)
pickup_expired_build = _builder("pickup_expired", lambda fo: {"hold_until": fo.pickup_expires_at})


def connect() -> None:
    notification_register(
        "fulfillment.ready_for_pickup", ready_for_pickup_build, on_sent=order_email_sent_event
    )
    # a manager's new pickup code goes out in the same e-mail
    notification_register(
        "fulfillment.pickup_code_reissued", ready_for_pickup_build, on_sent=order_email_sent_event
    )
    notification_register("fulfillment.shipped", shipped_build, on_sent=order_email_sent_event)
    notification_register("fulfillment.pickup_expired", pickup_expired_build, on_sent=order_email_sent_event)
