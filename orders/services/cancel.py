"""Cancelling a whole order: its held units go back on sale, its backorders are dropped and higher
apps close their work for it (``order.cancelling``), all in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import PermissionDenied
from orders.choices import OrderEventKind, OrderStatus, ReservationStatus
from orders.errors import OrderNotCancellable
from orders.events import order_event_record
from orders.models import Order, OrderLine

from .locks import order_lock
from .reservations import reservations_release


@transaction.atomic(durable=True)
def order_cancel(*, order_id: int, reason: str, actor: Actor) -> Order:
    """Cancel the whole order: release every held unit, drop backorders, cancel its fulfilment
    orders. Refused (409) once any unit was shipped or collected. Cancelling twice is a no-op."""
    return order_cancel_in_transaction(order_id=order_id, reason=reason, actor=actor)


def order_cancel_in_transaction(*, order_id: int, reason: str, actor: Actor) -> Order:
    """``order_cancel`` inside the caller's transaction (a cancelled return cancels its exchange)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_cancel_in_transaction must run inside the caller's transaction")
    order = order_lock(order_id=order_id, actor=actor)
    owner = actor.is_channel and actor.channel_id == order.channel_id
    if not (actor.is_manager or actor.is_system or owner):
        raise PermissionDenied("Only the order's channel or a manager may cancel it.")
    if order.status == OrderStatus.CANCELLED:
        return order
    lines = list(order.lines.all())
    if order.status == OrderStatus.COMPLETED or any(line.quantity_fulfilled for line in lines):
        raise OrderNotCancellable(
            f"Order {order.number} has shipped or collected units; return them instead.",
            extra={"status": order.status},
        )
    order.require_transition(OrderStatus.CANCELLED)
    # Higher apps (fulfilment) cancel their work for the order in this same transaction.
    events.publish(topic="order.cancelling", payload={"order_id": order.pk, "reason": reason})
    reservations = list(order.reservations.filter(status=ReservationStatus.ACTIVE).order_by("pk"))
    reservations_release(
        order=order, reservations=reservations, actor=actor, reason=f"order cancelled: {reason}"[:300]
    )
    # a cancelled order keeps no hold: nothing is left to release later
    order.holds.filter(released_at__isnull=True).update(
        released_at=timezone.now(), released_by=f"{actor.name} (order cancelled)"[:200]
    )
    _lines_cancel(lines)
    previous = order.status
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEventKind.CANCELLED,
        actor=actor,
        message=f"Cancelled: {reason}"[:500],
        data={"reason": reason, "from": previous, "released_units": sum(r.quantity for r in reservations)},
    )
    # "reason" tells a cancellation from the status rule's milestone of the same topic (every unit of
    # an expired pickup gone, which has its own e-mail): the customer's cancellation e-mail needs it.
    events.publish(
        topic="order.cancelled", payload={"order_id": order.pk, "number": order.number, "reason": reason}
    )
    return order


def _lines_cancel(lines: list[OrderLine]) -> None:
    """Every unit not fulfilled is cancelled, none waits for stock any more (one UPDATE)."""
    for line in lines:
        line.quantity_cancelled = line.quantity - line.quantity_fulfilled
        line.quantity_backordered = 0
    OrderLine.objects.bulk_update(lines, ["quantity_cancelled", "quantity_backordered"])
