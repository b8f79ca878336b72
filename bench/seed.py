"""The bench's network and catalogue, written with set-based SQL (seconds, not minutes).

* a ``web`` channel and its API client (the key is returned, as ``create_api_client`` prints it);
* around one city (10.78, 106.70): 5 warehouses that ship and 40 stores (pickup, ship-from-store);
* intake SKUs ``SKU-nnnnnn``: each at the 5 warehouses (1,000,000 units: never sold out) and at 5
  stores (50 units), so an order considers 10 stock rows;
* the flash-sale SKU ``FLASH-1``: N units at one warehouse only (one hot row);
* 1,000 sourcing warehouses across the country, and per size (10, 100, 1,000) two SKU trios stocked
  at the first ``size`` of them: ``SRCn-S*`` with 1 to 4 units a row (no location can hold an order
  of 5 a line: the engine must split) and ``SRCn-R*`` with 200 to 1,000 (one location can);
* the ledger (one receipt movement per stock row) matching ``on_hand``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

CITY = (10.78, 106.70)
COUNTRY_BOX = ((8.6, 22.8), (102.2, 109.4))  # latitude, longitude ranges
SOURCING_SIZES = (10, 100, 1000)
WAREHOUSES = 5
STORES = 40
FLASH_SKU = "FLASH-1"
SPLIT_QTY = 5  # units per line of a sourcing order: more than any SRCn-S row holds


@dataclass
class Seeded:
    key: str  # bearer key of the web channel's API client
    channel_id: int
    intake_skus: list[str]
    flash_sku: str
    flash_stock: int


def sourcing_skus(size: int, kind: str) -> list[str]:
    """The SKU trio stocked at ``size`` sourcing locations; kind "S" (must split) or "R" (roomy)."""
    return [f"SRC{size}-{kind}{i}" for i in (1, 2, 3)]


def _locations(rng: random.Random) -> None:
    from inventory.models import Location

    def point(box: tuple[tuple[float, float], tuple[float, float]]) -> tuple[Decimal, Decimal]:
        (lat0, lat1), (lon0, lon1) = box
        return (
            Decimal(f"{rng.uniform(lat0, lat1):.6f}"),
            Decimal(f"{rng.uniform(lon0, lon1):.6f}"),
        )

    city_box = ((CITY[0] - 0.25, CITY[0] + 0.25), (CITY[1] - 0.25, CITY[1] + 0.25))
    rows = []
    for i in range(1, WAREHOUSES + 1):
        lat, lon = point(city_box)
        rows.append(
            Location(
                code=f"WH-{i}",
                name=f"Warehouse {i}",
                kind="warehouse",
                latitude=lat,
                longitude=lon,
                ships=True,
                priority=i % 3,
            )
        )
    for i in range(1, STORES + 1):
        lat, lon = point(city_box)
        rows.append(
            Location(
                code=f"ST-{i:02d}",
                name=f"Store {i}",
                kind="store",
                latitude=lat,
                longitude=lon,
                pickup=True,
                ship_from_store=True,
                accepts_returns=True,
            )
        )
    for i in range(1, max(SOURCING_SIZES) + 1):
        lat, lon = point(COUNTRY_BOX)
        rows.append(
            Location(
                code=f"SRC-{i:04d}",
                name=f"Sourcing node {i}",
                kind="warehouse",
                latitude=lat,
                longitude=lon,
                ships=True,
                priority=rng.randint(0, 3),
            )
        )
    Location.objects.bulk_create(rows, batch_size=500)


def _products(cursor, skus: list[str]) -> None:  # type: ignore[no-untyped-def]
    cursor.execute(
        "INSERT INTO inventory_product (sku, name, price, currency, active, created_at, updated_at) "
        "SELECT s, 'Bench ' || s, 10.00, 'USD', true, now(), now() FROM unnest(%s::text[]) AS s",
        [skus],
    )


def _stock(cursor, rows: list[tuple[str, str, int]]) -> None:  # type: ignore[no-untyped-def]
    """(sku, location code, on_hand) rows."""
    cursor.execute(
        "INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, safety_stock, "
        "updated_at) SELECT p.id, l.id, r.on_hand, 0, 0, now() "
        "FROM unnest(%s::text[], %s::text[], %s::int[]) AS r(sku, code, on_hand) "
        "JOIN inventory_product p ON p.sku = r.sku JOIN inventory_location l ON l.code = r.code",
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )


def seed(*, intake_skus: int, flash_stock: int, rng_seed: int = 7) -> Seeded:
    from django.db import connection, transaction

    from oms.services import api_client_create

    rng = random.Random(rng_seed)
    with transaction.atomic():
        _, key = api_client_create(name="bench-web", channel_code="web", kind="web", currency="USD")
        _locations(rng)
        skus = [f"SKU-{i:06d}" for i in range(1, intake_skus + 1)]
        stores = [f"ST-{i:02d}" for i in range(1, STORES + 1)]
        with connection.cursor() as c:
            _products(c, skus)
            stock: list[tuple[str, str, int]] = []
            for sku in skus:
                stock += [(sku, f"WH-{w}", 1_000_000) for w in range(1, WAREHOUSES + 1)]
                stock += [(sku, store, 50) for store in rng.sample(stores, 5)]
            _stock(c, stock)

            _products(c, [FLASH_SKU])
            _stock(c, [(FLASH_SKU, "WH-1", flash_stock)])

            for size in SOURCING_SIZES:
                split, roomy = sourcing_skus(size, "S"), sourcing_skus(size, "R")
                _products(c, split + roomy)
                codes = [f"SRC-{i:04d}" for i in range(1, size + 1)]
                _stock(c, [(sku, code, rng.randint(1, SPLIT_QTY - 1)) for sku in split for code in codes])
                _stock(c, [(sku, code, rng.randint(200, 1000)) for sku in roomy for code in codes])

            c.execute(
                "INSERT INTO inventory_stockmovement (stock_level_id, product_id, location_id, kind, "
                "on_hand_delta, reserved_delta, reason, reference, actor_type, actor_name, created_at) "
                "SELECT id, product_id, location_id, 'receipt', on_hand, 0, 'bench seed', '', 'system', "
                "'bench', now() FROM inventory_stocklevel"
            )
            c.execute("SELECT id FROM oms_channel WHERE code = 'web'")
            (channel_id,) = c.fetchone()
    return Seeded(
        key=key, channel_id=channel_id, intake_skus=skus, flash_sku=FLASH_SKU, flash_stock=flash_stock
    )
