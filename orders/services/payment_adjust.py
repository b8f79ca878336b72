"""The payment after an order change: the authorisation follows the order's new total, once per
change. More to pay: the difference is authorised (an incremental authorisation). Less: what the
total no longer needs is voided, never below what is captured or being captured (a change only
touches units not shipped, so nothing captured is ever given back here: refunds are for returns).
It composes the same begin (short transaction) / send (no transaction) / settle steps as every
other movement of money (``orders.services.payments``)."""

from __future__ import annotations

from django.db import transaction

from orders.choices import OrderStatus, PaymentStatus
from orders.models import PaymentTransaction

from .payments import K, PaymentRetry, _existing, _locked, _pending, _send_and_settle, _txn, order_amount_due

_SETTLED_OUT = frozenset({PaymentStatus.DECLINED, PaymentStatus.FAILED, PaymentStatus.VOIDED})


def payment_adjust_for_change(*, order_id: int, revision: int) -> PaymentTransaction | None:
    """Bring the authorisation to the changed order's total, once for the change ``revision``;
    a no-op when it matches already, before the first authorisation (which takes the new total)
    and once the order is cancelled (the void of the remainder does it). ``PaymentRetry`` while the
    authorisation is pending or the gateway fails."""
    txn = _adjust_begin(order_id=order_id, revision=revision)
    return _send_and_settle(txn) if txn is not None else None


@transaction.atomic(durable=True)
def _adjust_begin(*, order_id: int, revision: int) -> PaymentTransaction | None:
    order, payment = _locked(order_id)
    if payment is None or order.status == OrderStatus.CANCELLED:
        return None
    keys = {kind: f"order:{order_id}:change:{revision}:{kind}" for kind in (K.AUTHORIZE, K.VOID)}
    for key in keys.values():
        found, pending = _existing(key)
        if found:
            return pending
    if payment.status == PaymentStatus.PENDING:
        if not payment.transactions.exists():
            return None  # the authorisation has not begun: it will take the new total
        raise PaymentRetry(f"the payment of {order.number} is not authorised yet")
    if payment.status in _SETTLED_OUT:
        return None
    authorized = payment.authorized + _pending(payment, K.AUTHORIZE) - _pending(payment, K.VOID)
    reference = f"change:{order.number}:{revision}"
    due = order_amount_due(order=order)  # the total less what loyalty points paid
    if due > authorized:
        txn = _txn(
            payment,
            kind=K.AUTHORIZE,
            amount=due - authorized,
            key=keys[K.AUTHORIZE],
            reference=reference,
        )
    else:
        floor = max(due, payment.captured + _pending(payment, K.CAPTURE))
        if authorized <= floor:
            return None
        txn = _txn(payment, kind=K.VOID, amount=authorized - floor, key=keys[K.VOID], reference=reference)
    txn.save(force_insert=True)
    return txn
