from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.models import Channel
from oms.permissions import IsManager
from oms.services import channel_create
from oms.webhooks import (
    webhook_delivery_list,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_get,
    webhook_endpoint_list,
    webhook_endpoint_update,
    webhook_secret_rotate,
)

from .pagination import NewestFirstCursorPagination
from .parsers import SizeLimitedJSONParser
from .serializers import (
    ChannelInput,
    ChannelOutput,
    WebhookDeliveryOutput,
    WebhookEndpointCreatedOutput,
    WebhookEndpointInput,
    WebhookEndpointOutput,
    WebhookEndpointUpdateInput,
    WebhookSecretRotateInput,
)
from .viewsets import checked_body


class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sales channels (manager only)."""

    permission_classes = [IsManager]
    serializer_class = ChannelOutput
    queryset = Channel.objects.all()
    lookup_field = "code"

    @extend_schema(request=ChannelInput, responses={201: ChannelOutput})
    def create(self, request):
        data = checked_body(ChannelInput, request)
        channel = channel_create(**data.validated_data)
        return Response(ChannelOutput(channel).data, status=201)


WEBHOOK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Webhook id.")


class WebhookViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Webhook endpoints (manager only): deliveries of the chosen event types as CloudEvents, signed
    per Standard Webhooks, retried with exponential backoff, logged, and disabled after repeated
    failures (docs/webhooks.md). The event types and their data are in this document's webhooks."""

    permission_classes = [IsManager]
    parser_classes = [SizeLimitedJSONParser]
    serializer_class = WebhookEndpointOutput
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return webhook_endpoint_list()

    @extend_schema(
        request=WebhookEndpointInput,
        responses={201: WebhookEndpointCreatedOutput},
        description="Register an endpoint. The answer shows the signing secret; it is never shown again.",
    )
    def create(self, request: Request) -> Response:
        body = checked_body(WebhookEndpointInput, request)
        endpoint, secret = webhook_endpoint_create(**body.validated_data)
        return Response(WebhookEndpointCreatedOutput(endpoint, context={"secret": secret}).data, status=201)

    @extend_schema(parameters=[WEBHOOK_ID], responses={200: WebhookEndpointOutput})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WebhookEndpointOutput(webhook_endpoint_get(endpoint_id=pk)).data)

    @extend_schema(
        parameters=[WEBHOOK_ID], request=WebhookEndpointUpdateInput, responses={200: WebhookEndpointOutput}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        body = checked_body(WebhookEndpointUpdateInput, request)
        endpoint = webhook_endpoint_update(endpoint_id=pk, **body.validated_data)
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(parameters=[WEBHOOK_ID], responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        webhook_endpoint_delete(endpoint_id=pk)
        return Response(status=204)

    @extend_schema(
        parameters=[WEBHOOK_ID],
        responses={200: WebhookDeliveryOutput(many=True)},
        description="The delivery log of an endpoint, newest attempt first.",
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=WebhookDeliveryOutput,
        pagination_class=NewestFirstCursorPagination,
        filter_backends=[],
    )
    def deliveries(self, request: Request, pk: str) -> Response:
        queryset = webhook_delivery_list(endpoint_id=pk)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)

    @extend_schema(
        parameters=[WEBHOOK_ID],
        request=None,
        responses={200: WebhookEndpointOutput},
        description="Turn an endpoint (disabled after repeated failures) back on.",
    )
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str) -> Response:
        return Response(WebhookEndpointOutput(webhook_endpoint_enable(endpoint_id=pk)).data)

    @extend_schema(
        parameters=[WEBHOOK_ID],
        request=WebhookSecretRotateInput,
        responses={200: WebhookEndpointCreatedOutput},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        body = checked_body(WebhookSecretRotateInput, request)
        endpoint, secret = webhook_secret_rotate(endpoint_id=pk, **body.validated_data)
        return Response(WebhookEndpointCreatedOutput(endpoint, context={"secret": secret}).data)
