"""Availability to promise for 10 SKUs near a point.

* figure: ``GET /api/v1/availability?sku=..(10)&latitude=&longitude=&radius_km=50`` through
  gunicorn, ``concurrency`` client threads, random SKUs of the intake catalogue (10 stock rows each:
  5 warehouses, 5 of the 40 stores);
* reference: the same rows (every active location holding any, with the distance computed and the
  radius applied in SQL) read with one query over psycopg at the same concurrency.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlencode

from .harness import HttpClient, closed_loop, psycopg_connect
from .seed import CITY

RADIUS_KM = 50
SKUS_PER_QUERY = 10

RAW_SQL = (
    "SELECT p.sku, sl.on_hand - sl.reserved - sl.safety_stock AS atp, l.code, l.name, l.kind, l.ships, "
    "l.pickup, l.ship_from_store, d.km FROM inventory_product p "
    "JOIN inventory_stocklevel sl ON sl.product_id = p.id "
    "JOIN inventory_location l ON l.id = sl.location_id "
    "CROSS JOIN LATERAL (SELECT 2 * 6371.0088 * asin(least(1, sqrt(power(sin(radians(l.latitude - %(lat)s) "
    "/ 2), 2) + cos(radians(%(lat)s)) * cos(radians(l.latitude)) * power(sin(radians(l.longitude - "
    "%(lon)s) / 2), 2)))) AS km) d "
    "WHERE p.sku = ANY(%(skus)s) AND l.active AND sl.on_hand - sl.reserved - sl.safety_stock > 0 "
    "AND d.km <= %(radius)s ORDER BY p.sku, d.km, l.code"
)


def _point(rng: random.Random) -> tuple[float, float]:
    return round(CITY[0] + rng.uniform(-0.1, 0.1), 4), round(CITY[1] + rng.uniform(-0.1, 0.1), 4)


def http_availability(
    *, port: int, key: str, skus: list[str], concurrency: int, duration: float, warmup: float
):  # type: ignore[no-untyped-def]
    def operation(client: HttpClient, rng: random.Random) -> str:
        lat, lon = _point(rng)
        query = [("sku", s) for s in rng.sample(skus, SKUS_PER_QUERY)]
        query += [("latitude", lat), ("longitude", lon), ("radius_km", RADIUS_KM)]
        status, body = client.request("GET", f"/api/v1/availability?{urlencode(query)}")
        if status == 200 and len(body["results"]) == SKUS_PER_QUERY:
            return "ok"
        return f"http_{status}"

    return closed_loop(
        operation=operation,
        make_state=lambda i: HttpClient(port, key),
        close_state=lambda client: client.close(),
        workers=concurrency,
        duration=duration,
        warmup=warmup,
        seed=21,
    )


def raw_availability(*, db_url: str, skus: list[str], concurrency: int, duration: float, warmup: float):  # type: ignore[no-untyped-def]
    def make_state(index: int) -> Any:
        conn = psycopg_connect(db_url)
        conn.autocommit = True
        return conn

    def operation(conn: Any, rng: random.Random) -> str:
        lat, lon = _point(rng)
        with conn.cursor() as cur:
            cur.execute(
                RAW_SQL,
                {"lat": lat, "lon": lon, "skus": rng.sample(skus, SKUS_PER_QUERY), "radius": RADIUS_KM},
            )
            rows = cur.fetchall()
        return "ok" if rows else "empty"

    return closed_loop(
        operation=operation,
        make_state=make_state,
        close_state=lambda conn: conn.close(),
        workers=concurrency,
        duration=duration,
        warmup=warmup,
        seed=21,
    )
