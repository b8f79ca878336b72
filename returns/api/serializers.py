"""One input and one output serializer per endpoint. Inputs check shapes and types; the services
check meaning. Outputs are read-only shapes built from prefetched rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms.lookups import PK_MAX
from oms.money import MONEY
from returns.choices import Disposition, RefundMethod, ReturnMethod, ReturnReason, ReturnStatus
from returns.models import Refund, Return
from returns.services import ExchangeLineInput, ReceiveLineInput, ReturnLineInput

MAX_LINES = 200


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true / false (DRF would also take "yes", "on", 1 ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # pragma: no cover


# --- Inputs --------------------------------------------------------------------------------------------


class ReturnLineInputSerializer(serializers.Serializer):
    order_line = serializers.IntegerField(
        min_value=1, max_value=PK_MAX, help_text="Id of a line of the order."
    )
    quantity = serializers.IntegerField(min_value=1, max_value=settings.OMS_MAX_QUANTITY)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class ExchangeLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.OMS_MAX_QUANTITY)
    unit_price = serializers.DecimalField(**MONEY, min_value=Decimal("0"))


class ReturnCreateInput(serializers.Serializer):
    order = serializers.CharField(max_length=32, help_text="The order's id (or its number).")
    method = serializers.ChoiceField(choices=ReturnMethod.choices)
    location = serializers.CharField(max_length=64, help_text="Code of the receiving location.")
    channel = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="The returning channel's code (staff; default the order's). Channel clients return "
        "through their own channel.",
    )
    # many_init: what many=True calls, typed for the list's own arguments (allow_empty, max_length)
    lines = ReturnLineInputSerializer.many_init(allow_empty=False, min_length=1, max_length=MAX_LINES)
    exchange_lines = ExchangeLineInputSerializer.many_init(
        required=False,
        default=list,
        max_length=MAX_LINES,
        help_text="Units of a new order (on the returning channel) paid by the return's value.",
    )
    override_window = StrictBooleanField(
        required=False, default=False, help_text="A manager accepts the return past its window."
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "order_id": data["order"],
            "method": data["method"],
            "location_code": data["location"],
            "channel_code": data["channel"],
            "lines": [
                ReturnLineInput(
                    order_line_id=li["order_line"],
                    quantity=li["quantity"],
                    reason=li["reason"],
                    note=li["note"],
                )
                for li in data["lines"]
            ],
            "exchange_lines": [
                ExchangeLineInput(sku=li["sku"], quantity=li["quantity"], unit_price=li["unit_price"])
                for li in data["exchange_lines"]
            ],
            "override_window": data["override_window"],
        }


ASSOCIATE_HELP = (
    "In-person channel keys (POS, call centre) only, and required for them: the username of the "
    "associate serving the customer, an active staff member who works at the return's location (403 "
    "associate_required, associate_unknown, location_not_permitted otherwise). Recorded as who "
    "received or refunded. Staff tokens act as themselves and leave it out."
)


def associate_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=150, default="", help_text=ASSOCIATE_HELP
    )


class ReceiveLineInputSerializer(serializers.Serializer):
    return_line = serializers.IntegerField(
        min_value=1, max_value=PK_MAX, help_text="Id of a line of the return."
    )
    quantity = serializers.IntegerField(min_value=1, max_value=settings.OMS_MAX_QUANTITY)
    disposition = serializers.ChoiceField(choices=Disposition.choices)


class ReturnReceiveInput(serializers.Serializer):
    lines = ReceiveLineInputSerializer.many_init(allow_empty=False, min_length=1, max_length=MAX_LINES)
    associate = associate_field()

    def service_lines(self) -> list[ReceiveLineInput]:
        return [
            ReceiveLineInput(
                return_line_id=li["return_line"], quantity=li["quantity"], disposition=li["disposition"]
            )
            for li in self.validated_data["lines"]
        ]


class ReturnRefundInput(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
    method = serializers.ChoiceField(choices=RefundMethod.choices, default=RefundMethod.ORIGINAL_PAYMENT)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    associate = associate_field()

    def service_kwargs(self) -> dict[str, Any]:
        return {key: value for key, value in self.validated_data.items() if key != "associate"}


class ReturnCancelInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class EmptyInput(serializers.Serializer):
    """No body is needed."""


# --- Outputs -------------------------------------------------------------------------------------------


class ReturnLineSummaryOutput(serializers.Serializer):
    """A return line as an order's ``returns`` section shows it."""

    id = serializers.IntegerField()
    order_line = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    quantity_received = serializers.IntegerField()
    quantity_restocked = serializers.IntegerField()
    quantity_damaged = serializers.IntegerField()


