"""Reads of payments: the ``payments`` section of every order (GET /orders, /orders/{id}, the
customer's history) and GET /orders/{id}/payments, as plain dicts in two queries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Prefetch, QuerySet
from rest_framework.fields import DateTimeField

from oms.money import money_text
from orders.models import Payment, PaymentTransaction
from orders.selectors import SectionRead


def _when(value: Any) -> str | None:
    return DateTimeField().to_representation(value) if value is not None else None


def _transaction_dict(t: PaymentTransaction) -> dict[str, Any]:
    return {
        "id": t.pk,
        "kind": t.kind,
        "amount": money_text(t.amount),
        "currency": t.currency,
        "status": t.status,
        "provider_reference": t.provider_reference,
        "reference": t.reference,
        "error": t.error,
        "created_at": _when(t.created_at),
        "settled_at": _when(t.settled_at),
    }


def payment_dict(p: Payment) -> dict[str, Any]:
    """One payment as the API shows it (never its token), with its transactions."""
    return {
        "id": p.pk,
        "method": p.method,
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "currency": p.currency,
        "authorized": money_text(p.authorized),
        "captured": money_text(p.captured),
        "refunded": money_text(p.refunded),
        "status": p.status,
        "created_at": _when(p.created_at),
        "transactions": [_transaction_dict(t) for t in p.transactions.all()],
    }


def _payments_read(order_ids: list[int]) -> QuerySet[Payment]:
    return Payment.objects.filter(order_id__in=order_ids).prefetch_related(
        Prefetch("transactions", queryset=PaymentTransaction.objects.order_by("pk"))
    )


def _payments_build(payments: list[Payment]) -> dict[int, list[dict[str, Any]]]:
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for payment in payments:
        by_order[payment.order_id].append(payment_dict(payment))
    return dict(by_order)


# {order id: [payments]} for the orders' ``payments`` section, in two queries (the second only
# for orders with a payment).
payments_for_orders = SectionRead(queryset=_payments_read, build=_payments_build)
