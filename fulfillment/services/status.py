"""The order's status as its fulfilment progresses: fulfilment reads what the order status rule
(``orders.services.order_status_derive``) asks and sets the status in a write batch."""

from __future__ import annotations

from collections.abc import Sequence

from fulfillment.models import DONE_STATUSES, WORKING_STATUSES, FulfillmentOrder
from oms.actors import Actor
from oms.batch import WriteBatch
from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from orders.services import order_has_unrouted, order_status_derive, order_status_set

# A location has started (or finished) its work on the order.
STARTED = frozenset({*WORKING_STATUSES, *DONE_STATUSES})


def order_status_sync(
    *,
    order: Order,
    actor: Actor,
    batch: WriteBatch,
    lines: Sequence[OrderLine] | None = None,
    has_unrouted: bool | None = None,
    fulfillment_orders: Sequence[FulfillmentOrder] | None = None,
    stepped: FulfillmentOrder | None = None,
) -> str:
    """Set the locked order's status in ``batch`` by the order status rule; returns the status.

    The rule (``orders``) reads the order's lines and fulfilment orders.

    ``lines`` (all of the order's, as they are now), ``has_unrouted`` and ``fulfillment_orders``
    are for a caller that holds them already (routing): left out, they are read, and only when the
    rule asks. ``stepped``: a fulfilment order of the order whose new status is in ``batch``, not
    yet in the database (a lifecycle step): its status is taken from it, the others' are read."""
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).order_by("line_number"))

    def unrouted() -> bool:
        return order_has_unrouted(order_id=order.pk) if has_unrouted is None else has_unrouted

    def has_started() -> bool:
        if fulfillment_orders is not None:
            return any(fo.status in STARTED for fo in fulfillment_orders)
        if stepped is not None and stepped.status in STARTED:
            return True
        started = FulfillmentOrder.objects.filter(order=order, status__in=STARTED)
        return (started if stepped is None else started.exclude(pk=stepped.pk)).exists()

    target = order_status_derive(lines=lines, has_unrouted=unrouted, has_started=has_started)
    if order.status == OrderStatus.CANCELLED:
        return order.status
    order_status_set(order=order, status=target, actor=actor, batch=batch)
    return target
