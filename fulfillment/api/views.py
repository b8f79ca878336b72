from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from fulfillment import services
from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder
from fulfillment.selectors import (
    fulfillment_order_detail_queryset,
    fulfillment_order_get_for_actor,
    fulfillment_order_queryset_for_actor,
)
from oms.api.filters import IdFilter, StrictFilterSet
from oms.api.viewsets import NewestFirstViewSet, checked_body
from oms.authentication import actor_from_request
from oms.permissions import IsStaff
from orders.choices import FulfillmentMethod

from .serializers import EmptyInput, FulfillmentOrderOutput, PickedUpInput, RejectInput, ShipInput


class FulfillmentOrderFilter(StrictFilterSet):
    location = django_filters.CharFilter(field_name="location__code")
    status = django_filters.MultipleChoiceFilter(choices=FulfillmentStatus.choices)
    method = django_filters.ChoiceFilter(choices=FulfillmentMethod.choices)
    order = IdFilter(field_name="order_id")

    class Meta:
        model = FulfillmentOrder
        fields: list[str] = []


def _picked_up(**kwargs: Any) -> object:
    """Hand-over through the API: a code given is checked; one is needed only if the setting says so
    (API v1 clients send no body)."""
    return services.fulfillment_order_picked_up(code_required=settings.OMS_API_PICKUP_CODE_REQUIRED, **kwargs)


def _step(name: str, service: Callable[..., object], body_class: type[Serializer] | None = None) -> Any:
    """The action ``POST /fulfillment-orders/{id}/<name, dashed>``: ``body_class`` checks the body
    (an empty one without it), then ``service`` runs for the fulfilment order the actor may act on."""

    def step(self: FulfillmentOrderViewSet, request: Request, pk: str | None = None) -> Response:
        return self._do(request, pk, service, body_class or EmptyInput)

    step.__name__ = name
    url_path = name.replace("_", "-") if "_" in name else None
    return extend_schema(request=body_class, responses={200: FulfillmentOrderOutput})(
        action(detail=True, methods=["post"], url_path=url_path)(step)
    )


class FulfillmentOrderViewSet(NewestFirstViewSet):
    """A location's work: associates see and act on their own locations' fulfilment orders only."""

    permission_classes = [IsStaff]
    serializer_class = FulfillmentOrderOutput
    filterset_class = FulfillmentOrderFilter

    def get_queryset(self):
        actor = actor_from_request(self.request)
        return fulfillment_order_detail_queryset(fulfillment_order_queryset_for_actor(actor))

    def retrieve(self, request, pk=None):
        fo = fulfillment_order_get_for_actor(fulfillment_order_id=pk, actor=actor_from_request(request))
        return Response(self._output(fo.pk))

    def _output(self, pk: int) -> dict:
        fo = fulfillment_order_detail_queryset(FulfillmentOrder.objects.filter(pk=pk)).get()
        return FulfillmentOrderOutput(fo).data

    def _do(self, request, pk, service, body_class=EmptyInput):
        body = checked_body(body_class, request)
        actor = actor_from_request(request)
        fo = fulfillment_order_get_for_actor(fulfillment_order_id=pk, actor=actor)
        service(fulfillment_order_id=fo.pk, actor=actor, **body.validated_data)
        return Response(self._output(fo.pk))

    accept = _step("accept", services.fulfillment_order_accept)
    reject = _step("reject", services.fulfillment_order_reject, RejectInput)
    pick = _step("pick", services.fulfillment_order_pick)
    pack = _step("pack", services.fulfillment_order_pack)
    ship = _step("ship", services.fulfillment_order_ship, ShipInput)
    ready_for_pickup = _step("ready_for_pickup", services.fulfillment_order_ready_for_pickup)
    picked_up = _step("picked_up", _picked_up, PickedUpInput)
    resend_pickup_code = _step("resend_pickup_code", services.fulfillment_order_pickup_code_reissue)
