"""The payment shapes of the orders API: the optional ``payment`` of POST /orders and the
read-only ``payments`` of an order (GET /orders/{id}, GET /orders/{id}/payments)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from oms.api.validation import StrictCharField
from oms.money import MONEY
from orders.choices import PaymentStatus, PaymentTransactionKind, PaymentTransactionStatus
from orders.services import PaymentInput


class PaymentInputSerializer(serializers.Serializer):
    """Authorised by the storefront (``provider_reference``, ``authorized_amount`` defaulting to the
    total), or a ``token`` for the OMS to authorise. Absent: the OMS authorises the total."""

    method = StrictCharField(required=False, allow_blank=True, max_length=32, default="card")
    token = StrictCharField(required=False, allow_blank=True, max_length=255, default="")
    provider_reference = StrictCharField(required=False, allow_blank=True, max_length=128, default="")
    authorized_amount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0"), required=False, allow_null=True, default=None
    )

    @staticmethod
    def to_payment_input(data: dict | None) -> PaymentInput | None:
        if data is None:
            return None
        return PaymentInput(
            method=data["method"] or "card",
            token=data["token"],
            provider_reference=data["provider_reference"],
            authorized_amount=data["authorized_amount"],
        )


class PaymentTransactionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PaymentTransactionKind.choices)
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=PaymentTransactionStatus.choices)
    provider_reference = serializers.CharField()
    reference = serializers.CharField(
        help_text="What it is for: fulfillment:<id>, refund:<id>, order:<number>."
    )
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)


class PaymentOutput(serializers.Serializer):
    """An order's payment: 0 <= refunded <= captured <= authorized, and its ledger."""

    id = serializers.IntegerField()
    method = serializers.CharField()
    provider = serializers.CharField()
    provider_reference = serializers.CharField()
    currency = serializers.CharField()
    authorized = serializers.DecimalField(**MONEY)
    captured = serializers.DecimalField(**MONEY)
    refunded = serializers.DecimalField(**MONEY)
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    created_at = serializers.DateTimeField()
    transactions = PaymentTransactionOutput(many=True)
