"""One input and one output serializer per endpoint. Inputs check shapes and types; services check
meaning. Outputs are plain read-only shapes built from prefetched rows (no query per row)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms.api.schema import require_when
from oms.api.validation import StrictCharField, StrictFloatField, StrictIntegerField
from oms.customers import CustomerInput
from oms.lookups import PK_MAX
from oms.money import MONEY, money_text
from orders.choices import FulfillmentMethod, HoldReason, OrderStatus, ReservationStatus
from orders.models import Order, OrderEvent, OrderHold, OrderLine, Reservation
from orders.selectors import order_section_outputs
from orders.services import LineInput, OrderInput, PlacementResult

from .payment_serializers import PaymentInputSerializer, PaymentOutput

# --- Inputs --------------------------------------------------------------------------------------------


class CustomerInputSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254, default="")
    # JSON strings only (a number is 400, as elsewhere: oms/api/validation.py)
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    phone = StrictCharField(required=False, allow_blank=True, max_length=32, default="")
    external_id = StrictCharField(
        required=False, allow_blank=True, max_length=128, default="", help_text="The channel's customer id."
    )
    language = StrictCharField(required=False, allow_blank=True, max_length=8, default="")


class AddressInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    line1 = serializers.CharField(max_length=300)
    line2 = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    city = serializers.CharField(max_length=120)
    region = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    postal_code = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")
    country = serializers.CharField(max_length=2, min_length=2)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    latitude = StrictFloatField(required=False, allow_null=True, min_value=-90, max_value=90, default=None)
    longitude = StrictFloatField(required=False, allow_null=True, min_value=-180, max_value=180, default=None)


class OrderLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.OMS_MAX_QUANTITY)
    unit_price = serializers.DecimalField(**MONEY, min_value=Decimal("0"))
    tax = serializers.DecimalField(**MONEY, min_value=Decimal("0"), required=False, default=Decimal("0"))


def code_field(help_text: str) -> StrictCharField:
    """An optional code (a channel's, a store's): blank when left out."""
    return StrictCharField(required=False, allow_blank=True, max_length=64, default="", help_text=help_text)


class FulfilmentInput(serializers.Serializer):
    """What an order says of its channel and its fulfilment (POST /orders, a cart's checkout)."""

    channel = code_field("Channel code; required for staff, ignored for channel clients (their own channel).")
    method = serializers.ChoiceField(choices=FulfillmentMethod.choices)
    pickup_location = code_field("For pickup: the store's code.")
    shipping_address = AddressInput(required=False, allow_null=True, default=None)
    shipping_total = serializers.DecimalField(
        **MONEY, min_value=Decimal("0"), required=False, default=Decimal("0")
    )
    allow_backorder = serializers.BooleanField(required=False, default=False)
    allow_transfer = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Pickup only: units the store lacks are reserved at the best ship-capable location and "
        "sent to the store by a transfer order; the pickup waits (awaiting_transfer) until it is received.",
    )
    payment = PaymentInputSerializer(required=False, allow_null=True, default=None)
    loyalty_points = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=10**9,
        default=0,
        help_text="Loyalty points the customer pays with (the channel's rule values them): the card is "
        "authorised for the total less their value. 409 insufficient_points places nothing.",
    )

    def to_order_input(self, channel) -> OrderInput:
        data = self.validated_data
        address = dict(data.get("shipping_address") or {})
        latitude = address.pop("latitude", None)
        longitude = address.pop("longitude", None)
        customer = data.get("customer")
        return OrderInput(
            channel=channel,
            method=data["method"],
            lines=[
                LineInput(sku=li["sku"], quantity=li["quantity"], unit_price=li["unit_price"], tax=li["tax"])
                for li in data.get("lines", ())
            ],
            currency=data.get("currency", "").upper(),
            customer=CustomerInput(**customer) if customer else None,
            external_id=data.get("external_id", ""),
            pickup_location=data["pickup_location"],
            shipping_address=address,
            latitude=Decimal(str(round(latitude, 6))) if latitude is not None else None,
            longitude=Decimal(str(round(longitude, 6))) if longitude is not None else None,
            shipping_total=data["shipping_total"],
            allow_backorder=data["allow_backorder"],
            allow_transfer=data["allow_transfer"],
            payment=PaymentInputSerializer.to_payment_input(data.get("payment")),
            loyalty_points=data.get("loyalty_points", 0),
            nearby_radius_km=data.get("nearby_radius_km"),
        )


