"""What the apps' API views share: the viewset of a resource listed newest first, and the check of
a request body."""

from __future__ import annotations

from typing import TypeVar

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request

from .pagination import NewestFirstCursorPagination


class NewestFirstViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A resource read one by one or as a list: newest first in cursor pages, filtered by the
    subclass's ``filterset_class``."""

    filter_backends = [DjangoFilterBackend]
    pagination_class = NewestFirstCursorPagination


SerializerT = TypeVar("SerializerT", bound=serializers.Serializer)


def checked_body(serializer_class: type[SerializerT], request: Request) -> SerializerT:
    """The input serializer of the request's body, validated (DRF's 400 otherwise)."""
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body
