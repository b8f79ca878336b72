"""The order status rule: the status an order's lines call for, and moving a locked order to it
(its timeline event and milestone announcement go into the caller's write batch). Fulfillment asks
the rule as work progresses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils import timezone

from oms.actors import Actor
from oms.batch import WriteBatch
from orders.choices import OrderEventKind, OrderStatus, ReservationStatus
from orders.events import order_event_build
from orders.models import Order, OrderLine, Reservation

# The outbox event announced when an order reaches the status (a milestone).
_MILESTONES: dict[str, str] = {
    OrderStatus.ALLOCATED: "order.allocated",
    OrderStatus.BACKORDERED: "order.backordered",
    OrderStatus.COMPLETED: "order.completed",
    OrderStatus.PARTIALLY_CANCELLED: "order.partially_cancelled",
    OrderStatus.CANCELLED: "order.cancelled",
}


def order_status_derive(
    *, lines: Sequence[OrderLine], has_unrouted: Callable[[], bool], has_started: Callable[[], bool]
) -> str:
    """The status an order's lines call for (the order status rule).

    ``lines`` are all of the order's, as they are now. The rule asks two questions only when it
    needs their answers: ``has_unrouted`` (are some held units not routed to a location yet?) and
    ``has_started`` (has a location started or finished work on the order?). Nothing open: the
    order is completed, partially cancelled or cancelled; units waiting for stock: backordered;
    units held but not routed: received; work started or units fulfilled: in fulfilment;
    otherwise allocated."""
    open_units = sum(line.quantity_open for line in lines)
    if open_units == 0:
        fulfilled = sum(line.quantity_fulfilled for line in lines)
        cancelled = sum(line.quantity_cancelled for line in lines)
        if fulfilled == 0:
            return OrderStatus.CANCELLED
        return OrderStatus.PARTIALLY_CANCELLED if cancelled else OrderStatus.COMPLETED
    if any(line.quantity_backordered for line in lines):
        return OrderStatus.BACKORDERED
    if has_unrouted():
        return OrderStatus.RECEIVED
    if has_started() or any(line.quantity_fulfilled for line in lines):
        return OrderStatus.IN_FULFILLMENT
    return OrderStatus.ALLOCATED


def order_has_unrouted(*, order_id: int) -> bool:
    """Whether some of the order's held units are not routed to a location yet."""
    return Reservation.objects.filter(
        order_id=order_id, status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
    ).exists()


def order_status_set(
    *, order: Order, status: str, actor: Actor, batch: WriteBatch, message: str = ""
) -> bool:
    """Move a locked order to ``status`` in ``batch``, or keep an on-hold order on hold remembering
    ``status`` for later; returns whether the status changed.

    The batch gets the order's fields, the ``status_changed`` timeline event and the milestone's
    outbox event."""
    if order.status == OrderStatus.ON_HOLD and status != OrderStatus.CANCELLED:
        if order.status_before_hold != status:
            order.status_before_hold = status
            batch.change(order, ["status_before_hold", "updated_at"])
        return False
    if order.status == status:
        return False
    order.require_transition(status)
    previous = order.status
    order.status = status
    fields = ["status", "updated_at"]
    now = timezone.now()
    if status == OrderStatus.ALLOCATED and order.allocated_at is None:
        order.allocated_at = now
        fields.append("allocated_at")
    if status == OrderStatus.COMPLETED:
        order.completed_at = now
        fields.append("completed_at")
    batch.change(order, fields)
    batch.add(
        order_event_build(
            order=order,
            kind=OrderEventKind.STATUS_CHANGED,
            actor=actor,
            message=message or f"{previous} → {status}",
            data={"from": previous, "to": status},
        )
    )
    topic = _MILESTONES.get(status)
    if topic:
        batch.publish(topic, _milestone_payload(order))
    return True


def _milestone_payload(order: Order) -> dict[str, object]:
    """A milestone's event: the order, and for its completion what the kernel's loyalty earns on
    (in the same transaction): the customer, the channel and the total."""
    payload: dict[str, object] = {"order_id": order.pk, "number": order.number}
    if order.status == OrderStatus.COMPLETED:
        payload.update(
            customer_id=order.customer_id,
            channel_id=order.channel_id,
            total=str(order.total),
            currency=order.currency,
        )
    return payload
