"""The network: locations and products (manager only; the API checks the role), and their look-ups
by code and SKU."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model

from inventory.choices import LocationKind
from inventory.errors import UnknownLocation, UnknownSku
from inventory.models import Location, Product
from oms.errors import Conflict, InvalidInput
from oms.services import check_currency

__all__ = [  # what inventory.services re-exports
    "LOCATION_FIELDS",
    "PRODUCT_FIELDS",
    "location_create",
    "location_get_by_code",
    "location_update",
    "product_create",
    "product_get_by_sku",
    "product_update",
]

ModelT = TypeVar("ModelT", bound=Model)


def product_get_by_sku(*, sku: str) -> Product:
    """The product with this SKU, or UnknownSku."""
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise UnknownSku(f"Unknown SKU '{sku}'.", extra={"skus": [sku]})
    return product


def location_get_by_code(*, code: str) -> Location:
    """The location with this code, or UnknownLocation."""
    location = Location.objects.filter(code=code).first()
    if location is None:
        raise UnknownLocation(f"Unknown location '{code}'.", extra={"locations": [code]})
    return location


# what a location can do for routing (the admin's "Capabilities")
LOCATION_CAPABILITY_FIELDS = (
    "ships",
    "pickup",
    "ship_from_store",
    "accepts_returns",
    "daily_capacity",
    "priority",
    "pickup_hold_days",
)
LOCATION_PLACE_FIELDS = (
    "latitude",
    "longitude",
    "address",
    "city",
    "country",
    "opening_hours",
    "timezone",
)
# what a manager may set on a location (its ``code`` is its identity)
LOCATION_FIELDS = ("name", "kind", *LOCATION_PLACE_FIELDS, *LOCATION_CAPABILITY_FIELDS, "active")
PRODUCT_FIELDS = ("name", "price", "currency", "active")


def _refuse_other_fields(data: Mapping[str, Any], editable: tuple[str, ...]) -> None:
    """InvalidInput naming every field of ``data`` that is not ``editable``."""
    unknown = sorted(set(data) - set(editable))
    if unknown:
        raise InvalidInput(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            code="field_not_editable",
            extra={"fields": unknown},
        )


def _fields_update(
    obj: ModelT,
    data: Mapping[str, Any],
    *,
    editable: tuple[str, ...],
    check: Callable[[ModelT], None],
    value_of: Callable[[str, Any], Any] = lambda name, value: value,
) -> ModelT:
    """Set the ``editable`` fields of ``data`` on the locked row of ``obj`` (each value through
    ``value_of``), ``check`` it, save those fields; InvalidInput for any other field."""
    _refuse_other_fields(data, editable)
    obj = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    for name, value in data.items():
        setattr(obj, name, value_of(name, value))
    check(obj)
    obj.save(update_fields=[*data, "updated_at"])
    return obj


def _check_location(location: Location) -> None:
    if location.kind not in LocationKind.values:
        raise InvalidInput(
            f"Unknown location kind '{location.kind}'.",
            code="unknown_location_kind",
            extra={"kind": location.kind},
        )
    location.country = (location.country or "").upper()
    location.full_clean(validate_unique=False)  # lengths, code format, coordinates (the CHECK)


@transaction.atomic
def location_create(
    *,
    code: str,
    name: str,
    kind: str,
    latitude: Decimal,
    longitude: Decimal,
    address: str = "",
    city: str = "",
    country: str = "",
    opening_hours: str = "",
    timezone: str | None = None,
    ships: bool = False,
    pickup: bool = False,
    ship_from_store: bool = False,
    accepts_returns: bool = False,
    daily_capacity: int | None = None,
    priority: int = 0,
    pickup_hold_days: int | None = None,
    active: bool = True,
) -> Location:
    """Add a warehouse or a store to the network."""
    if Location.objects.filter(code=code).exists():
        raise Conflict(f"Location '{code}' already exists.", code="location_exists", extra={"code": code})
    location = Location(
        code=code,
        name=name,
        kind=kind,
        latitude=latitude,
        longitude=longitude,
        address=address,
        city=city,
        country=country,
        opening_hours=opening_hours,
        timezone=timezone or settings.TIME_ZONE,
        ships=ships,
        pickup=pickup,
        ship_from_store=ship_from_store,
        accepts_returns=accepts_returns,
        daily_capacity=daily_capacity,
        priority=priority,
        pickup_hold_days=pickup_hold_days,
        active=active,
    )
    _check_location(location)
    try:
        with transaction.atomic():
            location.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent create of the same code
        raise Conflict(
            f"Location '{code}' already exists.", code="location_exists", extra={"code": code}
        ) from exc
    return location


@transaction.atomic
def location_update(*, location: Location, data: Mapping[str, Any]) -> Location:
    """Change a location's details or capabilities (its ``code`` is its identity and stays)."""
    return _fields_update(location, data, editable=LOCATION_FIELDS, check=_check_location)


def _check_price(price: Decimal) -> Decimal:
    price = Decimal(price)
    if not price.is_finite() or price < 0:
        raise InvalidInput("price must be a non-negative amount.", code="invalid_price")
    return price


@transaction.atomic
def product_create(*, sku: str, name: str, price: Decimal, currency: str, active: bool = True) -> Product:
    """Add a SKU to the catalogue."""
    if Product.objects.filter(sku=sku).exists():
        raise Conflict(f"SKU '{sku}' already exists.", code="product_exists", extra={"sku": sku})
    product = Product(
        sku=sku, name=name, price=_check_price(price), currency=check_currency(currency), active=active
    )
    product.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            product.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(f"SKU '{sku}' already exists.", code="product_exists", extra={"sku": sku}) from exc
    return product


@transaction.atomic
def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    """Change a SKU's name, price, currency or whether it is sold (the SKU itself stays)."""
    return _fields_update(
        product,
        data,
        editable=PRODUCT_FIELDS,
        check=lambda p: p.full_clean(validate_unique=False),
        value_of=_product_value,
    )


def _product_value(name: str, value: Any) -> Any:
    if name == "price":
        return _check_price(value)
    if name == "currency":
        return check_currency(value)
    return value
