"""Holds: reasons an order may not be routed yet (fraud review, payment, address, manual), placed
and released by managers."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput
from orders.choices import HoldReason, OrderEventKind, OrderStatus
from orders.errors import NoActiveHold
from orders.events import order_event_record
from orders.models import ORDER_HOLDABLE, Order, OrderHold

from .locks import order_lock


@transaction.atomic(durable=True)
def order_hold_place(*, order_id: int, reason: str, note: str = "", actor: Actor) -> OrderHold:
    """Stop an order from being routed (fraud review, payment, address, manual). Its units stay held."""
    if reason not in HoldReason.values:
        raise InvalidInput(
            f"Unknown hold reason '{reason}'.",
            code="unknown_hold_reason",
            extra={"allowed": list(HoldReason.values)},
        )
    order = order_lock(order_id=order_id, actor=actor)
    return order_hold_place_in_transaction(order=order, reason=reason, note=note, actor=actor)


def order_hold_place_in_transaction(
    *, order: Order, reason: str, note: str, actor: Actor, strict: bool = True
) -> OrderHold:
    """``order_hold_place`` on an order the caller's transaction locked.

    ``strict=False`` (a payment that failed while units ship): an order past routing keeps its
    status and carries the hold all the same, instead of a 409."""
    if order.status != OrderStatus.ON_HOLD:
        if order.status in ORDER_HOLDABLE:
            order.status_before_hold = order.status
            order.status = OrderStatus.ON_HOLD
            order.save(update_fields=["status", "status_before_hold", "updated_at"])
        elif strict:
            order.require_transition(OrderStatus.ON_HOLD)  # raises InvalidTransition (409)
    hold = OrderHold.objects.create(order=order, reason=reason, note=note[:500], placed_by=actor.name[:200])
    order_event_record(
        order=order,
        kind=OrderEventKind.HOLD_PLACED,
        actor=actor,
        message=f"Hold: {reason}" + (f" ({note})" if note else ""),
        data={"hold": hold.pk, "reason": reason, "note": note},
    )
    events.publish(topic="order.held", payload={"order_id": order.pk, "reason": reason})
    return hold


@transaction.atomic(durable=True)
def order_hold_release(*, order_id: int, actor: Actor, hold_id: int | None = None) -> Order:
    """Release one hold (or every active hold); when none is left the order goes back to where it
    was and routing resumes."""
    order = order_lock(order_id=order_id, actor=actor)
    active = order.holds.filter(released_at__isnull=True)
    if hold_id is not None:
        active = active.filter(pk=hold_id)
    holds = list(active)
    if not holds:
        raise NoActiveHold(extra={"hold": hold_id} if hold_id is not None else {})
    now = timezone.now()
    for hold in holds:
        hold.released_at, hold.released_by = now, actor.name[:200]
    OrderHold.objects.bulk_update(holds, ["released_at", "released_by"])
    if order.status == OrderStatus.ON_HOLD and not order.holds.filter(released_at__isnull=True).exists():
        order.status = order.status_before_hold or OrderStatus.RECEIVED
        order.status_before_hold = ""
        order.save(update_fields=["status", "status_before_hold", "updated_at"])
        events.publish(topic="order.hold_released", payload={"order_id": order.pk})
    order_event_record(
        order=order,
        kind=OrderEventKind.HOLD_RELEASED,
        actor=actor,
        message="Hold released: " + ", ".join(h.reason for h in holds),
        data={"holds": [h.pk for h in holds], "status": order.status},
    )
    return order