class OrderCreateInput(FulfilmentInput):
    external_id = StrictCharField(required=False, allow_blank=True, max_length=128, default="")
    customer = CustomerInputSerializer(required=False, allow_null=True, default=None)
    currency = StrictCharField(required=False, allow_blank=True, max_length=3, default="")
    # many_init: what many=True calls, typed for the list's own arguments (allow_empty, max_length)
    lines = OrderLineInput.many_init(allow_empty=False, min_length=1, max_length=200)
    nearby_radius_km = StrictFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=20038,  # half the Earth's circumference: every store
        default=None,
        help_text="For a pickup the store cannot supply: the 409 lists the other stores within this "
        "many km that have every unit (default: the OMS_NEARBY_STORES_RADIUS_KM setting, 50 km).",
    )


# What placement checks of the method (422 shipping_address_required / pickup_location_required), for
# POST /orders and a cart's checkout (orders.api.carts.CartCheckoutInput), which both place an order.
for _component in ("OrderCreateInputRequest", "CartCheckoutInputRequest"):
    require_when(_component, "method", (FulfillmentMethod.SHIP.value,), ("shipping_address",))
    require_when(_component, "method", (FulfillmentMethod.PICKUP.value,), ("pickup_location",))


class CancelLineInput(serializers.Serializer):
    order_line = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The order line's id.")
    quantity = serializers.IntegerField(min_value=1, max_value=settings.OMS_MAX_QUANTITY)


class OrderCancelInput(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=300, default="requested")
    lines = CancelLineInput.many_init(
        required=False,
        allow_empty=False,
        max_length=200,
        help_text="Cancel only these units (a partial cancel); left out, the whole order is cancelled.",
    )


class OrderHoldInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    note = StrictCharField(required=False, allow_blank=True, max_length=500, default="")


class OrderReleaseHoldInput(serializers.Serializer):
    hold = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=PK_MAX
    )


# --- Outputs -------------------------------------------------------------------------------------------


class CustomerSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()


class OrderLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    line_number = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    tax = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)
    quantity_backordered = serializers.IntegerField()
    quantity_cancelled = serializers.IntegerField()
    quantity_fulfilled = serializers.IntegerField()


class ReservationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    line = serializers.IntegerField(help_text="Order line id.")
    sku = serializers.CharField()
    location = serializers.CharField(help_text="Location code.")
    quantity = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReservationStatus.choices)


class OrderHoldOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    note = serializers.CharField()
    placed_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)


