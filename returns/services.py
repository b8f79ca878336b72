"""Writes of returns: create (with an optional exchange), receive, refund, cancel, close.

Locking policy (the same as orders and fulfillment): every top-level service is one durable
transaction that locks the ORIGINAL order row first (``select_for_update``), then the return row,
then stock rows (inventory services). The order row lock serialises everything that reads "what is
still returnable" or "what is still refundable" for that order and then writes: two returns of the
same units, or concurrent refunds, wait for each other, so units are never returned twice and the
refunds of an order never add up to more than was paid.

Money: a return's ``value`` is what its units were paid (each line's ``line_total`` pro rata, tax
included). An order may refund at most ``order.total`` minus its earlier refunds minus the credits
applied to its exchange orders (``order_refund_summary``).

Exchanges: ``exchange_lines`` place a new order on the returning channel through the orders app's
placement (the same validation, sourcing and reservation as any order), in the return's own
transaction: if the new order cannot be placed the whole return fails and nothing is written. It is
a pickup at the receiving store when that store offers pickup and has the units, otherwise it ships
to the original order's address. The return's value (up to what is still refundable) pays for it:
``exchange_credit`` is the part applied, ``exchange_balance`` = exchange total - the return's value
(positive: the customer pays the difference; negative: that much refund is due, recorded with
``return_refund``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.choices import LocationKind, MovementKind
from inventory.errors import InsufficientStock
from inventory.models import Location, StockLevel
from inventory.services import check_quantity, location_get_by_code, stock_adjust
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, InvalidTransition, PermissionDenied
from oms.models import Channel
from oms.money import check_amount, quantize
from orders import services as order_services
from orders.choices import FulfillmentMethod, OrderEventKind, OrderStatus
from orders.errors import IdempotencyKeyReused
from orders.events import order_event_record
from orders.models import Order, OrderLine
from orders.selectors import order_get_for_actor
from orders.services import CustomerInput, IdempotencyClaim, LineInput, OrderInput

from .choices import Disposition, RefundMethod, ReturnMethod, ReturnReason, ReturnStatus
from .errors import (
    LocationNotAcceptingReturns,
    LocationNotPermitted,
    OrderLineNotInOrder,
    ReceiveExceedsOutstanding,
    RefundExceedsPaid,
    ReturnExceedsReturnable,
    ReturnLineNotInReturn,
    ReturnWindowExpired,
    WindowOverrideNotPermitted,
)
from .models import RECEIVABLE_STATUSES, Receipt, Refund, Return, ReturnLine
from .selectors import (
    fulfilled_at_by_line,
    order_refund_summary,
    return_get_for_actor,
    returnable_quantities,
)

MAX_LINES = 200

T = TypeVar("T")

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


# --- Helpers --------------------------------------------------------------------------------------------


def _lock(*, order_id: int, return_id: int | None = None) -> tuple[Order, Return | None]:
    """The original order row first, then the return row (the locking order of this module)."""
    order = (
        Order.objects.select_for_update(of=("self",)).select_related("channel", "customer").get(pk=order_id)
    )
    rma = None
    if return_id is not None:
        rma = (
            Return.objects.select_for_update(of=("self",))
            .select_related("location", "channel", "exchange_order")
            .get(pk=return_id)
        )
    return order, rma


def _require_staff_at(actor: Actor, rma: Return, *, doing: str) -> None:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied(f"Only store staff and managers may {doing} returns.")
    if not actor.may_act_at(rma.location_id):
        raise LocationNotPermitted(
            f"You may {doing} returns only at your own locations.",
            extra={"location_id": rma.location_id},
        )


def _window_days(order: Order) -> int:
    """The return window of the order's channel: OMS_RETURN_WINDOW_DAYS, unless the optional
    OMS_RETURN_WINDOW_DAYS_BY_CHANNEL setting ({channel code: days}) names the channel."""
    per_channel: dict[str, int] = getattr(settings, "OMS_RETURN_WINDOW_DAYS_BY_CHANNEL", {}) or {}
    return int(per_channel.get(order.channel.code, settings.OMS_RETURN_WINDOW_DAYS))


def _check_lines(lines: Sequence[ReturnLineInput]) -> None:
    if not lines:
        raise InvalidInput("A return needs at least one line.", code="empty_return")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"A return has at most {MAX_LINES} lines.", code="too_many_lines")
    seen: set[int] = set()
    for index, line in enumerate(lines):
        check_quantity(line.quantity, field=f"lines[{index}].quantity")
        if line.reason not in ReturnReason.values:
            raise InvalidInput(
                f"Unknown return reason '{line.reason}'.",
                code="unknown_return_reason",
                extra={"allowed": list(ReturnReason.values)},
            )
        if line.order_line_id in seen:
            raise InvalidInput(
                f"Order line {line.order_line_id} is listed twice.",
                code="duplicate_order_line",
                extra={"order_line": line.order_line_id},
            )
        seen.add(line.order_line_id)


def _receiving_location(*, code: str, method: str, actor: Actor) -> Location:
    location = location_get_by_code(code=code)  # 422 unknown_location
    if not (location.active and location.accepts_returns):
        raise LocationNotAcceptingReturns(
            f"{location.code} does not accept returns.", extra={"location": location.code}
        )
    if method == ReturnMethod.IN_STORE and location.kind != LocationKind.STORE:
        raise InvalidInput(
            f"An in-store return is received at a store; {location.code} is a {location.kind}.",
            code="location_not_a_store",
            extra={"location": location.code},
        )
    if actor.is_associate and not actor.may_act_at(location.pk):
        raise LocationNotPermitted(
            f"You may take returns only at your own locations, not at {location.code}.",
            extra={"location": location.code},
        )
    return location


def _returning_channel(*, actor: Actor, order: Order, channel_code: str) -> Channel:
    if actor.is_channel and actor.channel_id is not None:
        return Channel.objects.get(pk=actor.channel_id)
    if not channel_code:
        return order.channel
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        raise InvalidInput(
            f"Unknown channel '{channel_code}'.", code="unknown_channel", extra={"channel": channel_code}
        )
    return channel


def _check_returnable(*, order_lines: dict[int, OrderLine], lines: Sequence[ReturnLineInput]) -> None:
    foreign = sorted(line.order_line_id for line in lines if line.order_line_id not in order_lines)
    if foreign:
        raise OrderLineNotInOrder(
            f"Order line(s) {', '.join(map(str, foreign))} are not lines of this order.",
            extra={"order_lines": foreign},
        )
    remaining = returnable_quantities(lines=list(order_lines.values()))
    over = [
        {
            "order_line": line.order_line_id,
            "sku": order_lines[line.order_line_id].sku,
            "requested": line.quantity,
            "returnable": remaining[line.order_line_id],
        }
        for line in lines
        if line.quantity > remaining[line.order_line_id]
    ]
    if over:
        skus = ", ".join(o["sku"] for o in over)  # type: ignore[misc]
        raise ReturnExceedsReturnable(
            f"More units than can be returned for: {skus}. Only shipped or collected units that are not "
            "already returned (or in an open return) can be.",
            extra={"lines": over, "returnable": {str(k): v for k, v in remaining.items()}},
        )


def _late_lines(*, order: Order, lines: Sequence[ReturnLineInput]) -> tuple[int, list[dict[str, Any]]]:
    days = _window_days(order)
    fulfilled = fulfilled_at_by_line(order=order, order_line_ids=[line.order_line_id for line in lines])
    now = timezone.now()
    late = []
    for line in lines:
        deadline = fulfilled[line.order_line_id] + timedelta(days=days)
        if now > deadline:
            late.append(
                {
                    "order_line": line.order_line_id,
                    "fulfilled_at": fulfilled[line.order_line_id].isoformat(),
                    "deadline": deadline.isoformat(),
                }
            )
    return days, late


# --- Create -----------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def return_create(
    *,
    order_id: int | str,
    method: str,
    location_code: str,
    lines: Sequence[ReturnLineInput],
    actor: Actor,
    channel_code: str = "",
    exchange_lines: Sequence[ExchangeLineInput] = (),
    override_window: bool = False,
    idempotency: IdempotencyClaim | None = None,
) -> ReturnCreated:
    """Open a return (RMA) for units of an order, from any channel, at a location that accepts
    returns; optionally with an exchange order. Refused: units not fulfilled or already returned
    (409 ``return_exceeds_returnable``), past the channel's return window (409
    ``return_window_expired``, unless a manager passes ``override_window``), a location that does not
    take returns (422 ``location_not_accepting_returns``), a line of another order (422)."""
    if not (actor.is_staff or actor.is_channel or actor.is_system):
        raise PermissionDenied("Authenticate as a channel or as staff to open a return.")
    if method not in ReturnMethod.values:
        raise InvalidInput(
            f"Unknown return method '{method}'; use in_store or mail.",
            code="unknown_return_method",
            extra={"allowed": list(ReturnMethod.values)},
        )
    _check_lines(lines)
    if override_window and not (actor.is_manager or actor.is_system):
        raise WindowOverrideNotPermitted()
    visible = order_get_for_actor(order_id=order_id, actor=actor)  # 404 for what the actor may not see
    order, _ = _lock(order_id=visible.pk)
    if idempotency is not None:
        existing = Return.objects.filter(
            idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
        ).first()
        if existing is not None:
            if existing.request_hash != idempotency.request_hash:
                raise IdempotencyKeyReused(extra={"idempotency_key": idempotency.key})
            return ReturnCreated(rma=existing, replayed=True)
    channel = _returning_channel(actor=actor, order=order, channel_code=channel_code)
    location = _receiving_location(code=location_code, method=method, actor=actor)
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("line_number")}
    _check_returnable(order_lines=order_lines, lines=lines)
    window_days, late = _late_lines(order=order, lines=lines)
    if late and not override_window:
        raise ReturnWindowExpired(
            f"The {window_days}-day return window has passed for {len(late)} line(s); a manager may "
            "accept it with override_window.",
            extra={"window_days": window_days, "lines": late},
        )

    values = {
        line.order_line_id: quantize(
            order_lines[line.order_line_id].line_total
            * line.quantity
            / order_lines[line.order_line_id].quantity
        )
        for line in lines
    }
    count = Return.objects.filter(order=order).count()
    rma = Return.objects.create(
        number=f"{order.number}-R{count + 1}",
        order=order,
        channel=channel,
        method=method,
        location=location,
        window_overridden=bool(late),
        value=quantize(sum(values.values(), Decimal("0"))),
        created_by_type=actor.type,
        created_by=actor.name[:200],
        idempotency_scope=idempotency.scope if idempotency else "",
        idempotency_key=idempotency.key if idempotency else "",
        request_hash=idempotency.request_hash if idempotency else "",
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                rma=rma,
                order_line_id=line.order_line_id,
                quantity=line.quantity,
                reason=line.reason,
                note=line.note[:300],
                value=values[line.order_line_id],
            )
            for line in lines
        ]
    )
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_REQUESTED,
        actor=actor,
        message=(
            f"Return {rma.number}: {sum(li.quantity for li in lines)} unit(s) {method.replace('_', ' ')} "
            f"to {location.code} via {channel.code}" + (" (window overridden)" if late else "")
        ),
        data={
            "return": rma.pk,
            "number": rma.number,
            "method": method,
            "location": location.code,
            "channel": channel.code,
            "value": str(rma.value),
            "lines": [
                {
                    "order_line": li.order_line_id,
                    "sku": order_lines[li.order_line_id].sku,
                    "quantity": li.quantity,
                    "reason": li.reason,
                }
                for li in lines
            ],
            "window_overridden": bool(late),
        },
    )
    if exchange_lines:
        _exchange_create(
            rma=rma, order=order, channel=channel, location=location, lines=exchange_lines, actor=actor
        )
    events.publish(
        topic="return.created",
        payload={
            "return_id": rma.pk,
            "number": rma.number,
            "order_id": order.pk,
            "channel": channel.code,
            "location": location.code,
            "exchange_order_id": rma.exchange_order_id,
        },
    )
    return ReturnCreated(rma=rma)


def _exchange_create(
    *,
    rma: Return,
    order: Order,
    channel: Channel,
    location: Location,
    lines: Sequence[ExchangeLineInput],
    actor: Actor,
) -> Order:
    """Place the exchange order (in this transaction) and apply the return's value to it."""
    if channel.currency != order.currency:
        raise InvalidInput(
            f"The exchange would be in {channel.currency} on {channel.code}, but the order was paid in "
            f"{order.currency}.",
            code="currency_mismatch",
            extra={"currency": order.currency, "channel_currency": channel.currency},
        )
    customer = order.customer
    common: dict[str, Any] = {
        "channel": channel,
        "lines": [LineInput(sku=li.sku, quantity=li.quantity, unit_price=li.unit_price) for li in lines],
        "currency": order.currency,
        "customer": (
            CustomerInput(email=customer.email, phone=customer.phone, name=customer.name)
            if customer is not None
            else None
        ),
    }
    place = order_services.order_place_in_transaction
    placed = None
    pickup_shortage: InsufficientStock | None = None
    if location.kind == LocationKind.STORE and location.pickup and location.active:
        try:
            with transaction.atomic():  # a savepoint: a store without the units undoes only this try
                placed = place(
                    data=OrderInput(method=FulfillmentMethod.PICKUP, pickup_location=location.code, **common),
                    actor=actor,
                )
        except InsufficientStock as exc:
            pickup_shortage = exc
    if placed is None:
        if not order.shipping_address:
            if pickup_shortage is not None:
                raise pickup_shortage
            raise InvalidInput(
                "The exchange cannot be collected here and the order has no address to ship it to.",
                code="shipping_address_required",
            )
        placed = place(
            data=OrderInput(
                method=FulfillmentMethod.SHIP,
                shipping_address=dict(order.shipping_address),
                latitude=order.ship_latitude,
                longitude=order.ship_longitude,
                **common,
            ),
            actor=actor,
        )
    exchange = placed.order
    creditable = min(rma.value, order_refund_summary(order=order).refundable)
    rma.exchange_order = exchange
    rma.exchange_credit = min(creditable, exchange.total)
    rma.exchange_balance = quantize(exchange.total - creditable)
    rma.save(update_fields=["exchange_order", "exchange_credit", "exchange_balance", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEventKind.EXCHANGE_CREATED,
        actor=actor,
        message=(
            f"Exchange order {exchange.number} ({exchange.method}) for return {rma.number}; "
            f"balance {rma.exchange_balance} {order.currency}"
        ),
        data={
            "return": rma.pk,
            "exchange_order": exchange.pk,
            "exchange_number": exchange.number,
            "method": exchange.method,
            "exchange_total": str(exchange.total),
            "exchange_credit": str(rma.exchange_credit),
            "exchange_balance": str(rma.exchange_balance),
        },
    )
    order_event_record(
        order=exchange,
        kind=OrderEventKind.NOTE,
        actor=actor,
        message=f"Exchange for return {rma.number} of order {order.number}",
        data={"return": rma.pk, "original_order": order.pk, "exchange_credit": str(rma.exchange_credit)},
    )
    return exchange


# --- Receive ----------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def return_receive(*, return_id: int | str, lines: Sequence[ReceiveLineInput], actor: Actor) -> Return:
    """Receive units of a return at its location, in part or whole, each with a disposition:
    ``restock`` puts them on hand at the RECEIVING location (a ``return_restock`` ledger row; waiting
    backorders there are retried), ``damaged`` records them only. Associates receive only at their
    own locations (403)."""
    if not lines:
        raise InvalidInput("Say which units were received ('lines').", code="empty_receipt")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"A receipt has at most {MAX_LINES} lines.", code="too_many_lines")
    for index, item in enumerate(lines):
        check_quantity(item.quantity, field=f"lines[{index}].quantity")
        if item.disposition not in Disposition.values:
            raise InvalidInput(
                f"Unknown disposition '{item.disposition}'; use restock or damaged.",
                code="unknown_disposition",
                extra={"allowed": list(Disposition.values)},
            )
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _require_staff_at(actor, visible, doing="receive")
    order, rma = _lock(order_id=visible.order_id, return_id=visible.pk)
    assert rma is not None  # noqa: S101 (narrowing for mypy)
    if rma.status not in RECEIVABLE_STATUSES:
        raise InvalidTransition(
            entity="return",
            current=rma.status,
            target=ReturnStatus.RECEIVED,
            message=f"Return {rma.number} is {rma.status}: nothing more can be received.",
        )
    return_lines = {
        line.pk: line for line in ReturnLine.objects.filter(rma=rma).select_related("order_line__product")
    }
    foreign = sorted({li.return_line_id for li in lines if li.return_line_id not in return_lines})
    if foreign:
        raise ReturnLineNotInReturn(
            f"Line(s) {', '.join(map(str, foreign))} are not lines of return {rma.number}.",
            extra={"return_lines": foreign},
        )
    merged: dict[tuple[int, str], int] = defaultdict(int)
    per_line: dict[int, int] = defaultdict(int)
    for li in lines:
        merged[(li.return_line_id, li.disposition)] += li.quantity
        per_line[li.return_line_id] += li.quantity
    over = [
        {
            "return_line": line_id,
            "sku": return_lines[line_id].order_line.sku,
            "received": quantity,
            "outstanding": return_lines[line_id].quantity_outstanding,
        }
        for line_id, quantity in sorted(per_line.items())
        if quantity > return_lines[line_id].quantity_outstanding
    ]
    if over:
        raise ReceiveExceedsOutstanding(
            f"Return {rma.number} expects fewer units of: {', '.join(o['sku'] for o in over)}.",  # type: ignore[misc]
            extra={
                "lines": over,
                "outstanding": {str(k): v.quantity_outstanding for k, v in return_lines.items()},
            },
        )

    location = rma.location
    receipts = []
    restock: dict[int, int] = defaultdict(int)  # product id -> units
    for (line_id, disposition), quantity in sorted(merged.items()):
        line = return_lines[line_id]
        receipts.append(
            Receipt(
                rma=rma,
                line=line,
                location=location,
                quantity=quantity,
                disposition=disposition,
                received_by_type=actor.type,
                received_by=actor.name[:200],
            )
        )
        line.quantity_received += quantity
        if disposition == Disposition.RESTOCK:
            line.quantity_restocked += quantity
            restock[line.order_line.product_id] += quantity
        else:
            line.quantity_damaged += quantity
    Receipt.objects.bulk_create(receipts)
    touched = [return_lines[line_id] for line_id in sorted(per_line)]
    ReturnLine.objects.bulk_update(touched, ["quantity_received", "quantity_restocked", "quantity_damaged"])
    # Stock rows in primary-key order (the inventory locking policy).
    products = {line.order_line.product_id: line.order_line.product for line in return_lines.values()}
    levels = {
        product_id: StockLevel.objects.get_or_create(product_id=product_id, location=location)[0].pk
        for product_id in restock
    }
    for product_id in sorted(restock, key=levels.__getitem__):
        stock_adjust(
            product=products[product_id],
            location=location,
            delta=restock[product_id],
            reason=f"return {rma.number} restocked",
            actor=actor,
            kind=MovementKind.RETURN_RESTOCK,
            reference=f"return:{rma.number}",
        )

    previous = rma.status
    fields = ["updated_at"]
    if rma.status != ReturnStatus.REFUNDED:
        done = all(line.quantity_outstanding == 0 for line in return_lines.values())
        target = ReturnStatus.RECEIVED if done else ReturnStatus.PARTIALLY_RECEIVED
        if target != rma.status:
            rma.require_transition(target)
            rma.status = target
            fields.append("status")
    if all(line.quantity_outstanding == 0 for line in return_lines.values()) and rma.received_at is None:
        rma.received_at = timezone.now()
        fields.append("received_at")
    rma.save(update_fields=fields)
    restocked = sum(q for (_, d), q in merged.items() if d == Disposition.RESTOCK)
    damaged = sum(q for (_, d), q in merged.items() if d == Disposition.DAMAGED)
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_RECEIVED,
        actor=actor,
        message=f"Return {rma.number}: {restocked} unit(s) restocked, {damaged} damaged at {location.code}",
        data={
            "return": rma.pk,
            "number": rma.number,
            "location": location.code,
            "from": previous,
            "status": rma.status,
            "lines": [
                {
                    "return_line": line_id,
                    "sku": return_lines[line_id].order_line.sku,
                    "quantity": quantity,
                    "disposition": disposition,
                }
                for (line_id, disposition), quantity in sorted(merged.items())
            ],
        },
    )
    events.publish(
        topic="return.received",
        payload={
            "return_id": rma.pk,
            "number": rma.number,
            "order_id": order.pk,
            "location": location.code,
            "restocked": restocked,
            "damaged": damaged,
            "status": rma.status,
        },
    )
    return rma


