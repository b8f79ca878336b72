"""Reads of inventory: the lists behind the API and ATP (available to promise).

``availability_for_skus`` answers "how many can we sell, and where" in a constant number of queries
(two) whatever the number of SKUs; distances are computed in Python on the rows it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import F, QuerySet

from .choices import LocationKind
from .models import Location, Product, StockLevel
from .sourcing import haversine_km

if TYPE_CHECKING:
    from oms.models import Channel


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def stock_level_list() -> QuerySet[StockLevel]:
    return StockLevel.objects.select_related("product", "location")


# --- ATP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationAvailability:
    location: str  # code
    name: str
    kind: str
    available: int
    distance_km: float | None
    pickup: bool


@dataclass
class SkuAvailability:
    sku: str
    available: int = 0  # to ship: summed over active locations that may ship
    locations: list[LocationAvailability] = field(default_factory=list)


@dataclass
class AvailabilityAnswer:
    results: list[SkuAvailability]
    unknown_skus: list[str]


def availability_for_skus(
    *,
    skus: Sequence[str],
    origin: tuple[float, float] | None = None,
    radius_km: float | None = None,
    channel: Channel | None = None,
) -> AvailabilityAnswer:
    """Per SKU (in the order asked, each once): ``available`` to ship, and the active locations that
    hold any (``available = on_hand - reserved - safety_stock > 0``), nearest ``origin`` first (then
    by code), within ``radius_km`` of it when both are given.

    Shipping counts warehouses that ship and stores with ship-from-store (unless ``channel`` does
    not let stores ship its orders). ``pickup`` marks stores where customers collect. Two queries."""
    wanted = list(dict.fromkeys(skus))
    products = dict(Product.objects.filter(sku__in=wanted).values_list("pk", "sku"))
    by_sku = {sku: SkuAvailability(sku=sku) for sku in wanted}
    stores_may_ship = channel is None or channel.ship_from_stores
    if products:
        rows = (
            StockLevel.objects.filter(product_id__in=products, location__active=True)
            .annotate(atp=F("on_hand") - F("reserved") - F("safety_stock"))
            .filter(atp__gt=0)
            .values_list(
                "product_id",
                "atp",
                "location__code",
                "location__name",
                "location__kind",
                "location__latitude",
                "location__longitude",
                "location__ships",
                "location__pickup",
                "location__ship_from_store",
            )
        )
        for product_id, atp, code, name, kind, lat, lon, ships, pickup, ship_from_store in rows:
            entry = by_sku[products[product_id]]
            is_store = kind == LocationKind.STORE
            if (ship_from_store and stores_may_ship) if is_store else ships:
                entry.available += atp
            distance = None
            if origin is not None:
                distance = haversine_km(origin, (float(lat), float(lon)))
                if radius_km is not None and distance > radius_km:
                    continue
            entry.locations.append(
                LocationAvailability(
                    location=code,
                    name=name,
                    kind=kind,
                    available=atp,
                    distance_km=None if distance is None else round(distance, 1),
                    pickup=is_store and pickup,
                )
            )
    for entry in by_sku.values():
        entry.locations.sort(key=lambda loc: (loc.distance_km is None, loc.distance_km or 0.0, loc.location))
    known = set(products.values())
    return AvailabilityAnswer(
        results=list(by_sku.values()), unknown_skus=[sku for sku in wanted if sku not in known]
    )
