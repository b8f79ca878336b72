"""``/price-lists``: price lists per channel and currency (managers write; staff and channels read
the lists that apply to them)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from oms.api.pagination import NewestFirstCursorPagination
from oms.api.validation import StrictCharField
from oms.authentication import actor_from_request
from oms.lookups import channel_by_code
from oms.models import Channel
from oms.money import MONEY
from oms.permissions import IsManager, IsStaffOrChannel
from orders.cart_selectors import price_list_get_for_actor, price_list_queryset
from orders.services import EntryInput, PriceListInput, price_list_create, price_list_entries_upsert


class PriceListEntryInput(serializers.Serializer):
    sku = StrictCharField(max_length=64)
    unit_price = serializers.DecimalField(**MONEY, min_value=Decimal("0"))


class PriceListCreateInput(serializers.Serializer):
    code = StrictCharField(max_length=64)
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    channel = StrictCharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=64,
        default=None,
        help_text="Channel code; empty or null: shared by every channel selling in the currency.",
    )
    currency = StrictCharField(max_length=3)
    valid_from = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )
    valid_to = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty: no end."
    )
    active = serializers.BooleanField(required=False, default=True)
    entries = PriceListEntryInput.many_init(required=False, max_length=1000, default=list)


class PriceListEntriesInput(serializers.Serializer):
    entries = PriceListEntryInput.many_init(allow_empty=False, min_length=1, max_length=1000)


class PriceListEntryOutput(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    unit_price = serializers.DecimalField(**MONEY)


class PriceListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    channel = serializers.CharField(source="channel.code", allow_null=True)
    currency = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    entries = PriceListEntryOutput(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _entries(items) -> list[EntryInput]:
    return [EntryInput(sku=e["sku"], unit_price=e["unit_price"]) for e in items]


def _channel(code: str | None) -> Channel | None:
    if not code:
        return None
    return channel_by_code(code)


class PriceListViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Price lists per channel and currency, with validity dates."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = PriceListOutput
    pagination_class = NewestFirstCursorPagination

    def get_permissions(self):
        if self.action in ("create", "entries"):
            return [IsManager()]
        return super().get_permissions()

    def get_queryset(self):
        return price_list_queryset(actor=actor_from_request(self.request))

    def retrieve(self, request, pk=None):
        found = price_list_get_for_actor(price_list_id=pk, actor=actor_from_request(request))
        return Response(PriceListOutput(found).data)

    @extend_schema(request=PriceListCreateInput, responses={201: PriceListOutput})
    def create(self, request):
        body = PriceListCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        created = price_list_create(
            data=PriceListInput(
                code=data["code"],
                name=data["name"],
                channel=_channel(data["channel"]),
                currency=data["currency"].upper(),
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
                active=data["active"],
            ),
            entries=_entries(data["entries"]),
        )
        found = price_list_get_for_actor(price_list_id=created.pk, actor=actor_from_request(request))
        return Response(PriceListOutput(found).data, status=201)

    @extend_schema(request=PriceListEntriesInput, responses={200: PriceListOutput})
    @action(detail=True, methods=["post"])
    def entries(self, request, pk=None):
        """Add or replace the unit price of SKUs on the list (manager)."""
        actor = actor_from_request(request)
        found = price_list_get_for_actor(price_list_id=pk, actor=actor)
        body = PriceListEntriesInput(data=request.data)
        body.is_valid(raise_exception=True)
        price_list_entries_upsert(price_list_id=found.pk, entries=_entries(body.validated_data["entries"]))
        return Response(PriceListOutput(price_list_get_for_actor(price_list_id=found.pk, actor=actor)).data)
