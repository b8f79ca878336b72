"""Pickups: ready at the counter, handed over, and expired when not collected in time (each a
step through ``steps.step_take``, the hand-over checking the pickup code); the pickups due
to expire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder
from oms.actors import Actor
from oms.errors import DomainError

from .common import ROUTER
from .pickup_codes import PICKUP_CODE_ERRORS, pickup_code_check
from .steps import step_take


@transaction.atomic(durable=True)
def fulfillment_order_ready_for_pickup(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The units are ready at the counter: the customer is told and the hold clock starts, once.

    Making it ready again is a no-op."""
    fo, _ = step_take(
        FulfillmentStatus.READY_FOR_PICKUP, fulfillment_order_id=fulfillment_order_id, actor=actor
    )
    return fo


def fulfillment_order_picked_up(
    *,
    fulfillment_order_id: int,
    actor: Actor,
    pickup_code: str | None = None,
    code_required: bool = False,
) -> FulfillmentOrder:
    """The customer collected the units: they are consumed and counted as fulfilled, once.

    A ``pickup_code`` given is checked (``pickup_codes.pickup_code_check``); without one the
    hand-over goes on unless ``code_required`` (the admin) or the code is locked. A refused code's
    attempt and timeline row are committed, then the refusal is raised. Handing over again is a
    no-op."""
    handed_over = _hand_over(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        guard=partial(pickup_code_check, code=pickup_code, required=code_required),
    )
    if isinstance(handed_over, DomainError):
        raise handed_over
    return handed_over


@transaction.atomic(durable=True)
def _hand_over(
    *, fulfillment_order_id: int, actor: Actor, guard: Callable[..., None]
) -> FulfillmentOrder | DomainError:
    """The hand-over in its transaction: the fulfilment order, or the refusal of its code (whose
    attempt and timeline rows this transaction commits)."""
    try:
        fo, _ = step_take(
            FulfillmentStatus.PICKED_UP, fulfillment_order_id=fulfillment_order_id, actor=actor, guard=guard
        )
    except PICKUP_CODE_ERRORS as refusal:
        return refusal
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
