"""The viewset the apps' APIs share for a resource listed newest first."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, viewsets

from .pagination import NewestFirstCursorPagination


class NewestFirstViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A resource read one by one or as a list: newest first in cursor pages, filtered by the
    subclass's ``filterset_class``."""

    filter_backends = [DjangoFilterBackend]
    pagination_class = NewestFirstCursorPagination
