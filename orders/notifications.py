"""Customer e-mails about orders (the confirmation, the cancellation, a change, a payment
refused), and the timeline row of
every e-mail sent.

Registered in ``OrdersConfig.ready`` through the kernel's registry (``oms.notifications``): the
kernel sends, orders knows what to say. ``order_email_sent_event`` is the ``on_sent`` callback of
every order e-mail (fulfillment and returns use it too): one ``email_sent`` OrderEvent per e-mail,
written with the log's ``sent`` mark."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from oms.actors import Actor
from oms.models import Customer, NotificationLog
from oms.notifications import Notification, notification_register
from oms.sql import Prepared

from .choices import FulfillmentMethod, OrderEventKind
from .events import order_event_build
from .models import Order, OrderEvent, OrderLine

NOTIFIER = Actor.system("notifications")


def customer_recipient(customer: Customer | None) -> tuple[str, str]:
    """(e-mail, language) of an order's customer; no e-mail for none, or for an erased one."""
    if customer is None or customer.erased_at is not None:
        return "", ""
    return customer.email or "", customer.language or ""


def store_context(location: Any) -> dict[str, Any] | None:
    """What a customer needs to find a store."""
    if location is None:
        return None
    return {
        "name": location.name,
        "code": location.code,
        "address": location.address,
        "city": location.city,
        "country": location.country,
        "opening_hours": location.opening_hours,
    }


def address_lines(address: dict[str, Any] | None) -> list[str]:
    """A shipping address as the lines of an envelope."""
    if not address:
        return []
    town = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    parts = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        town,
        address.get("region"),
        address.get("country"),
    ]
    return [str(part) for part in parts if part]


def line_context(line: OrderLine, quantity: int | None = None) -> dict[str, Any]:
    return {
        "sku": line.sku,
        "name": line.name or line.sku,
        "quantity": line.quantity if quantity is None else quantity,
        "unit_price": line.unit_price,
        "line_total": line.line_total,
    }


def order_context(order: Order) -> dict[str, Any]:
    """What every order e-mail may show."""
    customer = order.customer
    return {
        "customer_name": (customer.name if customer is not None and customer.erased_at is None else "") or "",
        "order_number": order.number,
        "order_id": order.pk,
        "placed_at": order.created_at,
        "currency": order.currency,
        "method": order.method,
        "shipping_address": address_lines(order.shipping_address),
        "store": store_context(order.pickup_location) if order.method == FulfillmentMethod.PICKUP else None,
    }


# Every confirmation reads these: compiled once per process (``oms.sql.Prepared``).
_order_for_email = Prepared(
    lambda order_id: Order.objects.select_related("customer", "pickup_location", "channel").filter(
        pk=order_id
    )
)
_lines_for_email = Prepared(
    lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("line_number")
)


def order_confirmation_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """order.created: the order confirmation, with its lines, totals and delivery method."""
    order_id = payload.get("order_id")
    if order_id is None:
        return None
    order = _order_for_email.first(order_id=order_id)
    if order is None:
        return None
    return _confirmation(order, _lines_for_email(order_id=order.pk))


def order_confirmation_build_many(topic: str, payloads: list[dict[str, Any]]) -> list[Notification | None]:
    """``order_confirmation_build`` for many orders: their orders and lines read in two queries."""
    ids = [payload.get("order_id") for payload in payloads]
    wanted = {order_id for order_id in ids if order_id is not None}
    orders = Order.objects.select_related("customer", "pickup_location", "channel").in_bulk(wanted)
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=orders).order_by("order_id", "line_number"):
        lines[line.order_id].append(line)
    return [
        _confirmation(orders[order_id], lines[order_id])
        if order_id is not None and order_id in orders
        else None
        for order_id in ids
    ]


