"""Fulfilment's part of an order change (``orders.services.order_change``): which of the order's held
units its locations have not accepted yet (the change may take those back) or work on (it may not),
and, in the change's transaction, the fulfilment orders adjusted to the units they keep (a line
made smaller, or gone; a fulfilment order left with nothing is cancelled and gives its capacity
back) and the order's status set by the order status rule."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import OPEN_STATUSES, FulfillmentOrder, FulfillmentOrderLine
from inventory.capacity import location_load_change
from oms.actors import Actor
from oms.batch import WriteBatch
from orders.choices import OrderEventKind
from orders.errors import FulfillmentInProgress
from orders.events import order_event_build
from orders.models import Order
from orders.services import QUEUED, STARTED, ChangeApplied, WorkStateColumn

from .status import order_status_sync


def _work_state(status: str | None) -> str | None:
    """QUEUED while the reservation's fulfilment order is pending, STARTED once its location
    accepted it; None for a reservation not routed."""
    if status is None:
        return None
    return QUEUED if status == FulfillmentStatus.PENDING else STARTED


# The work state of a reservation as a column of the change's read of them (no statement of its own).
RESERVATION_WORK = WorkStateColumn(
    expression=F("fulfillment_line__fulfillment_order__status"), state_of=_work_state
)


def fulfillment_orders_apply_change(change: ChangeApplied) -> None:
    """In the change's transaction (the order is locked), once its rows are decided: the fulfilment
    lines of the reservations the change made smaller (``reservations``: id -> units kept, 0 for
    none) follow them, a fulfilment order left empty is cancelled, and the order's status is set
    from the lines the change holds (its writes in the change's batch). A fulfilment order
    accepted meanwhile refuses the change (409), unless its location confirmed the change
    (``confirmed_location_ids``: a change request it answered)."""
    order, batch = change.order, change.batch
    actor = Actor.system(change.actor.name or "order change")
    if change.reservations:
        _adjust(
            order=order,
            kept=change.reservations,
            batch=batch,
            actor=actor,
            confirmed=change.confirmed_location_ids,
        )
    order_status_sync(
        order=order, actor=actor, batch=batch, lines=list(change.lines), has_unrouted=change.has_unrouted
    )


def _adjust(
    *, order: Order, kept: dict[int, int], batch: WriteBatch, actor: Actor, confirmed: frozenset[int]
) -> None:
    lines = list(
        FulfillmentOrderLine.objects.select_related("fulfillment_order").filter(reservation_id__in=list(kept))
    )
    fos = {line.fulfillment_order_id: line.fulfillment_order for line in lines}
    locked = {
        fo.pk: fo
        for fo in FulfillmentOrder.objects.select_for_update(of=("self",))
        .filter(pk__in=list(fos))
        .order_by("pk")
    }
    # a location that confirmed the change lets its accepted work be changed
    busy = sorted(
        fo.number
        for fo in locked.values()
        if fo.status != FulfillmentStatus.PENDING and fo.location_id not in confirmed
    )
    if busy:
        raise FulfillmentInProgress(
            f"{', '.join(busy)} accepted meanwhile; the change cannot be applied.",
            extra={"fulfillment_orders": busy},
        )
    gone = [line.pk for line in lines if kept[line.reservation_id] == 0]
    smaller = [line for line in lines if kept[line.reservation_id] > 0]
    for line in smaller:
        line.quantity = kept[line.reservation_id]
    if gone:
        FulfillmentOrderLine.objects.filter(pk__in=gone).delete()
    if smaller:
        FulfillmentOrderLine.objects.bulk_update(smaller, ["quantity"])
    left = set(
        FulfillmentOrderLine.objects.filter(fulfillment_order_id__in=list(locked)).values_list(
            "fulfillment_order_id", flat=True
        )
    )
    now = timezone.now()
    for fo in locked.values():
        if fo.pk in left or fo.status not in OPEN_STATUSES:
            continue
        fo.status, fo.closed_at = FulfillmentStatus.CANCELLED, now
        fo.save(update_fields=["status", "closed_at", "updated_at"])
        location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
        batch.add(
            order_event_build(
                order=order,
                kind=OrderEventKind.NOTE,
                actor=actor,
                message=f"{fo.number} cancelled: the order change left it no units.",
                data={"fulfillment_order": fo.number, "location": fo.location_id},
            )
        )
