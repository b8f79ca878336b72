from __future__ import annotations

from rest_framework import serializers

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder
from oms.api.validation import StrictCharField
from orders.choices import FulfillmentMethod


class FulfillmentOrderLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    line = serializers.IntegerField(source="order_line_id", help_text="Order line id.")
    sku = serializers.CharField(source="order_line.sku")
    name = serializers.CharField(source="order_line.name")
    quantity = serializers.IntegerField()


class FulfillmentOrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    order = serializers.IntegerField(source="order_id")
    order_number = serializers.CharField(source="order.number")
    location = serializers.CharField(source="location.code")
    method = serializers.ChoiceField(choices=FulfillmentMethod.choices)
    status = serializers.ChoiceField(choices=FulfillmentStatus.choices)
    customer_name = serializers.SerializerMethodField()
    reject_reason = serializers.CharField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    ready_at = serializers.DateTimeField(allow_null=True)
    pickup_expires_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    pickup_code_locked = serializers.SerializerMethodField(
        help_text="Too many wrong pickup codes: hand-over refused until a manager sends a new code."
    )
    lines = FulfillmentOrderLineOutput(many=True)

    def get_pickup_code_locked(self, fo: FulfillmentOrder) -> bool:
        return fo.pickup_code_locked_at is not None

    def get_customer_name(self, fo: FulfillmentOrder) -> str:
        customer = fo.order.customer
        return customer.name if customer is not None else ""


class ShipInput(serializers.Serializer):
    carrier = StrictCharField(max_length=64)
    tracking_number = StrictCharField(max_length=128)


class RejectInput(serializers.Serializer):
    reason = StrictCharField(max_length=300)  # a JSON string: 12 is refused, not made "12"


class PickedUpInput(serializers.Serializer):
    pickup_code = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text=(
            "The code from the customer's ready-for-pickup e-mail. Checked when given (422 "
            "pickup_code_mismatch; 409 pickup_code_locked after too many wrong codes); optional "
            "unless the OMS_API_PICKUP_CODE_REQUIRED setting is on (422 pickup_code_required)."
        ),
    )


class EmptyInput(serializers.Serializer):
    """No body is needed."""


class FulfillmentOrderLineSummary(serializers.Serializer):
    line = serializers.IntegerField(help_text="Order line id.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField()


class FulfillmentOrderSummary(FulfillmentOrderOutput):
    """A fulfilment order as its order shows it (the ``fulfillment_orders`` section that
    ``fulfillment.selectors.fulfillment_orders_for_orders`` builds): the work's identity, status
    and tracking; the rest is at ``GET /fulfillment-orders/{id}``."""

    # None drops a field of FulfillmentOrderOutput (DRF); the stubs know only fields
    order = order_number = method = customer_name = reject_reason = None  # type: ignore[assignment]
    created_at = accepted_at = ready_at = completed_at = pickup_code_locked = None  # type: ignore[assignment]
    lines = FulfillmentOrderLineSummary(many=True)  # type: ignore[assignment]
