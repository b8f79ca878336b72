"""Reads of inventory: the lists behind the API and ATP (available to promise).

``availability_for_skus`` answers "how many can we sell, and where" in one query whatever the
number of SKUs; distances are computed in Python on the rows it returns."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import QuerySet

from .choices import LocationKind
from .models import Location, Product, StockLevel
from .sourcing import haversine_km

if TYPE_CHECKING:
    from oms.models import Channel


def location_list() -> QuerySet[Location]:
    """Every location, active or not, by code (the model's ordering)."""
    return Location.objects.all()


def product_list() -> QuerySet[Product]:
    """Every product, sold or not, by SKU (the model's ordering)."""
    return Product.objects.all()


def stock_level_list() -> QuerySet[StockLevel]:
    """Every stock row in pk order, with its product and location joined (no query per row)."""
    return StockLevel.objects.select_related("product", "location")


# --- ATP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationAvailability:
    """One location's units of a SKU that can be sold now."""

    location: str  # code
    name: str
    kind: str
    available: int
    distance_km: float | None
    pickup: bool


@dataclass
class SkuAvailability:
    """A SKU's units to ship, and the locations that hold any."""

    sku: str
    available: int = 0  # to ship: summed over active locations that may ship
    locations: list[LocationAvailability] = field(default_factory=list)


@dataclass
class AvailabilityAnswer:
    """What ``availability_for_skus`` answers: one result per SKU asked, and the unknown ones."""

    results: list[SkuAvailability]
    unknown_skus: list[str]


def availability_for_skus(
    *,
    skus: Sequence[str],
    origin: tuple[float, float] | None = None,
    radius_km: float | None = None,
    channel: Channel | None = None,
) -> AvailabilityAnswer:
    """What can be sold of each SKU, and where, read in one query whatever the number of SKUs.

    Per SKU (in the order asked, each once): ``available`` to ship, and the active locations that
    hold any (``available = on_hand - reserved - safety_stock > 0``), nearest ``origin`` first (then
    by code), within ``radius_km`` of it when both are given. SKUs without a product are listed in
    ``unknown_skus`` (and answered with nothing available).

    Shipping counts warehouses that ship and stores with ship-from-store (unless ``channel`` does
    not let stores ship its orders). ``pickup`` marks stores where customers collect. One query."""
    wanted = list(dict.fromkeys(skus))
    by_sku = {sku: SkuAvailability(sku=sku) for sku in wanted}
    known: set[str] = set()
    if wanted:
        stores_may_ship = channel is None or channel.ship_from_stores
        store = LocationKind.STORE
        with connection.cursor() as cursor:
            cursor.execute(_availability_sql(len(wanted)), wanted)
            rows = cursor.fetchall()
        for sku, atp, code, name, kind, lat, lon, ships, pickup, ship_from_store in rows:
            known.add(sku)
            if code is None:  # a product with nothing available anywhere
                continue
            entry = by_sku[sku]
            is_store = kind == store
            if (ship_from_store and stores_may_ship) if is_store else ships:
                entry.available += atp
            distance = None
            if origin is not None:
                distance = haversine_km(origin, (float(lat), float(lon)))
                if radius_km is not None and distance > radius_km:
                    continue
                distance = round(distance, 1)
            entry.locations.append(
                LocationAvailability(
                    location=code,
                    name=name,
                    kind=kind,
                    available=atp,
                    distance_km=distance,
                    pickup=bool(is_store and pickup),  # SQLite answers 0 / 1
                )
            )
    for entry in by_sku.values():
        if len(entry.locations) > 1:
            entry.locations.sort(key=_nearest_then_code)
    return AvailabilityAnswer(
        results=list(by_sku.values()), unknown_skus=[sku for sku in wanted if sku not in known]
    )


def _nearest_then_code(loc: LocationAvailability) -> tuple[bool, float, str]:
    return (loc.distance_km is None, loc.distance_km or 0.0, loc.location)


@functools.cache
def _availability_sql(count: int) -> str:
    """The products asked for, each with its stock rows that have units available at an active
    location (a LEFT JOIN: a product without any still answers one row, so that it is known).
    Plain SQL: the ORM's compilation of the same query costs more than PostgreSQL's answer."""
    product, level, location = Product._meta.db_table, StockLevel._meta.db_table, Location._meta.db_table
    placeholders = ", ".join(["%s"] * count)
    return (
        "SELECT p.sku, sl.on_hand - sl.reserved - sl.safety_stock, l.code, l.name, l.kind, "  # noqa: S608
        "l.latitude, l.longitude, l.ships, l.pickup, l.ship_from_store "
        f"FROM {product} p LEFT JOIN ({level} sl INNER JOIN {location} l ON l.id = sl.location_id) "
        "ON sl.product_id = p.id AND l.active AND sl.on_hand - sl.reserved - sl.safety_stock > 0 "
        f"WHERE p.sku IN ({placeholders})"
    )


def location_labels(codes: Iterable[str]) -> dict[str, str]:
    """``{code: "Store District 1 (st-hcm-d1)"}`` for the screens that name locations by code."""
    rows = Location.objects.filter(code__in=set(codes)).values_list("code", "name")
    return {code: f"{name} ({code})" for code, name in rows}
