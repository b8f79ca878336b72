"""Shared by the return services: the inputs and results, the locks, the checks every service makes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import Manager, Model

from inventory.services import check_quantity
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from orders.errors import IdempotencyKeyReused
from orders.events import order_event_record
from orders.models import Order
from orders.services import IdempotencyClaim
from returns.errors import LocationNotPermitted
from returns.models import Refund, Return
from returns.selectors import return_get_for_actor

MAX_LINES = 200

M = TypeVar("M", bound=Model)
L = TypeVar("L", bound="ReturnLineInput | ReceiveLineInput")

# --- Inputs and results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineInput:
    order_line_id: int
    quantity: int
    reason: str
    note: str = ""


@dataclass(frozen=True)
class ExchangeLineInput:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ReceiveLineInput:
    return_line_id: int
    quantity: int
    disposition: str


@dataclass
class ReturnCreated:
    rma: Return
    replayed: bool = False


@dataclass
class RefundCreated:
    refund: Refund
    refundable: Decimal  # what the order may still refund after this one
    replayed: bool = False


# --- Locks ------------------------------------------------------------------------------------------------


def _lock_order(*, order_id: int) -> Order:
    """The original order row (the first lock of every return service)."""
    return (
        Order.objects.select_for_update(of=("self",)).select_related("channel", "customer").get(pk=order_id)
    )


def _lock_return(visible: Return) -> tuple[Order, Return]:
    """The original order row first, then the return row (the locking order of this package)."""
    order = _lock_order(order_id=visible.order_id)
    rma = (
        Return.objects.select_for_update(of=("self",))
        .select_related("location", "channel", "exchange_order")
        .get(pk=visible.pk)
    )
    return order, rma


def _lock_for_staff(*, return_id: int | str, actor: Actor, doing: str) -> tuple[Order, Return]:
    """The return the actor may see, checked for staff of its location, then locked."""
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _require_staff_at(actor, visible, doing=doing)
    return _lock_return(visible)


# --- Announcing --------------------------------------------------------------------------------------------


def _return_event_record(
    rma: Return, order: Order, *, kind: str, actor: Actor, message: str, data: dict[str, Any]
) -> None:
    """A step of the return on its (locked) order's timeline: ``data`` after the return's id and number."""
    order_event_record(
        order=order,
        kind=kind,
        actor=actor,
        message=message,
        data={"return": rma.pk, "number": rma.number, **data},
    )


def _return_publish(rma: Return, topic: str, **payload: Any) -> None:
    """Publish ``topic`` (outbox row now, announced after commit) naming the return, its number and its
    order before ``payload``."""
    events.publish(
        topic=topic, payload={"return_id": rma.pk, "number": rma.number, "order_id": rma.order_id, **payload}
    )


# --- Checks -----------------------------------------------------------------------------------------------


def _require_staff_at(actor: Actor, rma: Return, *, doing: str) -> None:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied(f"Only store staff and managers may {doing} returns.")
    if not actor.may_act_at(rma.location_id):
        raise LocationNotPermitted(
            f"You may {doing} returns only at your own locations.",
            extra={"location_id": rma.location_id},
        )


def _check_choice(value: str, allowed: list[str], *, what: str, hint: str = "") -> None:
    """422 ``unknown_<what>`` with the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        raise InvalidInput(
            f"Unknown {what} '{value}'" + (f"; use {hint}" if hint else "") + ".",
            code=f"unknown_{what.replace(' ', '_')}",
            extra={"allowed": list(allowed)},
        )


def _check_each(
    lines: Sequence[L], check: Callable[[L], None], *, noun: str, empty_message: str, empty_code: str
) -> None:
    """At least one line and at most MAX_LINES; then, line by line, a positive quantity and ``check``."""
    if not lines:
        raise InvalidInput(empty_message, code=empty_code)
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"{noun} has at most {MAX_LINES} lines.", code="too_many_lines")
    for index, line in enumerate(lines):
        check_quantity(line.quantity, field=f"lines[{index}].quantity")
        check(line)


# --- Idempotency ----------------------------------------------------------------------------------------


def _replayed(manager: Manager[M], claim: IdempotencyClaim, *, same: Callable[[M], bool]) -> M | None:
    """The row an earlier request with this key wrote (None: the first); 422
    ``idempotency_key_reused`` when that request was not the ``same``."""
    existing = manager.filter(idempotency_scope=claim.scope, idempotency_key=claim.key).first()
    if existing is not None and not same(existing):
        raise IdempotencyKeyReused(extra={"idempotency_key": claim.key})
    return existing


def _claim_fields(claim: IdempotencyClaim | None) -> dict[str, str]:
    """The idempotency columns of a new row (empty without a key)."""
    return {
        "idempotency_scope": claim.scope if claim else "",
        "idempotency_key": claim.key if claim else "",
    }
