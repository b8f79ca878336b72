"""The order's status as its fulfilment progresses: fulfilment reads what the order status rule
(``orders.services.order_status_derive``) asks and sets the status in a write batch."""

from __future__ import annotations

from collections.abc import Sequence

from fulfillment.models import (
    DONE_STATUSES,
    WORKING_STATUSES,
    FulfillmentOrder,
)
from oms.actors import Actor
from oms.batch import WriteBatch
from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from orders.services import (
    order_has_unrouted,
    order_status_derive,
    order_status_set,
)


def order_status_sync(
    *,
    order: Order,
    actor: Actor,
    batch: WriteBatch,
    lines: Sequence[OrderLine] | None = None,
    has_unrouted: bool | None = None,
    fulfillment_orders: Sequence[FulfillmentOrder] | None = None,
) -> str:
    """Set the (locked) order's status in ``batch`` by the order status rule (``orders``), from its
    lines and fulfilment orders; returns the status.

    ``lines`` (all of the order's, as they are now), ``has_unrouted`` and ``fulfillment_orders``
    are for a caller that holds them already (routing): left out, they are read, and only when the
    rule asks."""
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).order_by("line_number"))
    started = {*WORKING_STATUSES, *DONE_STATUSES}

    def unrouted() -> bool:
        return order_has_unrouted(order_id=order.pk) if has_unrouted is None else has_unrouted

    def has_started() -> bool:
        if fulfillment_orders is None:
            return FulfillmentOrder.objects.filter(order=order, status__in=started).exists()
        return any(fo.status in started for fo in fulfillment_orders)

    target = order_status_derive(lines=lines, has_unrouted=unrouted, has_started=has_started)
    if order.status == OrderStatus.CANCELLED:
        return order.status
    order_status_set(order=order, status=target, actor=actor, batch=batch)
    return target


def order_status_sync_now(*, order: Order, actor: Actor) -> str:
    """``order_status_sync`` for one step of a fulfilment order, written at once."""
    batch = WriteBatch.for_connection()
    status = order_status_sync(order=order, actor=actor, batch=batch)
    batch.write()
    return status