def _confirmation(order: Order, lines: list[OrderLine]) -> Notification:
    recipient, language = customer_recipient(order.customer)
    context = {
        **order_context(order),
        "channel_name": order.channel.name,
        "lines": [line_context(line) for line in lines],
        "subtotal": order.subtotal,
        "tax_total": order.tax_total,
        "shipping_total": order.shipping_total,
        "total": order.total,
        "backordered": any(line.quantity_backordered for line in lines),
    }
    return Notification(
        recipient=recipient,
        template="order_confirmation",
        context=context,
        language=language,
        order_id=order.pk,
    )


def order_cancelled_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """order.cancelled by ``order_cancel`` (its payload has the ``reason``, which the e-mail does
    not show: it may be internal): the customer is told, with the items cancelled and what
    happens to a payment. The same topic from the status rule (every unit of an expired pickup
    released) sends nothing more: the pickup-expired e-mail said it."""
    order_id = payload.get("order_id")
    if order_id is None or "reason" not in payload:
        return None
    order = _order_for_email.first(order_id=order_id)
    if order is None:
        return None
    lines = [
        line_context(line, quantity=line.quantity_cancelled)
        for line in _lines_for_email(order_id=order.pk)
        if line.quantity_cancelled
    ]
    recipient, language = customer_recipient(order.customer)
    context = {
        **order_context(order),
        "channel_name": order.channel.name,
        "lines": lines,
        "total": order.total,
    }
    return Notification(
        recipient=recipient, template="order_cancelled", context=context, language=language, order_id=order.pk
    )


def order_changed_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """order.changed: the customer is told what the order holds now (the units kept of each line)
    and its new total, and whether they pay more or less."""
    order_id = payload.get("order_id")
    order = _order_for_email.first(order_id=order_id) if order_id is not None else None
    if order is None:
        return None
    kept = [(line, line.quantity - line.quantity_cancelled) for line in _lines_for_email(order_id=order.pk)]
    delta = Decimal(str(payload.get("money_delta") or "0"))
    recipient, language = customer_recipient(order.customer)
    context = {
        **order_context(order),
        "lines": [line_context(line, quantity=units) for line, units in kept if units > 0],
        "total": order.total,
        "paid_less": delta < 0,
        "paid_more": delta > 0,
    }
    return Notification(
        recipient=recipient, template="order_changed", context=context, language=language, order_id=order.pk
    )


def payment_failed_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """payment.failed of an authorisation or a capture: the order waits on a payment hold and the
    customer is asked to sort it out. A failed void or refund is the OMS's to retry, not the
    customer's business. (payment.captured is a webhook, not an e-mail: the shipped and picked-up
    e-mails already tell the customer, and a second e-mail per parcel would be noise.)"""
    order_id = payload.get("order_id")
    if order_id is None or payload.get("kind") not in ("authorize", "capture"):
        return None
    order = _order_for_email.first(order_id=order_id)
    if order is None:
        return None
    recipient, language = customer_recipient(order.customer)
    return Notification(
        recipient=recipient,
        template="payment_failed",
        context=order_context(order),
        language=language,
        order_id=order.pk,
    )


def order_email_sent_event(notification: Notification, log: NotificationLog) -> list[OrderEvent]:
    """on_sent: an ``email_sent`` row for the order's timeline, written with the log's mark."""
    if notification.order_id is None:
        return []
    return [
        order_event_build(
            order=notification.order_id,
            kind=OrderEventKind.EMAIL_SENT,
            actor=NOTIFIER,
            message=f"E-mail '{log.subject}' sent to {log.recipient}",
            data={
                "template": notification.template,
                "topic": log.topic,
                "event_id": log.event_id,
                "language": log.language,
                "notification": log.pk,
            },
        )
    ]


def connect() -> None:
    notification_register(
        "order.created",
        order_confirmation_build,
        on_sent=order_email_sent_event,
        build_many=order_confirmation_build_many,
    )
    notification_register("order.cancelled", order_cancelled_build, on_sent=order_email_sent_event)
    notification_register("order.changed", order_changed_build, on_sent=order_email_sent_event)
    notification_register("payment.failed", payment_failed_build, on_sent=order_email_sent_event)
