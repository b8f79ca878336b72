"""Benchmark: a full count (snapshot) of one location with N SKUs on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms python -m bench.snapshot --rows 100000

Creates a scratch database ``oms_bench`` with Django's test-database machinery (dropped at the end
unless ``--keep``), seeds two identical locations with N stock rows each (every tenth SKU with units
reserved, the ledger matching), then times:

* figure: ``stock_snapshot_apply`` on location A with N items (COPY into a temporary table, the
  set-based diff, one ``count`` ledger row per changed row, one transaction, commit included);
* reference: the bare minimum on location B: COPY into a staging table and one
  ``INSERT ... ON CONFLICT DO UPDATE`` (no checks, no ledger, no locking discipline);
* api parse: JSON body -> parser -> ``SnapshotInput`` validation, the part the endpoint adds.

and prints both with their ratio. It asserts reservations are intact, on_hand equals the count and
the ledger sums to on_hand for every row of A.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench.snapshot needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/db")
    import django

    django.setup()


def _seed(*, rows: int, codes: list[str]) -> None:
    """N products and, at each location, N stock rows with a matching ledger (set-based SQL)."""
    from django.db import connection, transaction

    from inventory.models import Location

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_product (sku, name, price, currency, active, created_at, updated_at) "
            "SELECT 'BENCH-' || lpad(i::text, 7, '0'), 'Bench product ' || i, 10.00, 'USD', true, "
            "now(), now() FROM generate_series(1, %s) AS i",
            [rows],
        )
        for code in codes:
            location = Location.objects.create(
                code=code, name=code, kind="warehouse", latitude=10.8, longitude=106.7, ships=True
            )
            cursor.execute(
                "INSERT INTO inventory_stocklevel "
                "(product_id, location_id, on_hand, reserved, safety_stock, updated_at) "
                "SELECT p.id, %s, 5 + (p.id * 7) %% 50, CASE WHEN p.id %% 10 = 0 THEN 3 ELSE 0 END, 0, now() "
                "FROM inventory_product p WHERE p.sku LIKE 'BENCH-%%' ORDER BY p.id",
                [location.pk],
            )
            for kind, on_hand_delta, reserved_delta, where in (
                ("receipt", "sl.on_hand", "0", "true"),
                ("reservation", "0", "sl.reserved", "sl.reserved > 0"),
            ):
                cursor.execute(
                    "INSERT INTO inventory_stockmovement (stock_level_id, product_id, location_id, kind, "
                    "on_hand_delta, reserved_delta, reason, reference, actor_type, actor_name, created_at) "
                    f"SELECT sl.id, sl.product_id, sl.location_id, %s, {on_hand_delta}, {reserved_delta}, "
                    "'bench seed', '', 'system', 'bench', now() "
                    f"FROM inventory_stocklevel sl WHERE sl.location_id = %s AND {where}",
                    [kind, location.pk],
                )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _items(*, rows: int, seed: int) -> list[tuple[str, int]]:
    """A count of every SKU: about half unchanged, the rest moved up or down, never below reserved."""
    rng = random.Random(seed)
    items = []
    for i in range(1, rows + 1):
        on_hand = 5 + (i * 7) % 50
        reserved = 3 if i % 10 == 0 else 0
        if rng.random() < 0.5:
            on_hand = max(reserved, on_hand + rng.randint(-5, 5))
        items.append((f"BENCH-{i:07d}", on_hand))
    return items


def _reference(*, location_id: int, items: list[tuple[str, int]]) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_ref_stage (sku text, on_hand integer) ON COMMIT DROP")
        with cursor.cursor.copy("COPY bench_ref_stage (sku, on_hand) FROM STDIN") as copy:
            for row in items:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO inventory_stocklevel "
            "(product_id, location_id, on_hand, reserved, safety_stock, updated_at) "
            "SELECT p.id, %s, s.on_hand, 0, 0, now() "
            "FROM bench_ref_stage s JOIN inventory_product p ON p.sku = s.sku "
            "ON CONFLICT (product_id, location_id) DO UPDATE "
            "SET on_hand = EXCLUDED.on_hand, updated_at = EXCLUDED.updated_at",
            [location_id],
        )
    return time.perf_counter() - started


def _api_parse(items: list[tuple[str, int]], code: str) -> float:
    from inventory.api.parsers import SnapshotJSONParser
    from inventory.api.serializers import SnapshotInput
    from inventory.api.validation import parse_input

    body = json.dumps({"location": code, "items": [{"sku": s, "on_hand": n} for s, n in items]}).encode()
    started = time.perf_counter()
    data = SnapshotJSONParser().parse(io.BytesIO(body), "application/json", {})
    parsed = parse_input(SnapshotInput, data)
    elapsed = time.perf_counter() - started
    assert len(parsed["items"]) == len(items)
    print(f"api body: {len(body) / 1e6:.1f} MB")
    return elapsed


def _check(*, location_id: int, items: list[tuple[str, int]], reserved_before: dict[int, int]) -> None:
    from django.db import connection

    from inventory.models import StockLevel

    reserved_after = dict(
        StockLevel.objects.filter(location_id=location_id).values_list("product_id", "reserved")
    )
    assert reserved_after == reserved_before, "reservations changed"
    expected = dict(items)
    got = dict(StockLevel.objects.filter(location_id=location_id).values_list("product__sku", "on_hand"))
    assert got == expected, "on_hand differs from the count"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM inventory_stocklevel sl LEFT JOIN ("
            "  SELECT stock_level_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved "
            "  FROM inventory_stockmovement WHERE location_id = %s GROUP BY stock_level_id"
            ") m ON m.stock_level_id = sl.id "
            "WHERE sl.location_id = %s AND (coalesce(m.on_hand, 0) <> sl.on_hand "
            "OR coalesce(m.reserved, 0) <> sl.reserved)",
            [location_id, location_id],
        )
        (mismatched,) = cursor.fetchone()
    assert mismatched == 0, f"{mismatched} rows whose ledger does not sum to on_hand"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the oms_bench database")
    args = parser.parse_args(argv)

    _setup_django()
    from django.db import connection

    from inventory.models import Location, StockLevel
    from inventory.snapshots import stock_snapshot_apply
    from oms.actors import Actor

    connection.settings_dict["TEST"].update({"NAME": "oms_bench", "MIGRATE": False})
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        _seed(rows=args.rows, codes=["bench-a", "bench-b"])
        print(f"seeded 2 x {args.rows} stock rows in {time.perf_counter() - started:.1f}s")
        a = Location.objects.get(code="bench-a")
        b = Location.objects.get(code="bench-b")
        items = _items(rows=args.rows, seed=args.seed)
        reserved_before = dict(StockLevel.objects.filter(location=a).values_list("product_id", "reserved"))

        reference = _reference(location_id=b.pk, items=items)
        started = time.perf_counter()
        result = stock_snapshot_apply(location=a, items=items, actor=Actor.system("bench"), reason="bench")
        figure = time.perf_counter() - started
        parse = _api_parse(items, a.code)
        _check(location_id=a.pk, items=items, reserved_before=reserved_before)

        print(f"rows: {args.rows}, changed: {result.rows_changed}, units delta: {result.units_delta}")
        print(f"figure    (stock_snapshot_apply): {figure:.3f}s")
        print(f"reference (COPY + one upsert):    {reference:.3f}s")
        print(f"ratio: {figure / reference:.2f}x")
        print(f"api parse (JSON + SnapshotInput): {parse:.3f}s")
        print("checks: reservations intact, on_hand == count, ledger sums == on_hand")
    finally:
        if args.keep:
            print("kept database oms_bench")
        else:
            connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