class TimelineEventOutput(serializers.Serializer):
    """A row of a timeline (an order's, a cart's): what happened, who did it, when."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    # the serializer metaclass pops declared fields, so Serializer.data (which mypy sees) is untouched
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="What the event recorded (its keys depend on the kind, e.g. reason, location, units)."
    )
    actor_type = serializers.CharField()
    actor_name = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrderEventOutput(TimelineEventOutput):
    message = serializers.CharField()


class AddressOutput(serializers.Serializer):
    """The delivery address as given (its coordinates are kept on the order, not here); orders
    written by other paths may carry only some of the keys."""

    name = serializers.CharField(required=False)
    line1 = serializers.CharField(required=False)
    line2 = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    region = serializers.CharField(required=False)
    postal_code = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)


class BackorderedLineOutput(serializers.Serializer):
    line = serializers.IntegerField(help_text="Order line id.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Units waiting for stock.")


def line_dict(line: OrderLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "line_number": line.line_number,
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": money_text(line.unit_price),
        "tax": money_text(line.tax),
        "line_total": money_text(line.line_total),
        "quantity_backordered": line.quantity_backordered,
        "quantity_cancelled": line.quantity_cancelled,
        "quantity_fulfilled": line.quantity_fulfilled,
    }


def reservation_dict(r: Reservation, *, sku: str, location: str) -> dict[str, Any]:
    return {
        "id": r.pk,
        "line": r.line_id,
        "sku": sku,
        "location": location,
        "quantity": r.quantity,
        "status": r.status,
    }


def _order_head(order: Order) -> dict[str, Any]:
    """The fields of ``_OrderHeadOutput`` (the order's channel, pickup location and customer loaded)."""
    customer = order.customer
    return {
        "id": order.pk,
        "number": order.number,
        "external_id": order.external_id,
        "status": order.status,
        "channel": order.channel.code,
        "customer": (
            {"id": customer.pk, "email": customer.email, "name": customer.name, "phone": customer.phone}
            if customer is not None
            else None
        ),
        "method": order.method,
        "pickup_location": order.pickup_location.code if order.pickup_location is not None else None,
        "shipping_address": order.shipping_address or None,
        "currency": order.currency,
        "subtotal": money_text(order.subtotal),
        "tax_total": money_text(order.tax_total),
        "shipping_total": money_text(order.shipping_total),
        "total": money_text(order.total),
        "allow_backorder": order.allow_backorder,
        "created_at": serializers.DateTimeField().to_representation(order.created_at),
    }


class _OrderHeadOutput(serializers.Serializer):
    """The fields every answer about one order starts with (``_order_head``)."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    channel = serializers.CharField()
    customer = CustomerSummaryOutput(allow_null=True)
    method = serializers.ChoiceField(choices=FulfillmentMethod.choices)
    pickup_location = serializers.CharField(allow_null=True)
    shipping_address = AddressOutput(allow_null=True)
    currency = serializers.CharField()
    subtotal = serializers.DecimalField(**MONEY)
    tax_total = serializers.DecimalField(**MONEY)
    shipping_total = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    allow_backorder = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class OrderOutput(_OrderHeadOutput):
    """An order with its lines, reservations, holds, fulfilment orders and (in detail) timeline."""

    channel = serializers.CharField(help_text="Channel code.")
    updated_at = serializers.DateTimeField()
    lines = OrderLineOutput(many=True)
    reservations = ReservationOutput(many=True)
    holds = OrderHoldOutput(many=True)
    events = OrderEventOutput(many=True, required=False, help_text="Only in GET /orders/{id}.")
    payments = PaymentOutput(many=True, required=False, help_text="The order's payments and their ledger.")

    def get_fields(self) -> dict[str, serializers.Field]:
        """The declared fields and, for the schema, those of the sections other apps add
        (``fulfillment_orders``, ``returns``, ``exchange_for``), each documented by its app."""
        fields = super().get_fields()
        for name, output in order_section_outputs().items():
            fields.setdefault(name, output())
        return fields

    def to_representation(self, order: Order) -> dict[str, Any]:
        data = _order_head(order)
        data["updated_at"] = serializers.DateTimeField().to_representation(order.updated_at)
        data["lines"] = [line_dict(line) for line in order.lines.all()]
        data["reservations"] = [
            reservation_dict(r, sku=r.product.sku, location=r.location.code) for r in order.reservations.all()
        ]
        data["holds"] = [_hold_dict(h) for h in order.holds.all()]
        sections = getattr(order, "sections", {})
        data["fulfillment_orders"] = sections.get("fulfillment_orders") or []
        for name, value in sections.items():
            data.setdefault(name, value)
        if self.context.get("with_events"):
            data["events"] = [_event_dict(e) for e in order.events.all()]
        return data


def _hold_dict(h: OrderHold) -> dict[str, Any]:
    dt = serializers.DateTimeField()
    return {
        "id": h.pk,
        "reason": h.reason,
        "note": h.note,
        "placed_by": h.placed_by,
        "created_at": dt.to_representation(h.created_at),
        "released_at": dt.to_representation(h.released_at) if h.released_at else None,
    }


def _event_dict(e: OrderEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "message": e.message,
        "data": e.data,
        "actor_type": e.actor_type,
        "actor_name": e.actor_name,
        "created_at": serializers.DateTimeField().to_representation(e.created_at),
    }


class OrderCreateOutput(_OrderHeadOutput):
    """The 201 of POST /orders (also replayed for a repeated Idempotency-Key)."""

    lines = OrderLineOutput(many=True)
    reservations = ReservationOutput(many=True)
    backordered = BackorderedLineOutput(many=True, help_text="Units waiting for stock.")


def placement_response(result: PlacementResult) -> dict[str, Any]:
    """Build the 201 body from the rows the service just wrote, without another query."""
    order = result.order
    sku_by_line = {line.pk: line.sku for line in result.lines}
    data = _order_head(order)
    data["lines"] = [line_dict(line) for line in result.lines]
    data["reservations"] = [
        reservation_dict(r, sku=sku_by_line[r.line_id], location=result.location_codes[r.location_id])
        for r in result.reservations
    ]
    data["backordered"] = [
        {"line": line.pk, "sku": line.sku, "quantity": line.quantity_backordered}
        for line in result.lines
        if line.quantity_backordered
    ]
    return data


class CustomerOutput(CustomerSummaryOutput):
    language = serializers.CharField()
    created_at = serializers.DateTimeField()
    channel_refs = serializers.SerializerMethodField(help_text="The channels' own ids for this customer.")

    @extend_schema_field(serializers.ListField(child=serializers.DictField(child=serializers.CharField())))
    def get_channel_refs(self, customer) -> list[dict[str, str]]:
        refs = customer.channel_refs.all()
        return [{"channel": ref.channel.code, "external_id": ref.external_id} for ref in refs]
