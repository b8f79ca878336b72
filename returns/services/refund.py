"""Refunds of a return: ``return_refund``, never more than the order may still refund."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput
from oms.money import check_amount
from orders.choices import OrderEventKind
from orders.errors import IdempotencyKeyReused
from orders.events import order_event_record
from orders.services import IdempotencyClaim
from returns.choices import RefundMethod, ReturnStatus
from returns.errors import (
    RefundExceedsPaid,
)
from returns.models import Refund
from returns.selectors import (
    order_refund_summary,
    return_get_for_actor,
)
from returns.services.common import RefundCreated, _lock, _require_staff_at


@transaction.atomic(durable=True)
def return_refund(
    *,
    return_id: int | str,
    amount: Decimal,
    method: str = RefundMethod.ORIGINAL_PAYMENT,
    actor: Actor,
    note: str = "",
    idempotency: IdempotencyClaim | None = None,
) -> RefundCreated:
    """Record a refund for the payment system: any amount above zero up to what was paid for the
    order minus every earlier refund (and exchange credit); beyond it 409 ``refund_exceeds_paid``
    with the amount still refundable. Managers anywhere, associates at the return's location. The
    order row lock makes concurrent refunds wait for each other, so together they never exceed it."""
    amount = check_amount(amount, positive=True, exact=True)
    if method not in RefundMethod.values:
        raise InvalidInput(
            f"Unknown refund method '{method}'.",
            code="unknown_refund_method",
            extra={"allowed": list(RefundMethod.values)},
        )
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _require_staff_at(actor, visible, doing="refund")
    order, rma = _lock(order_id=visible.order_id, return_id=visible.pk)
    assert rma is not None  # noqa: S101 (narrowing for mypy)
    if idempotency is not None:
        existing = Refund.objects.filter(
            idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
        ).first()
        if existing is not None:
            if (existing.rma_id, existing.amount, existing.method) != (rma.pk, amount, method):
                raise IdempotencyKeyReused(extra={"idempotency_key": idempotency.key})
            return RefundCreated(
                refund=existing, refundable=order_refund_summary(order=order).refundable, replayed=True
            )
    rma.require_transition(ReturnStatus.REFUNDED)
    summary = order_refund_summary(order=order)
    if amount > summary.refundable:
        raise RefundExceedsPaid(
            f"Order {order.number} can refund at most {summary.refundable} {order.currency} more "
            f"(paid {summary.paid}, refunded {summary.refunded}"
            + (f", applied to exchanges {summary.exchange_credit}" if summary.exchange_credit else "")
            + ").",
            extra={
                "amount": str(amount),
                "refundable": str(summary.refundable),
                "paid": str(summary.paid),
                "refunded": str(summary.refunded),
                "exchange_credit": str(summary.exchange_credit),
                "currency": order.currency,
            },
        )
    refund = Refund.objects.create(
        rma=rma,
        order=order,
        amount=amount,
        currency=order.currency,
        method=method,
        note=note[:300],
        created_by_type=actor.type,
        created_by=actor.name[:200],
        idempotency_scope=idempotency.scope if idempotency else "",
        idempotency_key=idempotency.key if idempotency else "",
    )
    previous = rma.status
    rma.status = ReturnStatus.REFUNDED
    if rma.refunded_at is None:
        rma.refunded_at = timezone.now()
    rma.save(update_fields=["status", "refunded_at", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEventKind.REFUND_CREATED,
        actor=actor,
        message=f"Refund of {amount} {order.currency} ({method}) for return {rma.number}",
        data={
            "return": rma.pk,
            "refund": refund.pk,
            "amount": str(amount),
            "currency": order.currency,
            "method": method,
            "from": previous,
        },
    )
    events.publish(
        topic="refund.created",
        payload={
            "refund_id": refund.pk,
            "return_id": rma.pk,
            "order_id": order.pk,
            "amount": str(amount),
            "currency": order.currency,
            "method": method,
        },
    )
    return RefundCreated(refund=refund, refundable=summary.refundable - amount)
