"""Paying part of an order with loyalty points (docs/loyalty.md). The kernel burns the points
(``oms.loyalty``: one conditional UPDATE, 409 ``insufficient_points``) and records their value on
the burn entry with the order's id: that value is a tender of the order, so the card pays only the
rest. Before the card's authorisation the OMS authorises the total less the points' value
(``payments._authorize_begin``); after it, the points' value is voided from the authorisation
(a pending ``void`` row, sent after commit like a refund). Never more than the order still owes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from oms import events
from oms.actors import Actor
from oms.errors import Conflict, InvalidInput
from oms.loyalty.rules import loyalty_rule_for_channel
from oms.loyalty.services import Burn, loyalty_burn_in_transaction
from orders.choices import OrderEventKind, OrderStatus, PaymentStatus
from orders.events import order_event_build
from orders.models import Order, OrderEvent, Payment

from .locks import order_lock
from .payments import K, _pending, _txn, order_amount_due

_CLOSED = frozenset({OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_CANCELLED})


def _check_order(order: Order, *, customer_id: int, points: int) -> None:
    if order.customer_id != customer_id:
        raise InvalidInput(
            f"Order {order.number} is not this customer's.",
            code="order_not_customers",
            extra={"order": order.pk},
        )
    if order.status in _CLOSED:
        raise Conflict(
            f"Order {order.number} is {order.status}: points pay only for an open order.",
            code="order_closed",
            extra={"order": order.pk, "status": order.status},
        )
    _check_value(order, points=points, due=order_amount_due(order=order))


def _check_value(order: Order, *, points: int, due: Decimal) -> None:
    rule = loyalty_rule_for_channel(order.channel_id)
    if rule is not None and rule.point_value * points > due:
        raise InvalidInput(
            f"{points} point(s) are worth more than the {due} {order.currency} order {order.number} owes.",
            code="points_exceed_due",
            extra={"points": points, "due": str(due), "point_value": str(rule.point_value)},
        )


@dataclass(frozen=True)
class PointsTender:
    """Points paying for a new order: their value and the order's timeline row (for its batch)."""

    value: Decimal
    event: OrderEvent


def order_points_tender(*, order: Order, points: int, actor: Actor) -> PointsTender | None:
    """At placement, in its transaction (the order written): burn ``points`` of the order's
    customer for it, so that the card is authorised for the rest (``payment_rows_for_placement``,
    ``_authorize_begin``). 409 ``insufficient_points`` rolls the whole placement back."""
    if not points:
        return None
    if order.customer_id is None:
        raise InvalidInput("Only a customer's order can be paid with points.", code="customer_required")
    _check_value(order, points=points, due=order.total)
    burn = loyalty_burn_in_transaction(
        customer_id=order.customer_id,
        points=points,
        channel_id=order.channel_id,
        actor=actor,
        order_id=order.pk,
        reference=f"order:{order.pk}:placement",
    )
    return PointsTender(value=burn.entry.amount or Decimal("0.00"), event=_redeemed_event(order, burn, actor))


def _redeemed_event(order: Order, burn: Burn, actor: Actor) -> OrderEvent:
    entry = burn.entry
    value = entry.amount or Decimal("0.00")
    return order_event_build(
        order=order,
        kind=OrderEventKind.LOYALTY_REDEEMED,
        actor=actor,
        message=f"{-entry.points} loyalty point(s) paid {value} {order.currency}",
        data={"entry": entry.pk, "points": -entry.points, "value": str(value), "currency": order.currency},
    )


def _void_tender(order: Order, value: Decimal, *, entry_id: int) -> None:
    """After the card's authorisation: void the points' value from it (never below what is
    captured or being captured); before it (nothing sent yet) the authorisation takes the due."""
    payment = Payment.objects.select_for_update().filter(pk=order.pk).first()
    if payment is None:
        return
    if payment.status == PaymentStatus.PENDING:
        if payment.transactions.exists():
            raise Conflict(
                f"The card of order {order.number} is being authorised; try again in a moment.",
                code="payment_in_progress",
            )
        return
    free = payment.authorized - _pending(payment, K.VOID) - payment.captured - _pending(payment, K.CAPTURE)
    amount = min(value, free)
    if amount <= 0:
        return
    txn = _txn(
        payment, kind=K.VOID, amount=amount, key=f"loyalty:{entry_id}:void", reference=f"loyalty:{entry_id}"
    )
    txn.save(force_insert=True)
    events.publish(topic="payment.pending", payload={"transaction_id": txn.pk, "order_id": order.pk})


@transaction.atomic(durable=True)
def order_points_burn(
    *,
    customer_id: int,
    points: int,
    actor: Actor,
    channel_id: int | None = None,
    order_id: int | None = None,
    reference: str = "",
) -> Burn:
    """Burn a customer's points on a channel; with ``order_id``, as a tender of that open order of
    theirs (on its channel), whose card then pays that much less."""
    if order_id is None:
        if channel_id is None:
            raise InvalidInput("Say the channel the points are burnt on.", code="channel_required")
        return loyalty_burn_in_transaction(
            customer_id=customer_id, points=points, channel_id=channel_id, actor=actor, reference=reference
        )
    order = order_lock(order_id=order_id, actor=actor)
    _check_order(order, customer_id=customer_id, points=points)
    burn = loyalty_burn_in_transaction(
        customer_id=customer_id,
        points=points,
        channel_id=order.channel_id,
        actor=actor,
        order_id=order.pk,
        reference=reference,
    )
    if burn.replayed:
        return burn
    _redeemed_event(order, burn, actor).save(force_insert=True)
    _void_tender(order, burn.entry.amount or Decimal("0.00"), entry_id=burn.entry.pk)
    return burn
