"""/api/v1/staff: managers list, create, update and deactivate staff and rotate their tokens; every
change is audited (``StaffEvent``) by ``oms.staff``."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.filters import StrictFilterSet, TrueFalseFilter
from oms.authentication import actor_from_request
from oms.choices import StaffRole
from oms.models import StaffProfile
from oms.permissions import IsManager
from oms.staff import staff_create, staff_deactivate, staff_get, staff_list, staff_token_rotate, staff_update

from .staff_serializers import (
    StaffCreateInput,
    StaffDetailOutput,
    StaffOutput,
    StaffTokenOutput,
    StaffUpdateInput,
)
from .viewsets import checked_body

STAFF_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Staff member id.")


def _bodiless(output: type[StaffDetailOutput], description: str):
    """The schema of a POST on one staff member that takes no body."""
    return extend_schema(
        parameters=[STAFF_ID], request=None, responses={200: output}, description=description
    )


class StaffFilter(StrictFilterSet):
    username = django_filters.CharFilter(field_name="user__username")
    role = django_filters.ChoiceFilter(choices=StaffRole.choices)
    location = django_filters.CharFilter(field_name="locations__code", help_text="A location code.")
    active = TrueFalseFilter(field_name="user__is_active")

    class Meta:
        model = StaffProfile
        fields: list[str] = []


class StaffViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Staff members and their API tokens (manager only)."""

    permission_classes = [IsManager]
    serializer_class = StaffOutput
    filterset_class = StaffFilter
    queryset = staff_list()

    @extend_schema(
        request=StaffCreateInput,
        responses={201: StaffTokenOutput},
        description="Create a staff member. The answer holds their API token (also their admin "
        "password), shown only this once. 409 staff_exists for a taken username, 404 unknown_location, "
        "422 locations_required for an associate without locations.",
    )
    def create(self, request: Request) -> Response:
        body = checked_body(StaffCreateInput, request)
        profile, token = staff_create(**body.validated_data, actor=actor_from_request(request))
        data = StaffTokenOutput(staff_get(staff_id=profile.pk), context={"token": token}).data
        return Response(data, status=201)

    @extend_schema(parameters=[STAFF_ID], responses={200: StaffDetailOutput})
    def retrieve(self, request: Request, pk: str) -> Response:
        """A staff member with their audit trail."""
        return Response(StaffDetailOutput(staff_get(staff_id=pk)).data)

    @extend_schema(
        parameters=[STAFF_ID],
        request=StaffUpdateInput,
        responses={200: StaffDetailOutput},
        description="Change the name, e-mail, role, locations or active flag; only the fields given "
        "change. 409 staff_self_lockout when managers would deactivate or demote themselves.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        body = checked_body(StaffUpdateInput, request)
        profile = staff_update(staff_id=pk, changes=body.changes(), actor=actor_from_request(request))
        return Response(StaffDetailOutput(profile).data)

    @_bodiless(
        StaffDetailOutput,
        "Turn the token and admin login off at once (PATCH active=true turns them back on).",
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        return Response(
            StaffDetailOutput(staff_deactivate(staff_id=pk, actor=actor_from_request(request))).data
        )

    @_bodiless(
        StaffTokenOutput,
        "Issue a new token (and admin password), shown only in this answer; the former token stops "
        "working at once.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request: Request, pk: str) -> Response:
        profile, token = staff_token_rotate(staff_id=pk, actor=actor_from_request(request))
        return Response(StaffTokenOutput(profile, context={"token": token}).data)
