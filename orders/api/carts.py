"""``/carts``: the cross-channel cart (docs/carts.md). Inputs check shapes; the services
(``orders.services.carts``, ``cart_holds``) check meaning; who may see a cart is the selector's
rule (``orders.cart_selectors``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.actors import Actor
from oms.api.pagination import NewestFirstCursorPagination
from oms.api.validation import StrictCharField
from oms.authentication import actor_from_request
from oms.customers import CustomerInput
from oms.models import Channel
from oms.money import MONEY
from oms.permissions import IsStaffOrChannel
from orders.cart_selectors import cart_get_for_actor, cart_list
from orders.choices import CartStatus
from orders.models import Cart
from orders.services import (
    CartLineInput,
    HoldInput,
    PlacementResult,
    cart_checkout,
    cart_hold_place,
    cart_hold_release,
    cart_open,
    cart_update,
)

from .idempotency import IDEMPOTENCY_HEADER, idempotency_claim
from .serializers import (
    CustomerInputSerializer,
    FulfilmentInput,
    OrderCreateOutput,
    TimelineEventOutput,
    code_field,
    placement_response,
)
from .views import channel_for


class CartTokenQuery(serializers.Serializer):
    token = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="The cart's token (or the Cart-Token header): a channel that presents it may see and "
        "change the cart.",
    )


# --- Inputs ---------------------------------------------------------------------------------------


class CartLineItemInput(serializers.Serializer):
    sku = StrictCharField(max_length=64)
    quantity = serializers.IntegerField(min_value=0, max_value=settings.OMS_MAX_QUANTITY)


class _CartWriteInput(serializers.Serializer):
    channel = code_field("Channel code (staff: the channel they act for; ignored for channel clients).")
    customer = CustomerInputSerializer(required=False, allow_null=True, default=None)
    hold_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=settings.OMS_CART_HOLD_MAX_MINUTES,
        help_text="Hold the cart's units this many minutes (reserved, released by beat when expired).",
    )
    hold_location = code_field("With hold_minutes: the store that holds the units (a reserve-in-store).")

    def customer_input(self) -> CustomerInput | None:
        customer = self.validated_data.get("customer")
        return CustomerInput(**customer) if customer else None

    def hold_input(self) -> HoldInput | None:
        minutes = self.validated_data.get("hold_minutes")
        return HoldInput(minutes=minutes, location=self.validated_data["hold_location"]) if minutes else None

    def line_inputs(self) -> list[CartLineInput]:
        return [
            CartLineInput(sku=li["sku"], quantity=li["quantity"])
            for li in self.validated_data.get("lines") or []
        ]


class CartCreateInput(_CartWriteInput):
    lines = CartLineItemInput.many_init(required=False, max_length=200, default=list)


class CartUpdateInput(_CartWriteInput):
    lines = CartLineItemInput.many_init(
        required=False, max_length=200, help_text="Set each SKU's quantity (0 removes the line)."
    )


class CartHoldInput(serializers.Serializer):
    minutes = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.OMS_CART_HOLD_MAX_MINUTES,
        default=settings.OMS_CART_HOLD_DEFAULT_MINUTES,
    )
    location = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="A store code (reserve-in-store).",
    )


class CartCheckoutInput(FulfilmentInput):
    """The order's channel (staff), method, address, pickup store and payment: its lines, currency and
    customer are the cart's."""

    channel = code_field(
        "Channel code (staff; default: the channel the cart is priced for); ignored for channel clients."
    )


class CartQuery(serializers.Serializer):
    customer_email = StrictCharField(required=False, allow_blank=True, max_length=254, default="")
    status = serializers.ChoiceField(choices=CartStatus.choices, required=False, allow_blank=True, default="")
    token = StrictCharField(required=False, allow_blank=True, max_length=64, default="")


# --- Outputs --------------------------------------------------------------------------------------


class CartLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)


