"""Payments: the order's Payment and its ledger. Every movement of money is one PaymentTransaction,
written ``pending`` in a short transaction (order, then payment locked), sent to the gateway
outside any transaction, and settled in another, once (a settled row is left alone; the
idempotency key is the one the gateway dedups on). So a retried task or a worker killed between
the call and the settlement moves the money once.

When: the total is authorised after placement (unless the storefront did); each shipment or
handover captures the value of its units; a refund of a return is capped by captured minus
refunded; once nothing is left open, what no unit needs of the authorisation is voided. A failed
authorisation or capture puts the order on a ``payment`` hold and announces ``payment.failed``; a
capture announces ``payment.captured``. docs/payments.md."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput
from oms.loyalty.services import loyalty_tender_for_order
from oms.money import check_amount, quantize
from orders.choices import (
    HoldReason,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
    PaymentTransactionKind,
    PaymentTransactionStatus,
)
from orders.events import order_event_record
from orders.models import Order, OrderLine, Payment, PaymentTransaction
from orders.payments import (
    GatewayDeclined,
    GatewayResult,
    GatewayTransient,
    PaymentRequest,
    gateway_for,
    payment_gateway,
)

from .holds import order_hold_place_in_transaction
from .inputs import PaymentInput

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
PAYMENTS = Actor.system("payments")
K, T = PaymentTransactionKind, PaymentTransactionStatus


class PaymentRetry(Exception):
    """Not now: the gateway failed transiently (``transaction_id`` is the pending row) or the
    payment is not ready (its authorisation still pending); the task tries again later."""

    def __init__(self, message: str, *, transaction_id: int | None = None) -> None:
        super().__init__(message)
        self.transaction_id = transaction_id


# --- Placement ------------------------------------------------------------------------------------


def payment_rows_for_placement(
    *, order: Order, data: PaymentInput | None, paid_with_points: Decimal = ZERO
) -> list[Payment | PaymentTransaction]:
    """The unsaved rows a new order's payment starts with, for the placement's write batch.

    None without a payment object (the OMS authorises what is due after commit); with a token, a
    pending payment the OMS authorises with it; authorised by the storefront (a provider
    reference), the payment and its succeeded ``authorize`` row, refused (422) below what is due:
    the total less what loyalty points paid (``paid_with_points``)."""
    if data is None:
        return []
    payment = Payment(
        order_id=order.pk,
        method=data.method or "card",
        provider=data.provider or payment_gateway().name,
        provider_reference=data.provider_reference,
        token=data.token,
        currency=order.currency,
    )
    if not data.provider_reference:
        return [payment]
    due = max(ZERO, order.total - paid_with_points)
    authorized = due if data.authorized_amount is None else check_amount(data.authorized_amount)
    if authorized < due:
        raise InvalidInput(
            f"The payment authorised {authorized} {order.currency}, less than the {due} due.",
            code="payment_below_total",
            extra={"authorized_amount": str(authorized), "total": str(order.total), "due": str(due)},
        )
    payment.authorized, payment.status = authorized, PaymentStatus.AUTHORIZED
    if authorized == 0:
        return [payment]
    ledger = _txn(payment, kind=K.AUTHORIZE, amount=authorized, key=f"order:{order.pk}:authorize")
    ledger.status, ledger.provider_reference, ledger.settled_at = (
        T.SUCCEEDED,
        data.provider_reference,
        timezone.now(),
    )
    return [payment, ledger]


def _txn(
    payment: Payment,
    *,
    kind: str,
    amount: Decimal,
    key: str,
    reference: str = "",
    lines: Mapping[int, int] | None = None,
) -> PaymentTransaction:
    return PaymentTransaction(
        payment_id=payment.pk,
        order_id=payment.pk,
        kind=kind,
        amount=amount,
        currency=payment.currency,
        idempotency_key=key,
        reference=reference,
        lines={str(k): v for k, v in (lines or {}).items()},
    )


def order_amount_due(*, order: Order) -> Decimal:
    """What the order's card pays: its total less the value of the loyalty points burnt for it
    (a tender of the order, docs/loyalty.md)."""
    return max(ZERO, order.total - loyalty_tender_for_order(order_id=order.pk))


# --- The services ---------------------------------------------------------------------------------


def payment_authorize(*, order_id: int) -> PaymentTransaction | None:
    """Authorise the order's total through the gateway once; a no-op when it is authorised already,
    declined, or the order was cancelled first. Raises ``PaymentRetry`` on a transient failure."""
    txn = _authorize_begin(order_id=order_id)
    return _send_and_settle(txn) if txn is not None else None


def payment_capture_shipment(
    *, order_id: int, fulfillment_order_id: int, lines: Mapping[int, int]
) -> PaymentTransaction | None:
    """Capture the value of one shipment or handover (its units ``lines``, by order line) once.

    The value: each line's share of its total for those units (cumulative, so the shares of a line
    add up to its total), plus the shipping with the first capture, never above what is still
    authorised. ``PaymentRetry`` while the authorisation is pending or the gateway fails."""
    txn = _capture_begin(order_id=order_id, fulfillment_order_id=fulfillment_order_id, lines=lines)
    return _send_and_settle(txn) if txn is not None else None


def payment_void_remainder(*, order_id: int) -> PaymentTransaction | None:
    """Void, once, what no unit needs of the authorisation when nothing is left open on the order
    (cancelled before shipping: all of it). ``PaymentRetry`` while the authorisation is pending."""
    txn = _void_begin(order_id=order_id)
    return _send_and_settle(txn) if txn is not None else None


def payment_transaction_send(*, transaction_id: int) -> PaymentTransaction:
    """Send a pending ledger row to the gateway and settle it (a settled row is answered as it is)."""
    txn = PaymentTransaction.objects.get(pk=transaction_id)
    return _send_and_settle(txn) if txn.status == T.PENDING else txn


def payment_transaction_give_up(*, transaction_id: int, error: str) -> PaymentTransaction:
    """The retries of a pending row are spent: settle it failed (a hold and ``payment.failed``)."""
    return _settle(transaction_id, ok=False, error=f"gave up after retries: {error}")


@dataclass(frozen=True)
class RefundRoom:
    """What the payment may still refund: captured minus refunded (pending refunds included)."""

    captured: Decimal
    refunded: Decimal

    @property
    def refundable(self) -> Decimal:
        return max(ZERO, self.captured - self.refunded)


def payment_refund_room(*, order: Order) -> RefundRoom | None:
    """Captured and refunded (settled or pending) of the order's payment; None without one. Call it
    with the order locked when the answer decides a write."""
    payment = Payment.objects.filter(pk=order.pk).first()
    if payment is None:
        return None
    return RefundRoom(captured=payment.captured, refunded=payment.refunded + _pending(payment, K.REFUND))


def payment_refund_begin(*, order: Order, amount: Decimal, reference: str) -> PaymentTransaction | None:
    """In the caller's transaction (the order locked): the pending refund row of ``amount``, sent
    to the gateway after commit (``payment.pending``); None when the order has no payment."""
    payment = Payment.objects.select_for_update().filter(pk=order.pk).first()
    if payment is None:
        return None
    txn = _txn(payment, kind=K.REFUND, amount=amount, key=f"{reference}:refund", reference=reference)
    txn.save(force_insert=True)
    events.publish(topic="payment.pending", payload={"transaction_id": txn.pk, "order_id": order.pk})
    return txn


# --- Begin: the pending row, in a short transaction -----------------------------------------------


def _locked(order_id: int) -> tuple[Order, Payment | None]:
    order = Order.objects.select_for_update(of=("self",)).get(pk=order_id)
    return order, Payment.objects.select_for_update().filter(pk=order_id).first()


def _existing(key: str) -> tuple[bool, PaymentTransaction | None]:
    """(whether a row has this key, the row if it is still pending: to be sent again)."""
    row = PaymentTransaction.objects.filter(idempotency_key=key).first()
    if row is None:
        return False, None
    return True, row if row.status == T.PENDING else None


def _pending(payment: Payment, kind: str) -> Decimal:
    rows = payment.transactions.filter(kind=kind, status=T.PENDING)
    return rows.aggregate(total=Sum("amount"))["total"] or ZERO


@transaction.atomic(durable=True)
def _authorize_begin(*, order_id: int) -> PaymentTransaction | None:
    order, payment = _locked(order_id)
    key = f"order:{order_id}:authorize"
    found, pending = _existing(key)
    if found:
        return pending
    if order.status == OrderStatus.CANCELLED:
        return None  # cancelled first: nothing to authorise (and nothing for the void to wait for)
    if payment is None:
        payment = Payment.objects.create(
            order=order, provider=payment_gateway().name, currency=order.currency
        )
    if payment.status != PaymentStatus.PENDING:
        return None
    due = order_amount_due(order=order)
    if due <= 0:
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.AUTHORIZED)
        return None
    txn = _txn(payment, kind=K.AUTHORIZE, amount=due, key=key)
    txn.save(force_insert=True)
    return txn


def _not_ready(order: Order, payment: Payment | None) -> PaymentRetry | None:
    """Why money cannot move yet: no payment row, or its authorisation still pending."""
    if payment is None:
        return PaymentRetry(f"order {order.number} has no payment yet")
    if payment.status == PaymentStatus.PENDING:
        return PaymentRetry(f"the payment of {order.number} is not authorised yet")
    return None


@transaction.atomic(durable=True)
def _capture_begin(
    *, order_id: int, fulfillment_order_id: int, lines: Mapping[int, int]
) -> PaymentTransaction | None:
    order, payment = _locked(order_id)
    key = f"fulfillment:{fulfillment_order_id}:capture"
    found, pending = _existing(key)
    if found:
        return pending
    not_ready = _not_ready(order, payment)
    if not_ready is not None:
        raise not_ready
    assert payment is not None  # noqa: S101 - _not_ready said so
    if payment.status == PaymentStatus.DECLINED:
        return None
    value = _shipment_value(order=order, payment=payment, lines=lines)
    amount = min(value, payment.authorized - payment.captured - _pending(payment, K.CAPTURE))
    if amount <= 0:
        return None
    txn = _txn(
        payment,
        kind=K.CAPTURE,
        amount=amount,
        key=key,
        reference=f"fulfillment:{fulfillment_order_id}",
        lines=lines,
    )
    txn.save(force_insert=True)
    return txn


def _captured_units(payment: Payment) -> dict[int, int]:
    """Units already captured or being captured, by order line."""
    units: dict[int, int] = defaultdict(int)
    rows = payment.transactions.filter(kind=K.CAPTURE).exclude(status=T.FAILED)
    for line_units in rows.values_list("lines", flat=True):
        for line_id, quantity in line_units.items():
            units[int(line_id)] += quantity
    return units


def _share(line: OrderLine, units: int) -> Decimal:
    """The value of the first ``units`` of a line: its total pro rata, rounded to the cent."""
    return quantize(line.line_total * units / line.quantity)


def _shipment_value(*, order: Order, payment: Payment, lines: Mapping[int, int]) -> Decimal:
    before = _captured_units(payment)
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=list(lines))}
    value = sum(
        (
            _share(order_lines[line_id], before[line_id] + units)
            - _share(order_lines[line_id], before[line_id])
            for line_id, units in lines.items()
            if line_id in order_lines
        ),
        ZERO,
    )
    if not before:
        value += order.shipping_total
    return value


@transaction.atomic(durable=True)
def _void_begin(*, order_id: int) -> PaymentTransaction | None:
    order, payment = _locked(order_id)
    key = f"order:{order_id}:void"
    found, pending = _existing(key)
    if found or payment is None:
        return pending
    if payment.status == PaymentStatus.PENDING:
        if order.status == OrderStatus.CANCELLED and not payment.transactions.exists():
            return None  # cancelled before the authorisation began: it will not begin
        raise PaymentRetry(f"the payment of {order.number} is not authorised yet")
    lines = list(OrderLine.objects.filter(order=order))
    if any(line.quantity_open for line in lines):
        return None  # units may still ship: their value stays authorised
    needed = sum((_share(line, line.quantity_fulfilled) for line in lines), ZERO)
    if any(line.quantity_fulfilled for line in lines):
        needed += order.shipping_total
    kept = max(needed, payment.captured + _pending(payment, K.CAPTURE))
    amount = payment.authorized - kept
    if amount <= 0:
        return None
    txn = _txn(payment, kind=K.VOID, amount=amount, key=key, reference=f"order:{order.number}")
    txn.save(force_insert=True)
    return txn


# --- Send (no transaction) and settle ---------------------------------------------------------------


def _send_and_settle(txn: PaymentTransaction) -> PaymentTransaction:
    """Call the gateway for a pending row, then settle it. Outside any transaction: every caller
    comes from a durable ``_*_begin`` (which refuses to nest) and settles in a durable one."""
    payment = Payment.objects.get(pk=txn.payment_id)
    request = PaymentRequest(
        amount=txn.amount,
        currency=txn.currency,
        idempotency_key=txn.idempotency_key,
        token=payment.token,
        authorization_reference=payment.provider_reference,
    )
    gateway = gateway_for(payment.provider)  # the gateway that holds this payment's authorisation
    calls: dict[str, Callable[[PaymentRequest], GatewayResult]] = {
        K.AUTHORIZE: gateway.authorize,
        K.CAPTURE: gateway.capture,
        K.VOID: gateway.void,
        K.REFUND: gateway.refund,
    }
    call = calls[txn.kind]
    try:
        result = call(request)
    except GatewayTransient as exc:
        PaymentTransaction.objects.filter(pk=txn.pk).update(attempts=F("attempts") + 1, error=str(exc)[:500])
        raise PaymentRetry(str(exc), transaction_id=txn.pk) from exc
    except GatewayDeclined as exc:
        return _settle(txn.pk, ok=False, error=str(exc))
    return _settle(txn.pk, ok=True, provider_reference=result.provider_reference)


# the amount a succeeded row moves, by kind: (field, sign)
_MOVES: dict[str, tuple[str, int]] = {
    K.AUTHORIZE: ("authorized", 1),
    K.CAPTURE: ("captured", 1),
    K.VOID: ("authorized", -1),
    K.REFUND: ("refunded", 1),
}
_EVENT_KIND: dict[str, str] = {
    K.AUTHORIZE: OrderEventKind.PAYMENT_AUTHORIZED,
    K.CAPTURE: OrderEventKind.PAYMENT_CAPTURED,
    K.VOID: OrderEventKind.PAYMENT_VOIDED,
    K.REFUND: OrderEventKind.PAYMENT_REFUNDED,
}


@transaction.atomic(durable=True)
def _settle(
    transaction_id: int, *, ok: bool, provider_reference: str = "", error: str = ""
) -> PaymentTransaction:
    """Settle a pending row once: its status, the payment's amounts and status, the timeline, and
    on failure of an authorisation or a capture the ``payment`` hold; ``payment.captured`` or
    ``payment.failed`` announced."""
    order_id = PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    order, payment = _locked(order_id)
    txn = PaymentTransaction.objects.select_for_update().get(pk=transaction_id)
    if txn.status != T.PENDING or payment is None:
        return txn
    txn.status = T.SUCCEEDED if ok else T.FAILED
    txn.provider_reference, txn.error, txn.settled_at = provider_reference[:128], error[:500], timezone.now()
    txn.save(update_fields=["status", "provider_reference", "error", "settled_at"])
    if ok:
        _settle_succeeded(order=order, payment=payment, txn=txn)
    else:
        _settle_failed(order=order, payment=payment, txn=txn)
    return txn


def _settle_succeeded(*, order: Order, payment: Payment, txn: PaymentTransaction) -> None:
    name, sign = _MOVES[txn.kind]
    setattr(payment, name, getattr(payment, name) + sign * txn.amount)  # the new value, for the status
    fields: dict[str, object] = {name: F(name) + sign * txn.amount, "status": _status_of(payment)}
    if txn.kind == K.AUTHORIZE and not payment.provider_reference:
        fields["provider_reference"] = txn.provider_reference
    Payment.objects.filter(pk=payment.pk).update(**fields, updated_at=timezone.now())
    order_event_record(
        order=order,
        kind=_EVENT_KIND[txn.kind],
        actor=PAYMENTS,
        message=f"{txn.get_kind_display()} of {txn.amount} {txn.currency} ({txn.provider_reference})",
        data=_event_data(txn),
    )
    if txn.kind == K.CAPTURE:
        # who paid on which channel, and how: what the kernel's loyalty earns on, in this transaction
        payload = {
            **_event_data(txn),
            "customer_id": order.customer_id,
            "channel_id": order.channel_id,
            "payment_method": payment.method,
        }
        events.publish(topic="payment.captured", payload=payload)


def _settle_failed(*, order: Order, payment: Payment, txn: PaymentTransaction) -> None:
    if txn.kind in (K.AUTHORIZE, K.CAPTURE):
        failed = PaymentStatus.DECLINED if txn.kind == K.AUTHORIZE else PaymentStatus.FAILED
        Payment.objects.filter(pk=payment.pk).update(status=failed, updated_at=timezone.now())
    order_event_record(
        order=order,
        kind=OrderEventKind.PAYMENT_FAILED,
        actor=PAYMENTS,
        message=f"{txn.get_kind_display()} of {txn.amount} {txn.currency} failed: {txn.error}",
        data={**_event_data(txn), "error": txn.error},
    )
    if txn.kind in (K.AUTHORIZE, K.CAPTURE) and order.status not in (OrderStatus.CANCELLED,):
        order_hold_place_in_transaction(
            order=order,
            reason=HoldReason.PAYMENT,
            note=f"{txn.get_kind_display()} failed: {txn.error}"[:500],
            actor=PAYMENTS,
            strict=False,
        )
    events.publish(topic="payment.failed", payload={**_event_data(txn), "error": txn.error})


def _event_data(txn: PaymentTransaction) -> dict[str, object]:
    return {
        "order_id": txn.order_id,
        "transaction_id": txn.pk,
        "kind": txn.kind,
        "amount": str(txn.amount),
        "currency": txn.currency,
        "reference": txn.reference,
    }


def _status_of(payment: Payment) -> str:
    """The payment's status from its amounts (after a succeeded row)."""
    if payment.refunded > 0:
        return (
            PaymentStatus.REFUNDED
            if payment.refunded >= payment.captured
            else PaymentStatus.PARTIALLY_REFUNDED
        )
    if payment.captured > 0:
        if payment.captured >= payment.authorized:
            return PaymentStatus.CAPTURED
        return PaymentStatus.PARTIALLY_CAPTURED
    if payment.authorized > 0:
        return PaymentStatus.AUTHORIZED
    return PaymentStatus.VOIDED
