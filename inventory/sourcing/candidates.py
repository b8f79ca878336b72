"""The one query that feeds the engine: candidate stock rows with their locations and today's load
(``load_candidates``, ``load_candidate_rows`` + ``candidates_from_rows`` for a batch), and by SKU
with the products themselves (``load_candidates_for_skus``)."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from django.db import connection
from django.utils import timezone

from inventory.models import Location, LocationDailyLoad, Product, StockLevel

from .types import CandidateLocation, CandidateStock


@dataclass(frozen=True)
class CandidateProduct:
    id: int
    sku: str
    name: str
    active: bool


@dataclass
class Candidates:
    """What ``load_candidates_for_skus`` read in its one round trip."""

    stock: list[CandidateStock]
    locations: dict[int, CandidateLocation]
    products: dict[str, CandidateProduct]  # by SKU; a SKU missing here is unknown
    next_value: int | None = None  # the sequence value drawn in the same statement, if asked
    drawn: list[int] = field(default_factory=list)  # the ``draw`` values, in order


# In the order of the engine's records: a stock row's first five columns are a ``CandidateStock``
# (available worked out by the database), the location's follow in ``CandidateLocation``'s field
# order (its id is the row's ``location_id``). Coordinates come as floats (the same doubles as
# ``float(Decimal)``: both round the decimal to the nearest): a Decimal per coordinate, then a
# float, was a fifth of turning 3,000 rows into records.
def _columns(load: str) -> str:
    """The columns; ``load`` names today's open fulfilment orders of the location (NULL: none)."""
    return (
        "s.id, s.product_id, p.sku, s.location_id, s.on_hand - s.reserved - s.safety_stock, "
        "l.code, l.kind, CAST(l.latitude AS DOUBLE PRECISION), CAST(l.longitude AS DOUBLE PRECISION), "
        f"l.priority, l.active, l.ships, l.pickup, l.ship_from_store, l.daily_capacity, COALESCE({load}, 0)"
    )


_LOCATION_FIELDS = tuple(f.name for f in fields(CandidateLocation))
_FLAGS = ("active", "ships", "pickup", "ship_from_store")  # 0 / 1 on SQLite, bool on PostgreSQL


def _tables() -> dict[str, str]:
    return {
        "product": Product._meta.db_table,
        "stock": StockLevel._meta.db_table,
        "location": Location._meta.db_table,
        "load": LocationDailyLoad._meta.db_table,
    }


def _day_param(day: date) -> date | str:
    return day if connection.vendor == "postgresql" else day.isoformat()


_new = object.__new__
_new_tuple = tuple.__new__


def _location(values: tuple[Any, ...]) -> CandidateLocation:
    """A ``CandidateLocation`` of (id, *its columns). A frozen dataclass's __init__ sets each of
    its 12 fields through object.__setattr__ (3.9 us a location against under 1 us filled here):
    at 1,000 candidates that was a tenth of the call. CandidateLocation has no __post_init__."""
    location = _new(CandidateLocation)
    attributes = dict(zip(_LOCATION_FIELDS, values, strict=True))
    if type(values[6]) is not bool:
        for flag in _FLAGS:
            attributes[flag] = bool(attributes[flag])
    location.__dict__.update(attributes)
    return location


def _collect(
    rows: Iterable[Sequence[Any]], stock: list[CandidateStock], locations: dict[int, CandidateLocation]
) -> None:
    """Turn (stock row, location, today's load) tuples into the engine's rows; rows with a NULL
    stock id (a product stocked nowhere) are skipped. Only ``available >= 1`` is stock. A tuple
    slice per row, not 16 names unpacked and packed again: this loop sees every candidate row."""
    append = stock.append
    for row in rows:
        location_id = row[3]
        if location_id not in locations:
            if row[0] is None:
                continue
            locations[location_id] = _location((location_id, *row[5:]))
        if row[4] >= 1:
            append(_new_tuple(CandidateStock, row[:5]))


@functools.cache
def _rows_sql(count: int, vendor: str) -> str:
    """The statement of ``load_candidate_rows`` for ``count`` products (built once per count; SQLite
    wants a LIMIT before its OFFSET).

    Its plan must be right without the product ids: psycopg prepares it after a few runs and
    PostgreSQL then keeps one generic plan, estimated from the average product (a few rows), for
    orders whose products sit at 10 locations or at 1,000. So it starts from the products (an
    index lookup each) and their stock rows by the (product, location) index, and hashes them
    against the locations with today's load, a subquery planned on its own (``OFFSET 0``): one
    scan of the location table and one of today's loads, whatever the number of rows. Joined row
    by row instead, as the planner prefers for the few rows it expects, 3,000 rows took 3x longer
    (a location index lookup each) or 12 ms (today's loads scanned once per row). The generic plan
    it got before read every product (a hash join over the product table): 1.0 ms against 0.1 ms
    at 10 candidates (docs/performance.md)."""
    marks = ", ".join(["%s"] * count)
    return (
        f"SELECT {_columns('l.open_fulfillment_orders')} FROM {{product}} p "  # noqa: S608
        "JOIN {stock} s ON s.product_id = p.id "
        "JOIN (SELECT l.id, l.code, l.kind, l.latitude, l.longitude, l.priority, l.active, l.ships, "
        "l.pickup, l.ship_from_store, l.daily_capacity, d.open_fulfillment_orders FROM {location} l "
        "LEFT JOIN {load} d ON d.location_id = l.id AND d.day = %s "
        f"{'LIMIT -1 ' if vendor == 'sqlite' else ''}OFFSET 0) l "
        "ON l.id = s.location_id "
        f"WHERE p.id IN ({marks}) ORDER BY s.id"
    ).format(**_tables())


