from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from fulfillment import services
from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder
from fulfillment.selectors import (
    fulfillment_order_detail_queryset,
    fulfillment_order_get_for_actor,
    fulfillment_order_queryset_for_actor,
)
from oms.api.pagination import NewestFirstCursorPagination
from oms.authentication import actor_from_request
from oms.permissions import IsStaff
from orders.choices import FulfillmentMethod

from .serializers import EmptyInput, FulfillmentOrderOutput, RejectInput, ShipInput


class FulfillmentOrderFilter(django_filters.FilterSet):
    location = django_filters.CharFilter(field_name="location__code")
    status = django_filters.MultipleChoiceFilter(choices=FulfillmentStatus.choices)
    method = django_filters.ChoiceFilter(choices=FulfillmentMethod.choices)
    order = django_filters.NumberFilter(field_name="order_id")

    class Meta:
        model = FulfillmentOrder
        fields: list[str] = []


class FulfillmentOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A location's work: associates see and act on their own locations' fulfilment orders only."""

    permission_classes = [IsStaff]
    serializer_class = FulfillmentOrderOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = FulfillmentOrderFilter
    pagination_class = NewestFirstCursorPagination

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
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        actor = actor_from_request(request)
        fo = fulfillment_order_get_for_actor(fulfillment_order_id=pk, actor=actor)
        service(fulfillment_order_id=fo.pk, actor=actor, **body.validated_data)
        return Response(self._output(fo.pk))

    @extend_schema(request=None, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_accept)

    @extend_schema(request=RejectInput, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_reject, RejectInput)

    @extend_schema(request=None, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"])
    def pick(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_pick)

    @extend_schema(request=None, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"])
    def pack(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_pack)

    @extend_schema(request=ShipInput, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_ship, ShipInput)

    @extend_schema(request=None, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"], url_path="ready-for-pickup")
    def ready_for_pickup(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_ready_for_pickup)

    @extend_schema(request=None, responses={200: FulfillmentOrderOutput})
    @action(detail=True, methods=["post"], url_path="picked-up")
    def picked_up(self, request, pk=None):
        return self._do(request, pk, services.fulfillment_order_picked_up)