class CartHeldOutput(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()


class CartEventOutput(TimelineEventOutput):
    channel = serializers.CharField(source="channel.code", allow_null=True, help_text="Done on this channel.")


class CartCustomerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()


class CartOutput(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="The cart's secret: present it to see the cart from any channel.")
    status = serializers.ChoiceField(choices=CartStatus.choices)
    customer = CartCustomerOutput(allow_null=True)
    channel = serializers.CharField(source="channel.code", help_text="The channel it was opened on.")
    priced_for = serializers.CharField(source="priced_for.code", help_text="Its prices are this channel's.")
    currency = serializers.CharField()
    lines = CartLineOutput(many=True)
    subtotal = serializers.DecimalField(**MONEY)
    hold_expires_at = serializers.DateTimeField(allow_null=True)
    hold_location = serializers.CharField(source="hold_location.code", allow_null=True)
    held = CartHeldOutput(many=True, source="holds", help_text="The units held for the cart.")
    order = serializers.IntegerField(source="order_id", allow_null=True)
    order_number = serializers.CharField(source="order.number", allow_null=True)
    events = CartEventOutput(many=True, help_text="The cart's timeline, with the channel of each event.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CartCheckoutOutput(OrderCreateOutput):
    cart = serializers.IntegerField(help_text="The cart checked out.")


# --- Views ----------------------------------------------------------------------------------------


def _token(request: Request) -> str:
    """The cart token the request presents (``?token=`` checked like any query: 400/422)."""
    query = CartTokenQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["token"] or request.headers.get("Cart-Token", "").strip()[:64]


def _acting_channel(request: Request, actor: Actor, code: str = "") -> Channel | None:
    """A channel client's own channel; for staff, the channel named, if any (None: the cart's)."""
    if actor.is_channel or code:
        return channel_for(request, actor, code)
    return None


class CartViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Carts that follow the customer across channels."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = CartOutput
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        query = CartQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return cart_list(actor=actor_from_request(self.request), **query.validated_data)

    def _cart(self, request: Request, pk: Any) -> Cart:
        return cart_get_for_actor(cart_id=pk, actor=actor_from_request(request), token=_token(request))

    def _answer(self, request: Request, cart_id: int, status: int = 200) -> Response:
        cart = self._cart(request, cart_id)
        return Response(CartOutput(cart).data, status=status)

    @extend_schema(parameters=[CartQuery])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[CartTokenQuery])
    def retrieve(self, request, pk=None):
        return self._answer(request, pk)

    @extend_schema(request=CartCreateInput, responses={201: CartOutput, 200: CartOutput})
    def create(self, request):
        actor = actor_from_request(request)
        body = CartCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        channel = channel_for(request, actor, body.validated_data["channel"])
        cart, created = cart_open(
            channel=channel,
            actor=actor,
            customer=body.customer_input(),
            lines=body.line_inputs(),
            hold=body.hold_input(),
        )
        return Response(
            CartOutput(cart_get_for_actor(cart_id=cart.pk, actor=actor, token=cart.token)).data,
            status=201 if created else 200,
        )

    @extend_schema(request=CartUpdateInput, responses={200: CartOutput}, parameters=[CartTokenQuery])
    def partial_update(self, request, pk=None):
        actor = actor_from_request(request)
        cart = self._cart(request, pk)  # 404 / 403 before anything else
        body = CartUpdateInput(data=request.data)
        body.is_valid(raise_exception=True)
        channel = _acting_channel(request, actor, body.validated_data["channel"])
        cart_update(
            cart_id=cart.pk,
            channel=channel,
            actor=actor,
            customer=body.customer_input(),
            lines=body.line_inputs() if "lines" in body.validated_data else None,
            hold=body.hold_input(),
        )
        return self._answer(request, cart.pk)

    @extend_schema(request=CartHoldInput, responses={200: CartOutput}, parameters=[CartTokenQuery])
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        actor = actor_from_request(request)
        cart = self._cart(request, pk)
        body = CartHoldInput(data=request.data)
        body.is_valid(raise_exception=True)
        channel = _acting_channel(request, actor)
        hold = HoldInput(minutes=body.validated_data["minutes"], location=body.validated_data["location"])
        cart_hold_place(cart_id=cart.pk, hold=hold, actor=actor, channel=channel)
        return self._answer(request, cart.pk)

    @extend_schema(request=None, responses={200: CartOutput}, parameters=[CartTokenQuery])
    @action(detail=True, methods=["post"], url_path="release-hold")
    def release_hold(self, request, pk=None):
        actor = actor_from_request(request)
        cart = self._cart(request, pk)
        cart_hold_release(cart_id=cart.pk, actor=actor, channel=_acting_channel(request, actor))
        return self._answer(request, cart.pk)

    @extend_schema(
        request=CartCheckoutInput,
        responses={201: CartCheckoutOutput},
        parameters=[IDEMPOTENCY_HEADER, CartTokenQuery],
    )
    @action(detail=True, methods=["post"])
    def checkout(self, request, pk=None):
        actor = actor_from_request(request)
        cart = self._cart(request, pk)
        claim = idempotency_claim(request, actor)
        body = CartCheckoutInput(data=request.data)
        body.is_valid(raise_exception=True)
        channel = _acting_channel(request, actor, body.validated_data["channel"]) or cart.priced_for

        def render(result: PlacementResult) -> dict[str, Any]:
            return {**placement_response(result), "cart": cart.pk}

        result = cart_checkout(
            cart_id=cart.pk,
            channel=channel,
            actor=actor,
            data=body.to_order_input(channel),
            idempotency=claim,
            render=render,
        )
        response = Response(result.response, status=result.status_code)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
