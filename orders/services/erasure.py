"""The orders' part of erasing a customer (right to erasure): their personal data is scrubbed in
the erasing transaction (``oms.customers.customer_erase`` publishes ``customer.erased``; this runs
as its in-transaction handler), while lines, amounts, stock and money records stay."""

from __future__ import annotations

from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat

from oms.actors import Actor
from oms.models import NotificationLog
from orders.choices import OrderEventKind
from orders.events import order_event_build, order_events_record
from orders.models import IdempotencyRecord, Order, OrderEvent

PERSONAL_ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "phone")
PERSONAL_EVENT_KEYS = ("email", "recipient", "to", "phone", "name", "customer_name")


def customer_orders_scrub(*, customer_id: int, actor: Actor) -> None:
    """Remove the personal data kept with a customer's orders, each noted on its timeline.

    Delivery names, streets and coordinates; personal keys of timeline events; stored idempotent
    responses; e-mail recipients of notification logs. City, country, lines and amounts stay. The
    orders are locked in pk order; runs inside the erasing transaction."""
    orders = list(
        Order.objects.select_for_update(of=("self",)).filter(customer_id=customer_id).order_by("pk")
    )
    _addresses_scrub(orders)
    _timeline_scrub(customer_id)
    IdempotencyRecord.objects.filter(order__customer_id=customer_id).delete()
    NotificationLog.objects.filter(order_id__in=[o.pk for o in orders]).update(
        recipient=Concat(Value("erased:"), Cast("id", output_field=CharField()))
    )
    order_events_record(
        order_event_build(
            order=order, kind=OrderEventKind.NOTE, actor=actor, message="Customer's personal data erased."
        )
        for order in orders
    )


def _addresses_scrub(orders: list[Order]) -> None:
    for order in orders:
        address = dict(order.shipping_address or {})
        for key in PERSONAL_ADDRESS_FIELDS:
            if key in address:
                address[key] = ""
        order.shipping_address = address
        order.ship_latitude = order.ship_longitude = None
    Order.objects.bulk_update(orders, ["shipping_address", "ship_latitude", "ship_longitude"])


def _timeline_scrub(customer_id: int) -> None:
    events_to_scrub = []
    for event in OrderEvent.objects.filter(order__customer_id=customer_id):
        data = dict(event.data or {})
        if any(key in data for key in PERSONAL_EVENT_KEYS):
            for key in PERSONAL_EVENT_KEYS:
                data.pop(key, None)
            event.data = data
            events_to_scrub.append(event)
    OrderEvent.objects.bulk_update(events_to_scrub, ["data"])
