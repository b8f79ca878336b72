"""Inventory endpoints of REST API v1: parse, call one service or selector, format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from inventory.errors import StockLevelNotFound
from inventory.selectors import availability_for_skus, location_list, product_list, stock_level_list
from inventory.services import (
    location_create,
    location_get_by_code,
    location_update,
    product_create,
    product_get_by_sku,
    product_update,
    stock_adjustment_apply,
    stock_safety_set,
)
from inventory.snapshots import stock_snapshot_apply
from oms.api.parsers import SizeLimitedJSONParser, SnapshotJSONParser
from oms.api.validation import parse_input
from oms.authentication import actor_from_request, channel_from_request
from oms.lookups import pk_or_none
from oms.permissions import IsManager, IsManagerOrReadOnly, IsStaff, IsStaffOrChannel

from .filters import LocationFilter, ProductFilter, StockLevelFilter
from .serializers import (
    AvailabilityOutput,
    AvailabilityQuery,
    LocationCreateInput,
    LocationOutput,
    LocationUpdateInput,
    ProductCreateInput,
    ProductOutput,
    ProductUpdateInput,
    SnapshotInput,
    SnapshotOutput,
    StockAdjustmentInput,
    StockAdjustmentOutput,
    StockLevelOutput,
    StockLevelUpdateInput,
    availability_output,
    availability_query_fast,
)


class _CreateViewSet(viewsets.GenericViewSet):
    """POST: the body parsed with ``create_input``, what ``created(request, data)`` makes answered 201
    with ``serializer_class``; the schema is taken from the two, which a subclass names."""

    parser_classes = [SizeLimitedJSONParser]
    create_input: type[serializers.Serializer]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "create_input"):
            extend_schema_view(
                create=extend_schema(request=cls.create_input, responses={201: cls.serializer_class})
            )(cls)

    def created(self, request: Request, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def create(self, request: Request) -> Response:
        data = parse_input(self.create_input, request.data)
        return Response(self.get_serializer_class()(self.created(request, data)).data, status=201)


class _NetworkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _CreateViewSet):
    """A resource of the network: anyone authenticated reads; only a manager creates (POST) or
    changes (PATCH) one. A subclass names its selector, input serializers and services."""

    permission_classes = [IsManagerOrReadOnly]
    select: Callable[[], QuerySet[Any]]
    update_input: type[serializers.Serializer]
    create_with: Callable[..., Model]
    update_with: Callable[..., Model]  # called with the instance and ``data``

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The schema of PATCH, from the input and the output the subclass names."""
        super().__init_subclass__(**kwargs)
        extend_schema_view(
            partial_update=extend_schema(request=cls.update_input, responses={200: cls.serializer_class}),
        )(cls)

    def get_queryset(self) -> QuerySet[Any]:
        return type(self).select()

    def created(self, request: Request, data: dict[str, Any]) -> Model:
        return type(self).create_with(**data)

    def partial_update(self, request: Request, **lookup: str) -> Response:
        instance = self.get_object()
        data = parse_input(self.update_input, request.data)
        updated = type(self).update_with(instance, data)
        return Response(self.get_serializer_class()(updated).data)


class LocationViewSet(_NetworkViewSet):
    """Warehouses and stores. Anyone authenticated reads; only a manager creates or changes them."""

    serializer_class = LocationOutput
    filterset_class = LocationFilter
    lookup_field = "code"
    select = staticmethod(location_list)
    create_input, update_input = LocationCreateInput, LocationUpdateInput
    create_with = staticmethod(location_create)
    update_with = staticmethod(lambda location, data: location_update(location=location, data=data))


class ProductViewSet(_NetworkViewSet):
    """SKUs. Anyone authenticated reads; only a manager creates or changes them."""

    serializer_class = ProductOutput
    filterset_class = ProductFilter
    lookup_field, lookup_value_regex = "sku", "[^/]+"
    select = staticmethod(product_list)
    create_input, update_input = ProductCreateInput, ProductUpdateInput
    create_with = staticmethod(product_create)
    update_with = staticmethod(lambda product, data: product_update(product=product, data=data))


class StockLevelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Stock rows (staff). A manager sets a row's safety stock with PATCH."""

    parser_classes = [SizeLimitedJSONParser]
    serializer_class = StockLevelOutput
    filterset_class = StockLevelFilter
    lookup_value_regex = r"\d+"

    def get_permissions(self):
        return [IsManager()] if self.action == "partial_update" else [IsStaff()]

    def get_queryset(self):
        return stock_level_list()

    @extend_schema(
        request=StockLevelUpdateInput,
        responses={200: StockLevelOutput},
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = parse_input(StockLevelUpdateInput, request.data)
        level = stock_safety_set(
            stock_level_id=_stock_level_pk(pk),
            safety_stock=data["safety_stock"],
            actor=actor_from_request(request),
        )
        return Response(StockLevelOutput(level).data)

    @extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)])
    def retrieve(self, request: Request, pk: str) -> Response:
        level = self.get_queryset().filter(pk=_stock_level_pk(pk)).first()
        if level is None:
            raise StockLevelNotFound(f"No stock row {pk}.", extra={"id": pk})
        return Response(StockLevelOutput(level).data)


def _stock_level_pk(value: str) -> int:
    """The row id of the URL; 404 for one no row can have (beyond the bigint range)."""
    pk = pk_or_none(value)
    if pk is None:
        raise StockLevelNotFound(f"No stock row {value}.", extra={"id": value})
    return pk


class StockAdjustmentViewSet(_CreateViewSet):
    """A change (``delta``) or a count (``on_hand``) of one SKU at one location, by a manager or an
    associate of that location. Answers with the ledger row and the stock row after it."""

    permission_classes = [IsStaff]
    create_input, serializer_class = StockAdjustmentInput, StockAdjustmentOutput

    def created(self, request: Request, data: dict[str, Any]) -> Any:
        return stock_adjustment_apply(
            product=product_get_by_sku(sku=data["sku"]),
            location=location_get_by_code(code=data["location"]),
            actor=actor_from_request(request),
            reason=data["reason"],
            delta=data.get("delta"),
            on_hand=data.get("on_hand"),
        )


class StockSnapshotViewSet(_CreateViewSet):
    """A full count of one location (manager). SKUs absent from ``items`` go to 0 on hand; reserved
    units are never touched, and a count below them is refused (409). The body may be up to 32 MB
    (``SnapshotJSONParser``), other endpoints take Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    permission_classes = [IsManager]
    parser_classes = [SnapshotJSONParser]
    create_input, serializer_class = SnapshotInput, SnapshotOutput

    def created(self, request: Request, data: dict[str, Any]) -> Any:
        return stock_snapshot_apply(
            location=location_get_by_code(code=data["location"]),
            items=data["items"],
            actor=actor_from_request(request),
            reason=data["reason"],
        )


class AvailabilityView(GenericAPIView):
    """Available to promise per SKU: to ship, and per location near a point (any client).
    One object, not a paginated list: ``{"results": [...], "unknown_skus": [...]}``."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = AvailabilityOutput
    pagination_class = None
    filter_backends: list = []

    @extend_schema(parameters=[AvailabilityQuery], responses={200: AvailabilityOutput})
    def get(self, request: Request) -> Response:
        params = request.query_params
        query = availability_query_fast(params) or parse_input(AvailabilityQuery, params)
        origin = None
        if "latitude" in query:
            origin = (float(query["latitude"]), float(query["longitude"]))
        radius = query.get("radius_km")
        answer = availability_for_skus(
            skus=query["sku"],
            origin=origin,
            radius_km=None if radius is None else float(radius),
            # a channel's ship-from-store policy: the channel authentication loaded with the key
            channel=channel_from_request(request),
        )
        return Response(availability_output(answer))
