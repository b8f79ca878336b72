"""Pickup codes: a six-digit code issued when a pickup becomes ready (sent in the ready-for-pickup
e-mail), checked at hand-over, locked after ``OMS_PICKUP_CODE_MAX_ATTEMPTS`` wrong codes, and
re-issued by a manager.

The code is stored as it is, not hashed: a million possible codes make any unkeyed hash
reversible in milliseconds, the ready e-mail is rendered after COMMIT from the database (so the
code must be readable there, or travel in the outbox row just the same), and what protects it
is the attempt limit and that only the store's staff may try codes. It is never shown in the
admin, the API or the timeline; the customer brings it."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.errors import PickupCodeLocked, PickupCodeMismatch, PickupCodeRequired
from fulfillment.models import FulfillmentOrder
from oms.actors import Actor
from oms.errors import Conflict, PermissionDenied
from oms.events import publish
from orders.choices import OrderEventKind
from orders.events import order_event_record
from orders.models import Order

from .locks import fulfillment_order_lock

CODE_DIGITS = 6
PICKUP_CODE_ERRORS = (PickupCodeRequired, PickupCodeMismatch, PickupCodeLocked)


def pickup_code_new() -> str:
    """A fresh code: six random digits (``secrets``, not ``random``)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def pickup_code_fields() -> dict[str, object]:
    """The fields a pickup gets when its code is issued: a new code, no wrong attempts, unlocked."""
    return {"pickup_code": pickup_code_new(), "pickup_code_attempts": 0, "pickup_code_locked_at": None}


def _normalised(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "")


def pickup_code_check(
    order: Order, fo: FulfillmentOrder, actor: Actor, *, code: str | None, required: bool
) -> None:
    """Refuse a hand-over without the right code (the caller holds the order's and the pickup's
    locks). A wrong code counts an attempt and writes a timeline row before it is refused, so the
    caller must commit them (``PICKUP_CODE_ERRORS`` are refusals, not failures): PickupCodeMismatch
    with the attempts left, then PickupCodeLocked once the limit is reached, and for every later
    hand-over until a manager re-issues the code. No code: PickupCodeRequired if ``required``,
    else the hand-over goes on (API v1). A pickup made ready before codes existed has none to check."""
    if fo.status != FulfillmentStatus.READY_FOR_PICKUP:
        return  # the step decides: a no-op or an illegal move
    if fo.pickup_code_locked_at is not None:
        raise PickupCodeLocked(extra={"fulfillment_order": fo.pk})
    given = _normalised(code)
    if not given:
        if required:
            raise PickupCodeRequired(extra={"fulfillment_order": fo.pk})
        return
    if not fo.pickup_code or hmac.compare_digest(given.encode(), fo.pickup_code.encode()):
        return
    _refuse(order, fo, actor)


def _note(order: Order, fo: FulfillmentOrder, actor: Actor, kind: str, what: str) -> dict[str, Any]:
    """A timeline row about the pickup's code: "<number> at <location>: <what>"; answers its data."""
    data = {"fulfillment_order": fo.pk, "location": fo.location.code, "attempts": fo.pickup_code_attempts}
    order_event_record(
        order=order, kind=kind, actor=actor, message=f"{fo.number} at {fo.location.code}: {what}", data=data
    )
    return data


def _refuse(order: Order, fo: FulfillmentOrder, actor: Actor) -> None:
    """Count a wrong code (and lock the code at the limit), write it on the timeline, refuse."""
    limit = settings.OMS_PICKUP_CODE_MAX_ATTEMPTS
    fo.pickup_code_attempts += 1  # the row is locked: no concurrent attempt can be lost
    left = max(0, limit - fo.pickup_code_attempts)
    if left == 0:
        fo.pickup_code_locked_at = timezone.now()
    fo.save(update_fields=["pickup_code_attempts", "pickup_code_locked_at", "updated_at"])
    K = OrderEventKind
    data = _note(order, fo, actor, K.PICKUP_CODE_REFUSED, f"a wrong pickup code was given ({left} left)")
    if left == 0:
        _note(order, fo, actor, K.PICKUP_CODE_LOCKED, f"pickup code locked after {limit} wrong codes")
        raise PickupCodeLocked(extra=data)
    raise PickupCodeMismatch(
        f"This is not the pickup code: {left} attempt(s) left.",
        extra={**data, "attempts_left": left},
    )


@transaction.atomic(durable=True)
def fulfillment_order_pickup_code_reissue(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """A manager sends the customer a new code (after a lock, or a lost e-mail): the old code stops
    working, the attempts start again, and the ready-for-pickup e-mail goes out with the new code."""
    if not (actor.is_manager or actor.is_system):
        raise PermissionDenied("Only a manager may send a new pickup code.")
    order, fo = fulfillment_order_lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status != FulfillmentStatus.READY_FOR_PICKUP:
        raise Conflict(
            f"{fo.number} is not waiting for the customer.",
            code="pickup_not_ready",
            extra={"fulfillment_order": fo.pk, "status": fo.status},
        )
    fields = pickup_code_fields()
    for name, value in fields.items():
        setattr(fo, name, value)
    fo.save(update_fields=[*fields, "updated_at"])
    _note(order, fo, actor, OrderEventKind.PICKUP_CODE_REISSUED, "a new pickup code was sent to the customer")
    publish(
        topic="fulfillment.pickup_code_reissued",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo
