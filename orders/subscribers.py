"""How orders react to the kernel's events (imports stay one way: oms publishes, orders listens).
In-transaction: an erased customer's personal data is scrubbed from their orders. After commit:
the payment tasks (authorise a new order, capture a shipment or handover, follow a changed
order's total, void what a closed order no longer needs, send a pending refund); the fulfilment
topics are subscribed by name, so orders imports nothing of fulfillment."""

from __future__ import annotations

from typing import Any

from oms import events
from oms.customers import customer_erasing_actor

from . import tasks
from .services.erasure import customer_orders_scrub


def _customer_erased(topic: str, payload: dict[str, Any]) -> None:
    customer_orders_scrub(customer_id=payload["customer_id"], actor=customer_erasing_actor())


def _authorize_many(order_ids: list[Any]) -> None:
    tasks.payment_authorize_orders.delay(order_ids=list(order_ids))


def _order_created(topic: str, payload: dict[str, Any]) -> None:
    # deferred to the marking round: one task for the orders placed meanwhile, no send per order
    events.defer_to_mark(_authorize_many, payload["order_id"])


def _units_handed_over(topic: str, payload: dict[str, Any]) -> None:
    tasks.payment_capture.delay(
        order_id=payload["order_id"],
        fulfillment_order_id=payload["fulfillment_order_id"],
        lines=payload.get("lines") or {},
    )


def _order_closed(topic: str, payload: dict[str, Any]) -> None:
    tasks.payment_void.delay(order_id=payload["order_id"])


def _order_changed(topic: str, payload: dict[str, Any]) -> None:
    tasks.payment_adjust.delay(order_id=payload["order_id"], revision=payload["revision"])


def _payment_pending(topic: str, payload: dict[str, Any]) -> None:
    tasks.payment_send.delay(transaction_id=payload["transaction_id"])


def connect() -> None:
    events.subscribe_in_transaction("customer.erased", _customer_erased)
    events.subscribe("order.created", _order_created)
    for topic in ("fulfillment.shipped", "fulfillment.picked_up"):
        events.subscribe(topic, _units_handed_over)
    for topic in ("order.cancelled", "order.partially_cancelled", "order.completed"):
        events.subscribe(topic, _order_closed)
    events.subscribe("order.changed", _order_changed)
    events.subscribe("payment.pending", _payment_pending)