class ReturnLineOutput(ReturnLineSummaryOutput):
    order_line = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    note = serializers.CharField()
    value = serializers.DecimalField(**MONEY)


class ReceiptOutput(serializers.Serializer):
    id = serializers.IntegerField()
    return_line = serializers.IntegerField(source="line_id")
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    received_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class RefundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    method = serializers.ChoiceField(choices=RefundMethod.choices)
    note = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class ExchangeOrderReference(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class ExchangeOrderOutput(ExchangeOrderReference):
    status = serializers.CharField()
    method = serializers.CharField()
    pickup_location = serializers.CharField(allow_null=True)
    total = serializers.DecimalField(**MONEY)

    def to_representation(self, order) -> dict[str, Any]:
        return {
            "id": order.pk,
            "number": order.number,
            "status": order.status,
            "method": order.method,
            "pickup_location": order.pickup_location.code if order.pickup_location_id else None,
            "total": f"{order.total:.2f}",
        }


class ReturnSummaryOutput(serializers.Serializer):
    """A return as an order's ``returns`` section shows it (``returns.selectors.returns_for_orders``)."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=ReturnStatus.choices)
    method = serializers.ChoiceField(choices=ReturnMethod.choices)
    channel = serializers.CharField(help_text="The returning channel's code.")
    location = serializers.CharField(help_text="The receiving location's code.")
    value = serializers.DecimalField(**MONEY, help_text="What the returned units were paid.")
    refunded = serializers.DecimalField(**MONEY, help_text="Sum of this return's refunds.")
    exchange_order = ExchangeOrderReference(allow_null=True)
    exchange_balance = serializers.DecimalField(
        **MONEY,
        allow_null=True,
        help_text="Exchange total minus the return's value: positive = the customer pays, negative = "
        "refund due.",
    )
    created_at = serializers.DateTimeField()
    lines = ReturnLineSummaryOutput(many=True)


class ReturnOutput(ReturnSummaryOutput):
    """A return with its lines, receipts and refunds."""

    order = serializers.IntegerField(source="order_id")
    order_number = serializers.CharField(source="order.number")
    channel = serializers.CharField(source="channel.code", help_text="The returning channel's code.")
    location = serializers.CharField(source="location.code", help_text="The receiving location's code.")
    window_overridden = serializers.BooleanField()
    currency = serializers.CharField(source="order.currency")
    # computed from the prefetched refunds (the summary's is a value of the section's dict)
    refunded = serializers.SerializerMethodField(help_text="Sum of this return's refunds.")  # type: ignore[assignment]
    exchange_order = ExchangeOrderOutput(allow_null=True)
    exchange_credit = serializers.DecimalField(**MONEY)
    created_by = serializers.CharField()
    updated_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField(allow_null=True)
    refunded_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    lines = ReturnLineOutput(many=True)
    receipts = ReceiptOutput(many=True)
    refunds = RefundOutput(many=True)

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_refunded(self, rma: Return) -> str:
        return f"{sum((r.amount for r in rma.refunds.all()), Decimal('0')):.2f}"


class RefundCreateOutput(RefundOutput):
    """The 201 of POST /returns/{id}/refund: the refund, and what the order may still refund."""

    return_id = serializers.IntegerField(help_text="The return's id.")
    return_status = serializers.ChoiceField(choices=ReturnStatus.choices)
    order = serializers.IntegerField(help_text="The order's id.")
    refundable = serializers.DecimalField(**MONEY, help_text="What the order may still refund.")


def refund_created_dict(refund: Refund, *, refundable: Decimal) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "return_id": refund.rma_id,
        "return_status": refund.rma.status,
        "order": refund.order_id,
        "amount": f"{refund.amount:.2f}",
        "currency": refund.currency,
        "method": refund.method,
        "note": refund.note,
        "created_by": refund.created_by,
        "created_at": serializers.DateTimeField().to_representation(refund.created_at),
        "refundable": f"{refundable:.2f}",
    }