def load_candidate_rows(*, product_ids: Collection[int], today: date | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``load_candidates``, not yet turned into the engine's (``candidates_from_rows``):
    for a caller that plans several orders from one read (a batch of routings)."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    day = today or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(_rows_sql(len(ids), connection.vendor), [_day_param(day), *ids])
        return cursor.fetchall()


def candidates_from_rows(
    rows: Sequence[tuple[Any, ...]], *, product_ids: Collection[int] | None = None
) -> tuple[list[CandidateStock], dict[int, CandidateLocation]]:
    """The engine's stock rows and locations from ``load_candidate_rows``, for ``product_ids``
    only when given: exactly what ``load_candidates`` of those products returns."""
    if product_ids is not None:
        rows = [row for row in rows if row[1] in product_ids]
    stock: list[CandidateStock] = []
    locations: dict[int, CandidateLocation] = {}
    _collect(rows, stock, locations)
    return stock, locations


def load_candidates(
    *, product_ids: Collection[int], today: date | None = None
) -> tuple[list[CandidateStock], dict[int, CandidateLocation]]:
    """One query: the stock rows of these products with their locations and today's load.

    Every location holding a row of these products is returned (so the plan can say why one was
    ruled out); only rows with ``available >= 1`` are stock (available = on hand - reserved - safety
    stock: safety stock is never sold). Plain SQL on purpose: it runs on every placement and every
    routing, and building the equivalent queryset cost as much as running it (docs/performance.md);
    today's load is one LEFT JOIN on the unique (location, day), not a subquery per row."""
    return candidates_from_rows(load_candidate_rows(product_ids=product_ids, today=today))


def load_candidates_for_skus(
    *,
    skus: Collection[str],
    today: date | None = None,
    next_id_of: str | None = None,
    draw: tuple[str, int] | None = None,
) -> Candidates:
    """``load_candidates`` by SKU, with the products themselves (id, name, active; a SKU stocked
    nowhere is still returned, an unknown one is not), in one round trip. With ``next_id_of`` (a
    table name) the statement also draws the next value of that table's id sequence, once, on
    PostgreSQL: a caller that needs an id before its INSERT (an order's number) saves a statement.
    ``draw`` (a table name and a count) draws that many ids of that table the same way, in
    ``drawn`` (an order change's new lines)."""
    wanted = sorted(set(skus))
    if not wanted:
        return Candidates(stock=[], locations={}, products={})
    day = today or timezone.localdate()
    marks = ", ".join(["%s"] * len(wanted))
    postgresql = connection.vendor == "postgresql"
    one = next_id_of is not None and postgresql
    many = draw is not None and draw[1] > 0 and postgresql
    heads = []
    if one:
        heads.append("seq AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS value)")
    if many:
        heads.append(
            "ids AS MATERIALIZED (SELECT array_agg(v ORDER BY n) AS vs FROM (SELECT n, "
            "nextval(pg_get_serial_sequence(%s, 'id')) AS v FROM generate_series(1, %s) AS n) AS g)"
        )
    sql = (
        f"{'WITH ' + ', '.join(heads) + ' ' if heads else ''}SELECT p.id, p.sku, p.name, p.active, "  # noqa: S608
        f"{'seq.value' if one else 'NULL'}, {'ids.vs' if many else 'NULL'}, "
        f"{_columns('d.open_fulfillment_orders')} "
        "FROM {product} p "
        f"{'CROSS JOIN seq ' if one else ''}{'CROSS JOIN ids ' if many else ''}"
        "LEFT JOIN {stock} s ON s.product_id = p.id "
        "LEFT JOIN {location} l ON l.id = s.location_id "
        "LEFT JOIN {load} d ON d.location_id = s.location_id AND d.day = %s "
        f"WHERE p.sku IN ({marks}) ORDER BY s.id"
    ).format(**_tables())
    params: list[date | str | int] = [next_id_of] if next_id_of is not None and one else []
    params += [draw[0], draw[1]] if draw is not None and many else []
    params += [_day_param(day), *wanted]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    products: dict[str, CandidateProduct] = {}
    next_value: int | None = None
    drawn: list[int] = []
    for product_id, sku, name, active, value, values, *_rest in rows:
        if sku not in products:
            products[sku] = CandidateProduct(id=product_id, sku=sku, name=name, active=bool(active))
        next_value = value if value is not None else next_value
        drawn = list(values) if values else drawn
    stock: list[CandidateStock] = []
    locations: dict[int, CandidateLocation] = {}
    _collect((row[6:] for row in rows), stock, locations)
    return Candidates(stock=stock, locations=locations, products=products, next_value=next_value, drawn=drawn)
