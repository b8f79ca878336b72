from __future__ import annotations

from typing import cast

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.actors import Actor
from oms.api.pagination import NewestFirstCursorPagination
from oms.api.viewsets import NewestFirstViewSet, checked_body
from oms.authentication import ApiClientUser, actor_from_request
from oms.customers import customer_erase
from oms.errors import InvalidInput
from oms.lookups import channel_by_code, pk_or_none
from oms.models import Channel, ChannelCustomerRef
from oms.permissions import IsManager, IsStaffOrChannel
from orders.errors import CustomerNotFound
from orders.payments.selectors import payments_for_orders
from orders.selectors import (
    attach_sections,
    customer_export,
    customer_get_for_actor,
    customer_list,
    customer_order_history,
    order_detail,
    order_detail_queryset,
    order_get_for_actor,
    order_queryset_for_actor,
)
from orders.services import (
    order_cancel,
    order_change,
    order_hold_place,
    order_hold_release,
    order_place,
)

from .changes import OrderChangeActions, cancel_lines_change
from .filters import OrderFilter
from .idempotency import IDEMPOTENCY_HEADER, idempotency_claim
from .loyalty import CustomerLoyaltyActions
from .payment_serializers import PaymentOutput
from .serializers import (
    CustomerOutput,
    OrderCancelInput,
    OrderCreateInput,
    OrderCreateOutput,
    OrderHoldInput,
    OrderHoldOutput,
    OrderOutput,
    OrderReleaseHoldInput,
    placement_response,
)


def channel_for(request: Request, actor: Actor, code: str) -> Channel:
    """A channel client's own channel; for staff, the channel ``code`` names (422 without one)."""
    if actor.is_channel:  # its user is the ApiClientUser its key authenticated (the stubs know Django's)
        return cast(ApiClientUser, request.user).api_client.channel
    if not code:
        raise InvalidInput(
            "Staff must say which channel the order is for ('channel').", code="channel_required"
        )
    return channel_by_code(code)


ORDER_EXAMPLES = [
    OpenApiExample(
        "Ship to an address",
        request_only=True,
        value={
            "channel": "web",
            "external_id": "shop-1001",
            "customer": {"email": "an@example.com", "name": "Nguyen An", "phone": "+84 90 123 4567"},
            "currency": "VND",
            "method": "ship",
            "shipping_address": {
                "line1": "1 Le Loi",
                "city": "Ho Chi Minh City",
                "country": "VN",
                "latitude": 10.7769,
                "longitude": 106.7009,
            },
            "lines": [{"sku": "CHI-BLA-M-054", "quantity": 2, "unit_price": "199000"}],
        },
    ),
    OpenApiExample(
        "Pick up in store (BOPIS)",
        request_only=True,
        value={
            "channel": "web",
            "customer": {"email": "an@example.com"},
            "method": "pickup",
            "pickup_location": "st-hcm-d1",
            "lines": [{"sku": "CHI-BLA-M-054", "quantity": 1, "unit_price": "199000"}],
        },
    ),
    OpenApiExample(
        "Not enough stock (409)",
        response_only=True,
        status_codes=["409"],
        value={
            "code": "insufficient_stock",
            "message": "The pickup store cannot supply: CHI-BLA-M-054. "
            "These stores within 50 km have every unit: st-hcm-d3.",
            "extra": {
                "skus": ["CHI-BLA-M-054"],
                "shortages": [{"sku": "CHI-BLA-M-054", "requested": 3, "missing": 1}],
                "nearby_stores": [{"location": "st-hcm-d3", "distance_km": 2.3}],
                "nearby_radius_km": 50.0,
            },
        },
    ),
]


