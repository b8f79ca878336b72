"""The lifecycle of one fulfilment order: accept, pick, pack, ship, reject, and its closing when
the order is cancelled."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import (
    OPEN_STATUSES,
    FulfillmentOrder,
    RoutingExclusion,
)
from fulfillment.selectors import fulfillment_order_get_for_actor
from inventory.capacity import location_load_change
from inventory.choices import MovementKind
from inventory.services import StockLine, stock_consume
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from orders.choices import OrderEventKind, ReservationStatus
from orders.events import order_event_record
from orders.models import Order, OrderLine, Reservation
from orders.services import (
    reservations_release,
)

from .status import order_status_sync_now


def _lock(*, fulfillment_order_id: int, actor: Actor) -> tuple[Order, FulfillmentOrder]:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied("Only store staff and managers work on fulfilment orders.")
    visible = fulfillment_order_get_for_actor(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if not actor.may_act_at(visible.location_id):
        raise PermissionDenied("You may act only at your own locations.")
    order = Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=visible.order_id)
    fo = (
        FulfillmentOrder.objects.select_for_update(of=("self",))
        .select_related("location")
        .get(pk=fulfillment_order_id)
    )
    return order, fo


def _fo_reservations(fo: FulfillmentOrder) -> list[Reservation]:
    return list(
        Reservation.objects.filter(
            fulfillment_line__fulfillment_order=fo, status=ReservationStatus.ACTIVE
        ).order_by("pk")
    )


def _step(
    *,
    fulfillment_order_id: int,
    actor: Actor,
    target: str,
    kind: str,
    message: str,
    fields: dict[str, Any] | None = None,
    topic: str | None = None,
) -> FulfillmentOrder:
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == target:
        return fo  # a repeated click or task: nothing more to do
    fo.require_transition(target)
    fo.status = target
    for name, value in (fields or {}).items():
        setattr(fo, name, value)
    fo.save()
    order_event_record(
        order=order,
        kind=kind,
        actor=actor,
        message=f"{fo.number} at {fo.location.code}: {message}",
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            **{k: str(v) for k, v in (fields or {}).items()},
        },
    )
    order_status_sync_now(order=order, actor=actor)
    if topic:
        events.publish(
            topic=topic,
            payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
        )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_accept(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.ACCEPTED,
        kind=OrderEventKind.FULFILLMENT_ACCEPTED,
        message="accepted",
        fields={"accepted_at": timezone.now()},
        topic="fulfillment.accepted",
    )


@transaction.atomic(durable=True)
def fulfillment_order_pick(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.PICKED,
        kind=OrderEventKind.FULFILLMENT_PICKED,
        message="picked",
    )


@transaction.atomic(durable=True)
def fulfillment_order_pack(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.PACKED,
        kind=OrderEventKind.FULFILLMENT_PACKED,
        message="packed",
    )


def _consume(*, order: Order, fo: FulfillmentOrder, actor: Actor, kind: str, reason: str) -> int:
    """Units leave the building: on_hand and reserved drop, reservations are consumed, lines count
    the units as fulfilled."""
    reservations = _fo_reservations(fo)
    if not reservations:
        return 0
    stock_consume(
        lines=[
            StockLine(
                stock_level_id=r.stock_level_id,
                product_id=r.product_id,
                location_id=r.location_id,
                quantity=r.quantity,
            )
            for r in reservations
        ],
        actor=actor,
        reference=f"order:{order.number}",
        reason=reason,
        kind=kind,
    )
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        status=ReservationStatus.CONSUMED, updated_at=timezone.now()
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in reservations:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_fulfilled=F("quantity_fulfilled") + quantity)
    return sum(per_line.values())


@transaction.atomic(durable=True)
def fulfillment_order_ship(
    *, fulfillment_order_id: int, carrier: str, tracking_number: str, actor: Actor
) -> FulfillmentOrder:
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Shipping needs a carrier and a tracking number.", code="tracking_required")
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.SHIPPED:
        return fo
    fo.require_transition(FulfillmentStatus.SHIPPED)
    units = _consume(
        order=order, fo=fo, actor=actor, kind=MovementKind.SHIPMENT, reason=f"shipped {fo.number}"
    )
    fo.status = FulfillmentStatus.SHIPPED
    fo.carrier, fo.tracking_number = carrier[:64], tracking_number[:128]
    fo.completed_at = timezone.now()
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.SHIPPED,
        actor=actor,
        message=f"{fo.number} shipped from {fo.location.code} with {carrier} ({tracking_number})",
        data={
            "fulfillment_order": fo.pk,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "units": units,
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.shipped",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


def _close(
    *, order: Order, fo: FulfillmentOrder, status: str, actor: Actor, reason: str
) -> list[Reservation]:
    """Close an open fulfilment order: release its units and give back its capacity."""
    reservations = _fo_reservations(fo)
    reservations_release(
        order=order, reservations=reservations, actor=actor, reason=f"{status}: {reason}"[:300]
    )
    fo.status = status
    fo.closed_at = timezone.now()
    if status == FulfillmentStatus.REJECTED:
        fo.reject_reason = reason[:300]
    fo.save()
    location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
    return reservations


@transaction.atomic(durable=True)
def fulfillment_order_reject(*, fulfillment_order_id: int, reason: str, actor: Actor) -> FulfillmentOrder:
    """The location cannot do it: its units are released, the location is excluded for this order,
    and the units wait (backordered) until the router sources them elsewhere, at once on commit."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the fulfilment order is rejected ('reason').", code="reason_required")
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.REJECTED:
        return fo
    fo.require_transition(FulfillmentStatus.REJECTED)
    released = _close(order=order, fo=fo, status=FulfillmentStatus.REJECTED, actor=actor, reason=reason)
    RoutingExclusion.objects.get_or_create(
        order=order, location=fo.location, defaults={"reason": reason[:300]}
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in released:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_backordered=F("quantity_backordered") + quantity)
    order_event_record(
        order=order,
        kind=OrderEventKind.FULFILLMENT_REJECTED,
        actor=actor,
        message=f"{fo.number} rejected by {fo.location.code}: {reason}"[:500],
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "reason": reason,
            "units": sum(per_line.values()),
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.rejected",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


def fulfillment_orders_cancel_for_order(topic: str, payload: dict[str, Any]) -> None:
    """In the order-cancel transaction (the order row is locked): close its open fulfilment orders.
    The order service releases the reservations itself."""
    now = timezone.now()
    for fo in FulfillmentOrder.objects.select_for_update(of=("self",)).filter(
        order_id=payload["order_id"], status__in=OPEN_STATUSES
    ):
        fo.status = FulfillmentStatus.CANCELLED
        fo.closed_at = now
        fo.save(update_fields=["status", "closed_at", "updated_at"])
        location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