# --- Refund -----------------------------------------------------------------------------------------------


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


# --- Cancel and close ---------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def return_cancel(*, return_id: int | str, actor: Actor, reason: str = "") -> Return:
    """Withdraw a return before anything was received or refunded: its units become returnable
    again and its exchange order (if any, and not shipped yet) is cancelled in the same transaction.
    The returning channel, a manager, or an associate of its location may. Twice is a no-op."""
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    channel_owner = actor.is_channel and actor.channel_id == visible.channel_id
    if not (channel_owner or ((actor.is_staff or actor.is_system) and actor.may_act_at(visible.location_id))):
        if actor.is_associate:
            raise LocationNotPermitted(extra={"location_id": visible.location_id})
        raise PermissionDenied("Only the returning channel or staff of the location may cancel a return.")
    order, rma = _lock(order_id=visible.order_id, return_id=visible.pk)
    assert rma is not None  # noqa: S101 (narrowing for mypy)
    if rma.status == ReturnStatus.CANCELLED:
        return rma
    rma.require_transition(ReturnStatus.CANCELLED)
    exchange = rma.exchange_order
    if exchange is not None and exchange.status != OrderStatus.CANCELLED:
        order_services.order_cancel_in_transaction(
            order_id=exchange.pk,
            reason=f"return {rma.number} cancelled",
            actor=Actor.system(f"returns ({actor.label})"[:200]),
        )
    rma.status = ReturnStatus.CANCELLED
    rma.cancelled_at = timezone.now()
    rma.save(update_fields=["status", "cancelled_at", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_CANCELLED,
        actor=actor,
        message=f"Return {rma.number} cancelled" + (f": {reason}" if reason else ""),
        data={
            "return": rma.pk,
            "number": rma.number,
            "reason": reason,
            "exchange_order": rma.exchange_order_id,
        },
    )
    events.publish(
        topic="return.cancelled", payload={"return_id": rma.pk, "number": rma.number, "order_id": order.pk}
    )
    return rma


@transaction.atomic(durable=True)
def return_close(*, return_id: int | str, actor: Actor) -> Return:
    """Finish a return: no more receipts or refunds. Units never received stop counting as returned.
    Managers, or associates of its location. Twice is a no-op."""
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _require_staff_at(actor, visible, doing="close")
    order, rma = _lock(order_id=visible.order_id, return_id=visible.pk)
    assert rma is not None  # noqa: S101 (narrowing for mypy)
    if rma.status == ReturnStatus.CLOSED:
        return rma
    rma.require_transition(ReturnStatus.CLOSED)
    previous = rma.status
    rma.status = ReturnStatus.CLOSED
    rma.closed_at = timezone.now()
    rma.save(update_fields=["status", "closed_at", "updated_at"])
    outstanding = sum(line.quantity_outstanding for line in rma.lines.all())
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_CLOSED,
        actor=actor,
        message=f"Return {rma.number} closed"
        + (f"; {outstanding} unit(s) never received" if outstanding else ""),
        data={"return": rma.pk, "number": rma.number, "from": previous, "status": rma.status},
    )
    events.publish(
        topic="return.closed", payload={"return_id": rma.pk, "number": rma.number, "order_id": order.pk}
    )
    return rma