class OrderViewSet(OrderChangeActions, NewestFirstViewSet):
    """Orders from every channel. A channel client sees its own channel's orders (in-person channels
    may look up any order by id or number); staff see all."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = OrderOutput
    filterset_class = OrderFilter

    def get_queryset(self):
        actor = actor_from_request(self.request)
        # Only a real number widens an in-person channel's list (the filter strips blanks and
        # ignores an empty value, so " " must not count as a lookup).
        lookup = bool(self.request.query_params.get("number", "").strip())
        return order_detail_queryset(order_queryset_for_actor(actor, lookup=lookup), with_events=False)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset) or []  # None only without a paginator
        attach_sections(page)
        return self.get_paginated_response(OrderOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        order = order_detail(order_id=pk, actor=actor_from_request(request))
        return Response(OrderOutput(order, context={"with_events": True}).data)

    @extend_schema(
        request=OrderCreateInput,
        responses={201: OrderCreateOutput},
        parameters=[IDEMPOTENCY_HEADER],
        examples=ORDER_EXAMPLES,
        description="Place an order: 201 only when every unit is held (or backordered with "
        "allow_backorder). 409 insufficient_stock lists the short SKUs (and, for pickup, the other stores "
        "within nearby_radius_km, 50 km by default, that have them).",
    )
    def create(self, request):
        actor = actor_from_request(request)
        claim = idempotency_claim(request, actor)
        body = checked_body(OrderCreateInput, request)
        channel = channel_for(request, actor, body.validated_data["channel"])
        result = order_place(
            data=body.to_order_input(channel), actor=actor, idempotency=claim, render=placement_response
        )
        response = Response(result.response, status=result.status_code)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(request=OrderCancelInput, responses={200: OrderOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        actor = actor_from_request(request)
        body = checked_body(OrderCancelInput, request)
        order = order_get_for_actor(order_id=pk, actor=actor)  # 404 before anything else
        reason, lines = body.validated_data["reason"], body.validated_data.get("lines")
        if lines:  # a partial cancel: those units only, as an order change
            order_change(order_id=order.pk, data=cancel_lines_change(lines, reason), actor=actor)
        else:
            order_cancel(order_id=order.pk, reason=reason, actor=actor)
        return Response(OrderOutput(order_detail(order_id=order.pk, actor=actor)).data)

    @extend_schema(responses={200: PaymentOutput(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def payments(self, request, pk=None):
        """The order's payments and their ledger (authorise, capture, void, refund), read-only."""
        order = order_get_for_actor(order_id=pk, actor=actor_from_request(request))
        return Response(payments_for_orders([order.pk]).get(order.pk, []))

    @extend_schema(request=OrderHoldInput, responses={201: OrderHoldOutput})
    @action(detail=True, methods=["post"], permission_classes=[IsManager])
    def holds(self, request, pk=None):
        actor = actor_from_request(request)
        body = checked_body(OrderHoldInput, request)
        order = order_get_for_actor(order_id=pk, actor=actor)
        hold = order_hold_place(order_id=order.pk, actor=actor, **body.validated_data)
        return Response(OrderHoldOutput(hold).data, status=201)

    @extend_schema(request=OrderReleaseHoldInput, responses={200: OrderOutput})
    @action(detail=True, methods=["post"], url_path="release-hold", permission_classes=[IsManager])
    def release_hold(self, request, pk=None):
        actor = actor_from_request(request)
        body = checked_body(OrderReleaseHoldInput, request)
        order = order_get_for_actor(order_id=pk, actor=actor)
        order_hold_release(order_id=order.pk, actor=actor, hold_id=body.validated_data["hold"])
        return Response(OrderOutput(order_detail(order_id=order.pk, actor=actor)).data)


class CustomerExportOutput(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    customer = CustomerOutput()
    orders = OrderOutput(many=True)


class CustomerDataProtectionMixin:
    @extend_schema(request=None, responses={200: CustomerExportOutput})
    @action(detail=True, methods=["get"], permission_classes=[IsManager])
    def export(self, request, pk=None):
        """All of a customer's data as JSON (manager)."""
        customer, orders = customer_export(customer_id=_int_id(pk), actor=actor_from_request(request))
        return Response(
            {
                "exported_at": serializers.DateTimeField().to_representation(timezone.now()),
                "customer": CustomerOutput(customer).data,
                "orders": OrderOutput(orders, many=True, context={"with_events": True}).data,
            }
        )

    @extend_schema(request=None, responses={200: CustomerOutput})
    @action(detail=True, methods=["post"], permission_classes=[IsManager])
    def erase(self, request, pk=None):
        """Anonymise the person; orders, stock and money records stay (manager)."""
        actor = actor_from_request(request)
        customer = customer_get_for_actor(customer_id=_int_id(pk), actor=actor)
        return Response(CustomerOutput(customer_erase(customer_id=customer.pk, actor=actor)).data)


def _int_id(value) -> int:
    pk = pk_or_none(value)
    if pk is None:
        raise CustomerNotFound(f"No customer '{value}'.")
    return pk


class CustomerQuery(serializers.Serializer):
    email = serializers.CharField(
        required=False, allow_blank=True, max_length=254, help_text="Normalised e-mail (case-insensitive)."
    )
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    loyalty_number = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="The number a customer quotes in a store."
    )


class CustomerViewSet(
    CustomerLoyaltyActions,
    CustomerDataProtectionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One customer across channels. Staff see all; a channel sees the customers it has served."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = CustomerOutput

    def get_queryset(self):
        query = CustomerQuery(data=self.request.query_params)  # 422 for a NUL, an over-long value
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return customer_list(
            actor=actor_from_request(self.request),
            email=params.get("email"),
            phone=params.get("phone"),
            loyalty_number=params.get("loyalty_number"),
        ).prefetch_related(
            Prefetch("channel_refs", queryset=ChannelCustomerRef.objects.select_related("channel"))
        )

    @extend_schema(parameters=[CustomerQuery])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, pk=None):
        customer = customer_get_for_actor(customer_id=_int_id(pk), actor=actor_from_request(request))
        return Response(CustomerOutput(customer).data)

    @extend_schema(responses={200: OrderOutput(many=True)})
    @action(detail=True, methods=["get"], pagination_class=NewestFirstCursorPagination)
    def orders(self, request, pk=None):
        """The unified history: every order of this customer from every channel."""
        qs = customer_order_history(customer_id=_int_id(pk), actor=actor_from_request(request))
        page = self.paginate_queryset(qs) or []  # None only without a paginator
        attach_sections(page)
        return self.get_paginated_response(OrderOutput(page, many=True).data)
