"""The order-change endpoints: ``POST /orders/{id}/changes`` (``?preview=true``, or
``POST /orders/{id}/changes/preview``, computes without keeping anything), ``GET /orders/{id}/changes``,
and the line-level partial cancel that ``POST /orders/{id}/cancel`` takes with ``lines``. Mixed into
the order viewset; the views parse, call ``order_change`` and render."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.actors import Actor
from oms.api.schema import require_when
from oms.api.validation import StrictBooleanField, StrictCharField
from oms.api.viewsets import checked_body
from oms.authentication import actor_from_request
from oms.lookups import pk_or_none
from oms.money import MONEY, money_text
from orders.choices import ChangeRequestStatus, FulfillmentMethod, OrderChangeKind
from orders.models import OrderChange
from orders.selectors import order_changes, order_detail_of, order_get_for_actor
from orders.services import ChangeInput, ChangeOperation, ChangeResult, order_change
from orders.services.changes import ChangeRenderer, order_change_check_actor

from .idempotency import IDEMPOTENCY_HEADER, idempotency_claim
from .serializers import AddressInput, OrderOutput

K = OrderChangeKind

# The fields each kind of operation needs (the others are ignored).
_REQUIRED: dict[str, tuple[str, ...]] = {
    K.ADD_LINE: ("sku", "quantity", "unit_price"),
    K.REMOVE_LINE: ("order_line",),
    K.CHANGE_QUANTITY: ("order_line", "quantity"),
    K.CANCEL_UNITS: ("order_line", "quantity"),
    K.CHANGE_ADDRESS: ("shipping_address",),
    K.CHANGE_METHOD: ("method",),
    K.CHANGE_PICKUP_STORE: ("pickup_location",),
}
for _kind, _needed in _REQUIRED.items():
    require_when("ChangeOperationInputRequest", "op", (str(_kind),), _needed)
require_when("ChangeOperationInputRequest", "method", (FulfillmentMethod.PICKUP.value,), ("pickup_location",))
require_when("ChangeOperationInputRequest", "method", (FulfillmentMethod.SHIP.value,), ("shipping_address",))


class ChangeOperationInput(serializers.Serializer):
    op = serializers.ChoiceField(choices=OrderChangeKind.choices, help_text="What the operation does.")
    order_line = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The order line's id."
    )
    quantity = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=settings.OMS_MAX_QUANTITY,
        help_text="add_line: units; change_quantity: the line's new number of units (0 cancels it); "
        "cancel_units: how many to cancel.",
    )
    sku = StrictCharField(required=False, max_length=64)
    unit_price = serializers.DecimalField(**MONEY, required=False, min_value=Decimal("0"))
    tax = serializers.DecimalField(**MONEY, required=False, min_value=Decimal("0"), default=Decimal("0"))
    method = serializers.ChoiceField(choices=FulfillmentMethod.choices, required=False)
    pickup_location = StrictCharField(required=False, max_length=64, help_text="A store code.")
    shipping_address = AddressInput(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in _REQUIRED[attrs["op"]] if attrs.get(name) in (None, "")]
        if attrs["op"] == K.CHANGE_METHOD and attrs.get("method") == FulfillmentMethod.PICKUP:
            missing += [] if attrs.get("pickup_location") else ["pickup_location"]
        if attrs["op"] == K.CHANGE_METHOD and attrs.get("method") == FulfillmentMethod.SHIP:
            missing += [] if attrs.get("shipping_address") else ["shipping_address"]
        if missing:
            raise serializers.ValidationError({name: [f"Required for {attrs['op']}."] for name in missing})
        return attrs

    @staticmethod
    def to_operation(data: dict[str, Any]) -> ChangeOperation:
        address = dict(data.get("shipping_address") or {})
        latitude, longitude = address.pop("latitude", None), address.pop("longitude", None)
        return ChangeOperation(
            kind=data["op"],
            order_line=data.get("order_line"),
            quantity=data.get("quantity"),
            sku=data.get("sku", ""),
            unit_price=data.get("unit_price"),
            tax=data.get("tax", Decimal("0")),
            method=data.get("method", ""),
            pickup_location=data.get("pickup_location", ""),
            shipping_address=address or None,
            latitude=Decimal(str(round(latitude, 6))) if latitude is not None else None,
            longitude=Decimal(str(round(longitude, 6))) if longitude is not None else None,
        )


class OrderChangeInput(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=300, default="")
    wait_for_location = StrictBooleanField(
        required=False,
        default=False,
        help_text="true: a change that needs units a location has accepted waits for that location to "
        "confirm (202, an order change request) instead of 409 fulfillment_in_progress.",
    )
    operations = ChangeOperationInput.many_init(allow_empty=False, min_length=1, max_length=50)

    def to_change_input(self) -> ChangeInput:
        data = self.validated_data
        return ChangeInput(
            operations=[ChangeOperationInput.to_operation(op) for op in data["operations"]],
            reason=data["reason"],
        )


class OrderChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    revision = serializers.IntegerField(help_text="The change request this operation was part of (1, 2 ...).")
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=OrderChangeKind.choices)
    order_line = serializers.IntegerField(source="line_id", allow_null=True)
    reason = serializers.CharField()
    before = serializers.DictField()
    after = serializers.DictField()
    money_delta = serializers.DecimalField(**MONEY, help_text="What it changed of the total.")
    actor_type = serializers.CharField()
    actor_name = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True, help_text="Null in a preview.")


class ChangeRequestOutput(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField(source="order_id")
    status = serializers.ChoiceField(choices=ChangeRequestStatus.choices)
    operations = serializers.ListField(child=serializers.DictField(), help_text="As requested.")
    reason = serializers.CharField()
    location_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The locations asked.")
    confirmed_location_ids = serializers.ListField(child=serializers.IntegerField())
    actor_type = serializers.CharField()
    actor_name = serializers.CharField()
    answered_by = serializers.CharField()
    answer = serializers.CharField(help_text="Why it was refused.")
    revision = serializers.IntegerField(allow_null=True, help_text="The change it became, once applied.")
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)


class ChangeRequestWaitOutput(serializers.Serializer):
    request = ChangeRequestOutput(help_text="The change, waiting for the locations to confirm.")


class OrderChangeResultOutput(serializers.Serializer):
    preview = serializers.BooleanField(help_text="True: computed only, nothing was kept.")
    revision = serializers.IntegerField()
    money_delta = serializers.DecimalField(**MONEY, help_text="New total minus old total.")
    released_units = serializers.IntegerField(help_text="Held units given back to sale.")
    reserved_units = serializers.IntegerField(help_text="Units newly held.")
    backordered_units = serializers.IntegerField(help_text="Units newly waiting for stock.")
    changes = OrderChangeOutput(many=True)
    order = OrderOutput(help_text="The order as the change leaves it.")


def change_dict(change: OrderChange) -> dict[str, Any]:
    return dict(OrderChangeOutput(change).data)


def _renderer(actor: Actor) -> ChangeRenderer:
    def render(result: ChangeResult) -> dict[str, Any]:
        if result.request is not None:
            return {"request": dict(ChangeRequestOutput(result.request).data)}
        order = order_detail_of(result.order, lines=result.lines)
        return {
            "preview": result.preview,
            "revision": result.revision,
            "money_delta": money_text(result.money_delta),
            "released_units": result.released_units,
            "reserved_units": result.reserved_units,
            "backordered_units": result.backordered_units,
            "changes": [change_dict(c) for c in result.changes],
            "order": OrderOutput(order, context={"with_events": True}).data,
        }

    return render


PREVIEW_PARAMETER = OpenApiParameter(
    "preview", bool, required=False, description="true: compute the change and answer it, keeping nothing."
)
CHANGE_EXAMPLES = [
    OpenApiExample(
        "Add a line and take one unit off another",
        request_only=True,
        value={
            "reason": "customer called",
            "operations": [
                {"op": "add_line", "sku": "CHI-BLA-M-054", "quantity": 1, "unit_price": "199000"},
                {"op": "change_quantity", "order_line": 12, "quantity": 1},
            ],
        },
    ),
    OpenApiExample(
        "Collect in store instead",
        request_only=True,
        value={"operations": [{"op": "change_method", "method": "pickup", "pickup_location": "st-hcm-d1"}]},
    ),
]
CHANGE_ERRORS = (
    "409 fulfillment_in_progress (a location has started on the units), units_already_fulfilled, "
    "insufficient_stock (nothing changed), order_not_changeable; 422 unknown_order_line, "
    "quantity_exceeds_open, quantity_unchanged ..."
)


class OrderChangeActions:
    """``changes`` and ``changes/preview`` on the order viewset."""

    @extend_schema(
        methods=["POST"],
        request=OrderChangeInput,
        responses={201: OrderChangeResultOutput, 200: OrderChangeResultOutput, 202: ChangeRequestWaitOutput},
        parameters=[PREVIEW_PARAMETER, IDEMPOTENCY_HEADER],
        examples=CHANGE_EXAMPLES,
        summary="Change an order",
        description="Apply the operations in one transaction, all or nothing: units a location has "
        "not started on are given back or moved, more units are sourced and held, the total is "
        f"recomputed and the payment follows. Idempotency-Key as on POST /orders. {CHANGE_ERRORS}",
    )
    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: OrderChangeOutput(many=True)},
        summary="The order's changes",
        description="Every operation applied to the order after placement, oldest first.",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def changes(self, request: Request, pk: str = "") -> Response:
        actor = actor_from_request(request)
        if request.method == "GET":
            order = order_get_for_actor(order_id=pk, actor=actor)
            return Response([change_dict(c) for c in order_changes(order_id=order.pk)])
        preview = request.query_params.get("preview", "").lower() in ("1", "true", "yes")
        return _change(request, pk, actor=actor, preview=preview)

    @extend_schema(
        request=OrderChangeInput,
        responses={200: OrderChangeResultOutput, 202: ChangeRequestWaitOutput},
        examples=CHANGE_EXAMPLES,
        summary="Preview an order change",
        description="What the change would do (lines, totals, reservations, money delta), computed in "
        f"a transaction that is rolled back: nothing is kept. {CHANGE_ERRORS}",
    )
    @action(
        detail=True, methods=["post"], url_path="changes/preview", pagination_class=None, filter_backends=[]
    )
    def changes_preview(self, request: Request, pk: str = "") -> Response:
        return _change(request, pk, actor=actor_from_request(request), preview=True)


def _change(request: Request, pk: str, *, actor: Actor, preview: bool) -> Response:
    order_id = pk_or_none(pk)
    if order_id is None:  # an order number: its id
        order_id = _visible_order_id(pk, actor)
    try:
        body = checked_body(OrderChangeInput, request)
        claim = None if preview else idempotency_claim(request, actor)
    except Exception:
        _visible_order_id(pk, actor)  # 404, then 403, before the body's 422
        raise
    # the change locks the order with the same checks (404, 403): no read of it beforehand
    result = order_change(
        order_id=order_id,
        data=body.to_change_input(),
        actor=actor,
        preview=preview,
        wait_for_location=body.validated_data["wait_for_location"],
        idempotency=claim,
        render=_renderer(actor),
    )
    response = Response(result.response, status=result.status_code)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _visible_order_id(pk: str, actor: Actor) -> int:
    """The order's id if the actor may see it (404) and change it (403)."""
    order = order_get_for_actor(order_id=pk, actor=actor)
    order_change_check_actor(order=order, actor=actor)
    return order.pk


def cancel_lines_change(lines: list[dict[str, int]], reason: str) -> ChangeInput:
    """The partial cancel of ``POST /orders/{id}/cancel`` with ``lines``, as an order change."""
    return ChangeInput(
        operations=[
            ChangeOperation(kind=K.CANCEL_UNITS, order_line=line["order_line"], quantity=line["quantity"])
            for line in lines
        ],
        reason=reason,
    )
