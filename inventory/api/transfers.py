"""Transfer orders in REST API v1: ``POST/GET /transfers``, ``GET /transfers/{id}``,
``POST /transfers/{id}/ship|receive|cancel``. Parse, call one service or selector, format."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from inventory.choices import TransferStatus
from inventory.models import TransferOrder
from inventory.services import location_get_by_code, product_get_by_sku
from inventory.transfers.selectors import transfer_get_for_actor, transfer_queryset_for_actor
from inventory.transfers.services import (
    TransferItem,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)
from oms.api.filters import StrictFilterSet
from oms.api.parsers import SizeLimitedJSONParser
from oms.api.validation import StrictCharField, StrictIntegerField, parse_input
from oms.api.viewsets import NewestFirstViewSet
from oms.authentication import actor_from_request
from oms.permissions import IsStaff

# --- serializers ------------------------------------------------------------------------------------


class TransferLineInput(serializers.Serializer):
    sku = StrictCharField(max_length=64)
    quantity = StrictIntegerField()


class TransferCreateInput(serializers.Serializer):
    source = StrictCharField(max_length=64, help_text="The code of the location the units leave.")  # type: ignore[assignment]
    destination = StrictCharField(max_length=64, help_text="The code of the location they go to.")
    lines = TransferLineInput(many=True, allow_empty=False)
    note = StrictCharField(max_length=300, required=False, default="")


class TransferShipInput(serializers.Serializer):
    carrier = StrictCharField(max_length=64, required=False, default="")
    tracking_number = StrictCharField(max_length=128, required=False, default="")


class TransferReceiveInput(serializers.Serializer):
    lines = TransferLineInput(
        many=True, required=False, help_text="What arrived; empty or absent: everything still in transit."
    )
    idempotency_key = StrictCharField(
        max_length=100,
        required=False,
        default="",
        help_text="A receipt repeated with the same key changes nothing (also the Idempotency-Key header).",
    )


class TransferCancelInput(serializers.Serializer):
    reason = StrictCharField(max_length=300, required=False, default="")


class TransferLineOutput(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField(help_text="Asked for (reserved at the source until shipped).")
    shipped = serializers.IntegerField()
    received = serializers.IntegerField()
    in_transit = serializers.IntegerField(help_text="Shipped, not yet received.")


class TransferOutput(serializers.ModelSerializer):
    """A transfer as the API answers it (read only: every change goes through a service)."""

    source = serializers.CharField(source="source.code")  # type: ignore[assignment]
    destination = serializers.CharField(source="destination.code")
    order = serializers.IntegerField(source="order_id", allow_null=True, help_text="The order it serves.")
    lines = TransferLineOutput(many=True)

    class Meta:
        model = TransferOrder
        fields = (
            "id",
            "number",
            "source",
            "destination",
            "status",
            "order",
            "order_number",
            "note",
            "expected_on",
            "carrier",
            "tracking_number",
            "created_by",
            "shipped_by",
            "received_by",
            "cancelled_by",
            "created_at",
            "shipped_at",
            "received_at",
            "cancelled_at",
            "lines",
        )
        read_only_fields = fields


class TransferFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=TransferStatus.choices)
    source = django_filters.CharFilter(field_name="source__code")
    destination = django_filters.CharFilter(field_name="destination__code")

    class Meta:
        model = TransferOrder
        fields: list[str] = []


def _items(lines: Sequence[dict[str, Any]] | None) -> list[TransferItem]:
    return [
        TransferItem(product=product_get_by_sku(sku=line["sku"]), quantity=line["quantity"])
        for line in lines or []
    ]


_ID = [OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)]


def _receipt(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The receive service's arguments: the lines as items, the key from the body or the header."""
    key = data["idempotency_key"] or request.headers.get("Idempotency-Key", "")[:100]
    return {"items": _items(data.get("lines")), "idempotency_key": key}


def _step(
    name: str,
    body: type[serializers.Serializer],
    arguments: Callable[[Request, dict[str, Any]], dict[str, Any]],
    service: Callable[..., TransferOrder],
) -> Any:
    """The action ``POST /transfers/{id}/<name>``: ``body`` parsed, ``service`` called for the
    transfer the actor may see with the ``arguments`` made of the body (the service checks that the
    actor may act at the right end)."""

    def step(self: TransferViewSet, request: Request, pk: str | None = None) -> Response:
        data = parse_input(body, request.data)
        actor = actor_from_request(request)
        transfer = transfer_get_for_actor(transfer_id=pk, actor=actor)
        return self._answer(service(transfer_id=transfer.pk, actor=actor, **arguments(request, data)))

    step.__name__ = name
    return extend_schema(request=body, responses={200: TransferOutput}, parameters=_ID)(
        action(detail=True, methods=["post"])(step)
    )


# --- views ------------------------------------------------------------------------------------------


class TransferViewSet(NewestFirstViewSet):
    """Stock moving between locations. Managers everywhere; an associate sees the transfers of their
    locations, creates and ships at the source, receives at the destination."""

    permission_classes = [IsStaff]
    parser_classes = [SizeLimitedJSONParser]
    serializer_class = TransferOutput
    filterset_class = TransferFilter
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return transfer_queryset_for_actor(actor_from_request(self.request))

    def _answer(self, transfer: TransferOrder, status: int = 200) -> Response:
        fresh = transfer_queryset_for_actor(actor_from_request(self.request)).filter(pk=transfer.pk).first()
        return Response(TransferOutput(fresh or transfer).data, status=status)

    @extend_schema(parameters=_ID)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(transfer_get_for_actor(transfer_id=pk, actor=actor_from_request(request)))

    @extend_schema(request=TransferCreateInput, responses={201: TransferOutput})
    def create(self, request: Request) -> Response:
        data = parse_input(TransferCreateInput, request.data)
        transfer = transfer_create(
            source=location_get_by_code(code=data["source"]),
            destination=location_get_by_code(code=data["destination"]),
            items=_items(data["lines"]),
            actor=actor_from_request(request),
            note=data["note"],
        )
        return self._answer(transfer, status=201)

    ship = _step("ship", TransferShipInput, lambda request, data: data, transfer_ship)
    receive = _step("receive", TransferReceiveInput, _receipt, transfer_receive)
    cancel = _step("cancel", TransferCancelInput, lambda request, data: data, transfer_cancel)
