"""A customer's loyalty points over the API: ``GET /customers/{id}/loyalty`` (balance, number,
debt, recent entries), ``GET /customers/{id}/loyalty/entries`` (the ledger, paginated) and
``POST /customers/{id}/loyalty/burn``. A channel sees the loyalty of the customers it may see
(the customers' rule); the balance is the same on every channel, at once. docs/loyalty.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.pagination import NewestFirstCursorPagination
from oms.api.validation import StrictCharField, StrictIntegerField
from oms.api.viewsets import checked_body
from oms.authentication import actor_from_request
from oms.lookups import channel_by_code
from oms.loyalty.choices import LoyaltyEntryKind
from oms.loyalty.selectors import loyalty_entries, loyalty_recent_entries
from oms.loyalty.services import loyalty_account_open
from oms.models import LoyaltyAccount
from oms.money import MONEY
from orders.selectors import customer_get_for_actor, order_get_for_actor
from orders.services import order_points_burn

if TYPE_CHECKING:
    from rest_framework.viewsets import GenericViewSet as _ViewSet
else:
    _ViewSet = object


class LoyaltyEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LoyaltyEntryKind.choices)
    points = serializers.IntegerField(help_text="Signed: earned and adjusted up positive, spent negative.")
    debt = serializers.IntegerField(source="debt_delta", help_text="Debt recorded (+), settled (-).")
    order = serializers.IntegerField(source="order_id", allow_null=True)
    reference = serializers.CharField()
    amount = serializers.DecimalField(**MONEY, allow_null=True, help_text="Money earned on, or value burnt.")
    currency = serializers.CharField()
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    actor = serializers.CharField(source="actor_name")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class LoyaltyOutput(serializers.Serializer):
    customer = serializers.IntegerField(source="customer_id")
    loyalty_number = serializers.CharField(help_text="The number the customer quotes in a store.")
    balance = serializers.IntegerField(help_text="Spendable points, on every channel.")
    debt = serializers.IntegerField(
        help_text="Points reversed after they were spent; the next earns settle it."
    )
    entries = serializers.SerializerMethodField(help_text="The newest ledger entries.")

    @extend_schema_field(LoyaltyEntryOutput(many=True))
    def get_entries(self, account: LoyaltyAccount) -> list[dict[str, Any]]:
        return list(LoyaltyEntryOutput(loyalty_recent_entries(account=account), many=True).data)


class LoyaltyBurnInput(serializers.Serializer):
    points = StrictIntegerField(min_value=1, max_value=10**9)
    order = StrictCharField(
        required=False,
        max_length=64,
        help_text="Id or number of the customer's open order the points pay for.",
    )
    channel = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Staff without an order: the channel the points are burnt on.",
    )


class LoyaltyBurnOutput(serializers.Serializer):
    entry = LoyaltyEntryOutput()
    balance = serializers.IntegerField()
    value = serializers.DecimalField(**MONEY, help_text="What the points paid, in the channel's currency.")
    currency = serializers.CharField()


def _burn_channel(request: Request, code: str | None) -> int | None:
    actor = actor_from_request(request)
    if actor.is_channel:
        return actor.channel_id
    if not code:
        return None
    return channel_by_code(code).pk


BURN_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A repeat from the same client with the same key answers the first burn (200).",
)
BURN_EXAMPLE = OpenApiExample(
    "Not enough points (409)",
    response_only=True,
    status_codes=["409"],
    value={
        "code": "insufficient_points",
        "message": "The customer has 40 point(s), not 100.",
        "extra": {"balance": 40, "points": 100},
    },
)


class CustomerLoyaltyActions(_ViewSet):
    """The loyalty actions of ``CustomerViewSet`` (a mixin: the view set gives the pagination)."""

    def _account(self, request: Request, pk: str | None) -> LoyaltyAccount:
        customer = customer_get_for_actor(customer_id=pk or "", actor=actor_from_request(request))
        return loyalty_account_open(customer_id=customer.pk)

    @extend_schema(responses={200: LoyaltyOutput})
    @action(detail=True, methods=["get"], url_path="loyalty")
    def loyalty(self, request: Request, pk: str | None = None) -> Response:
        """The customer's points (the account is opened, with its loyalty number, on first use)."""
        return Response(LoyaltyOutput(self._account(request, pk)).data)

    @extend_schema(responses={200: LoyaltyEntryOutput(many=True)})
    @action(
        detail=True,
        methods=["get"],
        url_path="loyalty/entries",
        pagination_class=NewestFirstCursorPagination,
    )
    def loyalty_entries(self, request: Request, pk: str | None = None) -> Response:
        """The customer's points ledger, newest first."""
        page = self.paginate_queryset(loyalty_entries(account=self._account(request, pk))) or []
        return self.get_paginated_response(LoyaltyEntryOutput(page, many=True).data)

    @extend_schema(
        parameters=[BURN_KEY],
        request=LoyaltyBurnInput,
        responses={201: LoyaltyBurnOutput, 200: LoyaltyBurnOutput},
        examples=[BURN_EXAMPLE],
    )
    @action(detail=True, methods=["post"], url_path="loyalty/burn")
    def loyalty_burn(self, request: Request, pk: str | None = None) -> Response:
        """Pay with points: 201 with the entry, or the first burn again (200) for a repeated
        Idempotency-Key; 409 insufficient_points."""
        body = checked_body(LoyaltyBurnInput, request).validated_data
        actor = actor_from_request(request)
        customer = customer_get_for_actor(customer_id=pk or "", actor=actor)
        order_id = None
        if body.get("order"):
            order_id = order_get_for_actor(order_id=body["order"], actor=actor).pk
        key = request.headers.get("Idempotency-Key", "")[:64]
        burn = order_points_burn(
            customer_id=customer.pk,
            points=body["points"],
            actor=actor,
            channel_id=_burn_channel(request, body.get("channel")),
            order_id=order_id,
            reference=f"burn:{customer.pk}:{actor.type}:{actor.api_client_id or actor.user_id}:{key}"
            if key
            else "",
        )
        entry = burn.entry
        account = LoyaltyAccount.objects.get(pk=entry.account_id)
        data = {
            "entry": entry,
            "balance": account.balance,
            "value": entry.amount or 0,
            "currency": entry.currency,
        }
        code = status.HTTP_200_OK if burn.replayed else status.HTTP_201_CREATED
        return Response(LoyaltyBurnOutput(data).data, status=code)
