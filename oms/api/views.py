from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from oms.models import Channel
from oms.permissions import IsManager
from oms.services import channel_create

from .serializers import ChannelInput, ChannelOutput


def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return JsonResponse(
        {"code": "not_found", "message": f"No API endpoint at /api/{rest}.", "extra": {}}, status=404
    )


class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sales channels (manager only)."""

    permission_classes = [IsManager]
    serializer_class = ChannelOutput
    queryset = Channel.objects.all()
    lookup_field = "code"

    @extend_schema(request=ChannelInput, responses={201: ChannelOutput})
    def create(self, request):  # type: ignore[no-untyped-def]
        data = ChannelInput(data=request.data)
        data.is_valid(raise_exception=True)
        channel = channel_create(**data.validated_data)
        return Response(ChannelOutput(channel).data, status=201)
