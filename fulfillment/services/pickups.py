"""Pickups: ready at the counter, handed over, and expired when not collected in time."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import (
    FulfillmentOrder,
)
from inventory.choices import MovementKind
from oms import events
from oms.actors import Actor
from orders.choices import OrderEventKind
from orders.events import order_event_record
from orders.models import OrderLine

from .common import ROUTER
from .lifecycle import _close, _consume, _lock
from .status import order_status_sync_now


def pickup_hold_until(fo: FulfillmentOrder, now: datetime) -> datetime:
    days = fo.location.pickup_hold_days
    return now + timedelta(days=days if days is not None else settings.OMS_PICKUP_HOLD_DAYS)


@transaction.atomic(durable=True)
def fulfillment_order_ready_for_pickup(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The store has the units ready at the counter; the customer is told and the hold clock starts."""
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.READY_FOR_PICKUP:
        return fo
    fo.require_transition(FulfillmentStatus.READY_FOR_PICKUP)
    now = timezone.now()
    fo.status = FulfillmentStatus.READY_FOR_PICKUP
    fo.ready_at = now
    fo.pickup_expires_at = pickup_hold_until(fo, now)
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.READY_FOR_PICKUP,
        actor=actor,
        message=(
            f"{fo.number} ready for pickup at {fo.location.code} "
            f"until {fo.pickup_expires_at:%Y-%m-%d %H:%M} UTC"
        ),
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "expires_at": fo.pickup_expires_at.isoformat(),
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.ready_for_pickup",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_picked_up(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.PICKED_UP:
        return fo
    fo.require_transition(FulfillmentStatus.PICKED_UP)
    units = _consume(
        order=order, fo=fo, actor=actor, kind=MovementKind.SHIPMENT, reason=f"handed over {fo.number}"
    )
    fo.status = FulfillmentStatus.PICKED_UP
    fo.completed_at = timezone.now()
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.PICKED_UP,
        actor=actor,
        message=f"{fo.number} handed over at {fo.location.code}",
        data={"fulfillment_order": fo.pk, "units": units},
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.picked_up",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_expire(
    *, fulfillment_order_id: int, actor: Actor = ROUTER, now: datetime | None = None
) -> bool:
    """A pickup not collected by its deadline: units go back on sale, the lines are cancelled for
    those units, the customer is told. Returns whether it expired (False if collected meanwhile)."""
    now = now or timezone.now()
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if (
        fo.status != FulfillmentStatus.READY_FOR_PICKUP
        or fo.pickup_expires_at is None
        or fo.pickup_expires_at > now
    ):
        return False
    released = _close(
        order=order, fo=fo, status=FulfillmentStatus.EXPIRED, actor=actor, reason="not collected"
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in released:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_cancelled=F("quantity_cancelled") + quantity)
    order_event_record(
        order=order,
        kind=OrderEventKind.PICKUP_EXPIRED,
        actor=actor,
        message=(
            f"{fo.number} was not collected at {fo.location.code} in time; "
            f"{sum(per_line.values())} unit(s) back on sale"
        ),
        data={"fulfillment_order": fo.pk, "lines": {str(k): v for k, v in per_line.items()}},
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.pickup_expired",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return True


def pickups_due_to_expire(*, now: datetime | None = None) -> list[int]:
    return list(
        FulfillmentOrder.objects.filter(
            status=FulfillmentStatus.READY_FOR_PICKUP, pickup_expires_at__lte=now or timezone.now()
        )
        .order_by("pickup_expires_at", "pk")
        .values_list("pk", flat=True)
    )
