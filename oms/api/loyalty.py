"""The channels' loyalty rules (managers): ``GET /loyalty-rules`` and ``POST /loyalty-rules``
(create or replace a channel's rule). docs/loyalty.md."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from oms.authentication import actor_from_request
from oms.lookups import channel_by_code
from oms.loyalty.choices import LoyaltyTrigger
from oms.loyalty.rules import loyalty_rule_set
from oms.loyalty.selectors import loyalty_rule_list
from oms.money import MONEY
from oms.permissions import IsManager

from .validation import StrictBooleanField, StrictCharField, StrictDecimalField, StrictIntegerField
from .viewsets import checked_body


class LoyaltyRuleInput(serializers.Serializer):
    channel = StrictCharField(max_length=64)
    points_per_unit = StrictDecimalField(
        max_digits=14,
        decimal_places=8,
        min_value=0,
        help_text="Points per unit of the channel's currency paid.",
    )
    point_value = StrictDecimalField(**MONEY, min_value=0, help_text="What one point pays for when burnt.")
    trigger = serializers.ChoiceField(choices=LoyaltyTrigger.choices, default=LoyaltyTrigger.CAPTURE)
    expiry_days = StrictIntegerField(min_value=1, max_value=36500, required=False, allow_null=True)
    active = StrictBooleanField(default=True)


class LoyaltyRuleOutput(serializers.Serializer):
    channel = serializers.CharField(source="channel.code")
    currency = serializers.CharField(source="channel.currency")
    points_per_unit = serializers.DecimalField(max_digits=14, decimal_places=8)
    point_value = serializers.DecimalField(**MONEY)
    trigger = serializers.ChoiceField(choices=LoyaltyTrigger.choices)
    expiry_days = serializers.IntegerField(allow_null=True)
    active = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class LoyaltyRuleViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """How each channel's customers earn and burn points (manager only)."""

    permission_classes = [IsManager]
    serializer_class = LoyaltyRuleOutput
    pagination_class = None

    def get_queryset(self):
        return loyalty_rule_list()

    @extend_schema(request=LoyaltyRuleInput, responses={201: LoyaltyRuleOutput})
    def create(self, request: Request) -> Response:
        data = dict(checked_body(LoyaltyRuleInput, request).validated_data)
        code = data.pop("channel")
        rule = loyalty_rule_set(channel=channel_by_code(code), actor=actor_from_request(request), **data)
        return Response(LoyaltyRuleOutput(rule).data, status=201)
