"""``/api/v1/order-change-requests``: changes waiting for the locations working on their units.
Staff list and read them (an associate, those asking their locations; a channel, its orders'), and
the locations asked confirm (the change is applied) or refuse it (with a reason)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.filters import IdFilter, StrictFilterSet
from oms.api.viewsets import NewestFirstViewSet, checked_body
from oms.authentication import actor_from_request
from oms.permissions import IsStaff, IsStaffOrChannel
from orders.choices import ChangeRequestStatus
from orders.errors import OrderNotFound
from orders.models import OrderChangeRequest
from orders.selectors import change_requests_for_actor
from orders.services import change_request_confirm, change_request_refuse

from .changes import ChangeRequestOutput


class ChangeRequestFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=ChangeRequestStatus.choices)
    order = IdFilter(field_name="order_id", help_text="The order's id.")

    class Meta:
        model = OrderChangeRequest
        fields: list[str] = []


class ChangeRequestRefuseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why the location cannot make the change.")


def _request_id(pk: str) -> int:
    try:
        value = int(pk)
    except (TypeError, ValueError):
        value = 0
    if not 0 < value < 2**63:
        raise OrderNotFound(f"No change request '{pk}'.", code="change_request_not_found")
    return value


class OrderChangeRequestViewSet(NewestFirstViewSet):
    """Order changes waiting for a location (``pending_location``), and their answers."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = ChangeRequestOutput
    filterset_class = ChangeRequestFilter

    def get_queryset(self):
        return change_requests_for_actor(actor=actor_from_request(self.request))

    @extend_schema(summary="Order change requests")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={200: ChangeRequestOutput},
        summary="Confirm an order change",
        description="A location asked confirms; once every one has, the change is applied (the request's "
        "revision), or refused saying why if it can no longer be made. 403 for other locations; 409 "
        "change_request_closed once refused.",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def confirm(self, request: Request, pk: str = "") -> Response:
        answered = change_request_confirm(request_id=_request_id(pk), actor=actor_from_request(request))
        return Response(ChangeRequestOutput(answered).data)

    @extend_schema(
        request=ChangeRequestRefuseInput,
        responses={200: ChangeRequestOutput},
        summary="Refuse an order change",
        description="A location asked cannot make the change (a reason is required); it is not made.",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def refuse(self, request: Request, pk: str = "") -> Response:
        body = checked_body(ChangeRequestRefuseInput, request)
        answered = change_request_refuse(
            request_id=_request_id(pk),
            actor=actor_from_request(request),
            reason=body.validated_data["reason"],
        )
        return Response(ChangeRequestOutput(answered).data)
