"""Pickups: ready at the counter, handed over, and expired when not collected in time (each a
step through ``steps.step_take``); the pickups due to expire."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder
from oms.actors import Actor

from .common import ROUTER
from .steps import step_take


@transaction.atomic(durable=True)
def fulfillment_order_ready_for_pickup(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The units are ready at the counter: the customer is told and the hold clock starts, once.

    Making it ready again is a no-op."""
    fo, _ = step_take(
        FulfillmentStatus.READY_FOR_PICKUP, fulfillment_order_id=fulfillment_order_id, actor=actor
    )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_picked_up(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The customer collected the units: they are consumed and counted as fulfilled, once.

    Handing over again is a no-op."""
    fo, _ = step_take(FulfillmentStatus.PICKED_UP, fulfillment_order_id=fulfillment_order_id, actor=actor)
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_expire(
    *, fulfillment_order_id: int, actor: Actor = ROUTER, now: datetime | None = None
) -> bool:
    """Expire a pickup only once past its deadline; returns whether it expired now.

    Not collected by its deadline: units go back on sale, the lines are cancelled for those units,
    the customer is told. False if collected meanwhile, not due yet, or expired already."""
    deadline = now or timezone.now()

    def due(fo: FulfillmentOrder) -> bool:
        return (
            fo.status == FulfillmentStatus.READY_FOR_PICKUP
            and fo.pickup_expires_at is not None
            and fo.pickup_expires_at <= deadline
        )

    _, expired = step_take(
        FulfillmentStatus.EXPIRED, fulfillment_order_id=fulfillment_order_id, actor=actor, due=due
    )
    return expired


def pickups_due_to_expire(*, now: datetime | None = None) -> list[int]:
    """The pickups past their deadline at ``now`` (default: now), oldest deadline first."""
    return list(
        FulfillmentOrder.objects.filter(
            status=FulfillmentStatus.READY_FOR_PICKUP, pickup_expires_at__lte=now or timezone.now()
        )
        .order_by("pickup_expires_at", "pk")
        .values_list("pk", flat=True)
    )
