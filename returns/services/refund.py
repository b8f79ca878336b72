"""Refunds of a return: ``return_refund``, never more than the order may still refund: what was
paid (the order's total) minus earlier refunds, or for an order with a Payment what was captured
minus refunded; the refund then goes through the payment gateway after commit."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.loyalty.services import loyalty_reverse_in_transaction
from oms.money import check_amount
from orders.choices import OrderEventKind
from orders.events import order_event_record
from orders.models import Order
from orders.services import IdempotencyClaim, RefundRoom, payment_refund_begin, payment_refund_room
from returns.choices import RefundMethod, ReturnStatus
from returns.errors import RefundExceedsPaid
from returns.models import Refund, Return
from returns.selectors import RefundSummary, order_refund_summary
from returns.services.common import RefundCreated, _check_choice, _claim_fields, _lock_for_staff, _replayed


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
    """Record a refund for the payment system, so that an order's refunds never exceed what was paid.

    Any amount above zero up to what was paid for the order minus every earlier refund (and exchange
    credit); beyond it 409 ``refund_exceeds_paid`` with the amount still refundable. Managers
    anywhere, associates at the return's location. The order row lock makes concurrent refunds wait
    for each other, so together they never exceed it. A repeated idempotency key with the same
    return, amount and method gives the first refund back (``replayed``)."""
    amount = check_amount(amount, positive=True, exact=True)
    _check_choice(method, RefundMethod.values, what="refund method")
    order, rma = _lock_for_staff(return_id=return_id, actor=actor, doing="refund")
    if idempotency is not None:
        request = (rma.pk, amount, method)
        existing = _replayed(
            Refund.objects, idempotency, same=lambda r: (r.rma_id, r.amount, r.method) == request
        )
        if existing is not None:
            return RefundCreated(
                refund=existing, refundable=order_refund_summary(order=order).refundable, replayed=True
            )
    rma.require_transition(ReturnStatus.REFUNDED)
    summary = order_refund_summary(order=order)
    room = payment_refund_room(order=order)
    refundable = _check_refundable(order=order, amount=amount, summary=summary, room=room)
    refund = Refund.objects.create(
        rma=rma,
        order=order,
        amount=amount,
        currency=order.currency,
        method=method,
        note=note[:300],
        created_by_type=actor.type,
        created_by=actor.name[:200],
        **_claim_fields(idempotency),
    )
    payment_refund_begin(order=order, amount=amount, reference=f"refund:{refund.pk}")
    previous = rma.status
    _mark_refunded(rma)
    _announce_refund(refund=refund, previous=previous, actor=actor)
    _reverse_points(order=order, rma=rma, actor=actor)
    return RefundCreated(refund=refund, refundable=refundable - amount)


def _check_refundable(
    *, order: Order, amount: Decimal, summary: RefundSummary, room: RefundRoom | None
) -> Decimal:
    """What the order may still refund (``amount`` must fit): for an order with a Payment, captured
    minus refunded (pending refunds too) minus exchange credit; 409 with the amounts otherwise."""
    if room is not None:
        refundable = max(Decimal("0.00"), room.refundable - summary.exchange_credit)
        if amount > refundable:
            raise RefundExceedsPaid(
                f"Order {order.number} can refund at most {refundable} {order.currency} more "
                f"(captured {room.captured}, refunded {room.refunded}).",
                extra={
                    "amount": str(amount),
                    "refundable": str(refundable),
                    "captured": str(room.captured),
                    "refunded": str(room.refunded),
                    "exchange_credit": str(summary.exchange_credit),
                    "currency": order.currency,
                },
            )
        return refundable
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
    return summary.refundable


def _reverse_points(*, order: Order, rma: Return, actor: Actor) -> None:
    """The loyalty points the order earned on the returned units are taken back (a debt for those
    spent already), at the return's first refund; its later refunds change nothing."""
    if order.customer_id is not None:
        loyalty_reverse_in_transaction(
            customer_id=order.customer_id,
            order_id=order.pk,
            value=rma.value,
            reference=f"return:{rma.pk}",
            actor=actor,
        )


def _mark_refunded(rma: Return) -> None:
    """Refunded, with ``refunded_at`` stamped at the first refund."""
    rma.status = ReturnStatus.REFUNDED
    if rma.refunded_at is None:
        rma.refunded_at = timezone.now()
    rma.save(update_fields=["status", "refunded_at", "updated_at"])


def _announce_refund(*, refund: Refund, previous: str, actor: Actor) -> None:
    """The order's ``refund_created`` event and the ``refund.created`` topic."""
    rma, order = refund.rma, refund.order
    amount, currency, method = refund.amount, refund.currency, refund.method
    order_event_record(
        order=order,
        kind=OrderEventKind.REFUND_CREATED,
        actor=actor,
        message=f"Refund of {amount} {currency} ({method}) for return {rma.number}",
        data={
            "return": rma.pk,
            "refund": refund.pk,
            "amount": str(amount),
            "currency": currency,
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
            "currency": currency,
            "method": method,
        },
    )
