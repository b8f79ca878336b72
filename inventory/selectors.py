"""Reads of inventory: the lists behind the API and ATP (available to promise).

``availability_for_skus`` answers "how many can we sell, and where" in one query whatever the
number of SKUs; distances are computed in Python on the rows it returns."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import QuerySet

from .choices import LocationKind
from .models import Location, Product, StockLevel, TransferLine, TransferOrder
from .sourcing import haversine_km
from .transfers.models import ON_THE_ROAD

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
    in_transit: int = 0  # units on the road to it (transfers shipped, not yet received): not sellable


@dataclass(frozen=True)
class IncomingSupply:
    """Units of a SKU on the road to a location (transfers), expected on a day: future supply, never
    counted in ``available``."""

    location: str  # code
    quantity: int
    expected_on: str | None  # ISO date


@dataclass
class SkuAvailability:
    """A SKU's units to ship, and the locations that hold any."""

    sku: str
    available: int = 0  # to ship: summed over active locations that may ship
    locations: list[LocationAvailability] = field(default_factory=list)
    incoming: list[IncomingSupply] = field(default_factory=list)


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
    not let stores ship its orders). ``pickup`` marks stores where customers collect.

    Units in transit (transfers shipped, not yet received) are future supply: per SKU ``incoming``
    (per destination and expected day) and per listed location ``in_transit``; they are never in
    ``available``, so nothing sells them before they arrive. One query (a UNION ALL)."""
    wanted = list(dict.fromkeys(skus))
    by_sku = {sku: SkuAvailability(sku=sku) for sku in wanted}
    known: set[str] = set()
    if wanted:
        stores_may_ship = channel is None or channel.ship_from_stores
        store = LocationKind.STORE
        with connection.cursor() as cursor:
            cursor.execute(_availability_sql(len(wanted)), wanted + wanted)
            rows = cursor.fetchall()
        incoming: list[tuple[str, str, int, object, float | None]] = []
        for sku, atp, code, name, kind, lat, lon, ships, pickup, ship_from_store, road, due in rows:
            known.add(sku)
            if code is None:  # a product with nothing available anywhere
                continue
            entry = by_sku[sku]
            is_store = kind == store
            if not road and ((ship_from_store and stores_may_ship) if is_store else ships):
                entry.available += atp  # shipping is not limited by the radius
            distance = None
            if origin is not None:
                distance = haversine_km(origin, (float(lat), float(lon)))
                if radius_km is not None and distance > radius_km:
                    continue
                distance = round(distance, 1)
            if road:  # units in transit to ``code``: future supply, never available
                incoming.append((sku, code, atp, due, distance))
                continue
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
        if incoming:
            _add_incoming(by_sku, incoming)
    for entry in by_sku.values():
        if len(entry.locations) > 1:
            entry.locations.sort(key=_nearest_then_code)
    return AvailabilityAnswer(
        results=list(by_sku.values()), unknown_skus=[sku for sku in wanted if sku not in known]
    )


def _add_incoming(
    by_sku: dict[str, SkuAvailability], rows: list[tuple[str, str, int, object, float | None]]
) -> None:
    """Each SKU's units in transit, summed per (location, expected day), earliest first, and each
    listed location's ``in_transit`` (LocationAvailability is frozen: replaced)."""
    totals: dict[tuple[str, str, str | None], int] = {}
    for sku, code, quantity, due, _ in rows:
        day = due.isoformat() if hasattr(due, "isoformat") else (None if due is None else str(due))
        totals[(sku, code, day)] = totals.get((sku, code, day), 0) + quantity
    road: dict[tuple[str, str], int] = {}
    ordered = sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][2] or "~", kv[0][1]))
    for (sku, code, day), quantity in ordered:
        by_sku[sku].incoming.append(IncomingSupply(location=code, quantity=quantity, expected_on=day))
        road[(sku, code)] = road.get((sku, code), 0) + quantity
    for entry in by_sku.values():
        entry.locations = [
            replace(loc, in_transit=road.get((entry.sku, loc.location), 0)) for loc in entry.locations
        ]


def _nearest_then_code(loc: LocationAvailability) -> tuple[bool, float, str]:
    return (loc.distance_km is None, loc.distance_km or 0.0, loc.location)


@functools.cache
def _availability_sql(count: int) -> str:
    """The products asked for, each with its stock rows that have units available at an active
    location (a LEFT JOIN: a product without any still answers one row, so that it is known).
    Plain SQL: the ORM's compilation of the same query costs more than PostgreSQL's answer."""
    product, level, location = Product._meta.db_table, StockLevel._meta.db_table, Location._meta.db_table
    line, transfer = TransferLine._meta.db_table, TransferOrder._meta.db_table
    placeholders = ", ".join(["%s"] * count)
    on_the_road = ", ".join(f"'{status}'" for status in sorted(ON_THE_ROAD))
    columns = "l.code, l.name, l.kind, l.latitude, l.longitude, l.ships, l.pickup, l.ship_from_store"
    return (
        f"SELECT p.sku, sl.on_hand - sl.reserved - sl.safety_stock, {columns}, 0, NULL "  # noqa: S608
        f"FROM {product} p LEFT JOIN ({level} sl INNER JOIN {location} l ON l.id = sl.location_id) "
        "ON sl.product_id = p.id AND l.active AND sl.on_hand - sl.reserved - sl.safety_stock > 0 "
        f"WHERE p.sku IN ({placeholders}) "
        # units in transit (shipped, not yet received) to each destination, with the expected day
        f"UNION ALL SELECT p.sku, tl.shipped - tl.received, {columns}, 1, t.expected_on "
        f"FROM {line} tl INNER JOIN {product} p ON p.id = tl.product_id "
        f"INNER JOIN {transfer} t ON t.id = tl.transfer_id "
        f"INNER JOIN {location} l ON l.id = t.destination_id "
        f"WHERE p.sku IN ({placeholders}) AND t.status IN ({on_the_road}) AND tl.shipped > tl.received"
    )


def location_labels(codes: Iterable[str]) -> dict[str, str]:
    """``{code: "Store District 1 (st-hcm-d1)"}`` for the screens that name locations by code."""
    rows = Location.objects.filter(code__in=set(codes)).values_list("code", "name")
    return {code: f"{name} ({code})" for code, name in rows}
