"""How fulfilment reacts to other apps' events (imports stay one way: orders and inventory publish,
fulfilment listens). After-commit handlers only enqueue tasks; the in-transaction one closes
fulfilment orders with the order that is being cancelled. An order change asks fulfilment through
its hooks (the work state of each reservation, and the adjustment in the change's transaction)."""

from __future__ import annotations

from functools import partial
from typing import Any

from oms import events
from orders.selectors import order_section_register
from orders.services import change_apply_register, change_work_register

from . import customer_pickups  # noqa: F401 - registers the customer page's "Waiting at your store"
from .api.serializers import FulfillmentOrderSummary
from .selectors import fulfillment_orders_for_orders
from .services import (
    RESERVATION_WORK,
    fulfillment_orders_apply_change,
    fulfillment_orders_cancel_for_order,
)
from .services.ship_to_store import order_lock_for_transfer, pickup_fill_from_transfer
from .tasks import allocate_backorders, route_soon


def _route(topic: str, payload: dict[str, Any]) -> None:
    route_soon([payload["order_id"]])


def _stock_arrived(topic: str, payload: dict[str, Any]) -> None:
    product_ids = payload.get("product_ids") or []
    if product_ids:
        allocate_backorders.delay(sorted(product_ids))


def connect() -> None:
    for topic in ("order.created", "order.changed", "order.hold_released", "fulfillment.rejected"):
        events.subscribe(topic, _route)
    events.subscribe("stock.changed", _stock_arrived)
    events.subscribe_in_transaction("order.cancelling", fulfillment_orders_cancel_for_order)
    change_apply_register(fulfillment_orders_apply_change)
    events.subscribe_in_transaction("transfer.receiving", order_lock_for_transfer)
    events.subscribe_in_transaction("transfer.received", pickup_fill_from_transfer)
    change_work_register(RESERVATION_WORK)
    order_section_register(
        "fulfillment_orders",
        fulfillment_orders_for_orders,
        default=[],
        output=partial(FulfillmentOrderSummary, many=True),
    )
