"""Benchmark: a full count (snapshot) of one location with N SKUs on PostgreSQL.

    python -m bench.snapshot --rows 100000     (DATABASE_URL: a PostgreSQL server; default local)

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
import random
import time
from typing import Any

from .harness import scratch_database, setup_django


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
            # Quantities follow the SKU's number (as ``_items`` does), not the product id: the
            # database may already hold other products (``python -m bench`` seeds its own first).
            cursor.execute(
                "INSERT INTO inventory_stocklevel "
                "(product_id, location_id, on_hand, reserved, safety_stock, updated_at) "
                "SELECT p.id, %s, 5 + (n.i * 7) %% 50, CASE WHEN n.i %% 10 = 0 THEN 3 ELSE 0 END, 0, now() "
                "FROM inventory_product p CROSS JOIN LATERAL (SELECT substr(p.sku, 7)::int AS i) n "
                "WHERE p.sku LIKE 'BENCH-%%' ORDER BY p.id",
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


def _api_parse(items: list[tuple[str, int]], code: str) -> dict[str, Any]:
    """JSON body -> the endpoint's parser -> ``SnapshotInput`` (what the API adds to the service).
    A body over the endpoint's limit is reported (the endpoint would answer 413), not parsed."""
    from inventory.api.serializers import SnapshotInput
    from oms.api.parsers import SnapshotJSONParser
    from oms.api.validation import parse_input

    body = json.dumps({"location": code, "items": [{"sku": s, "on_hand": n} for s, n in items]}).encode()
    parser = SnapshotJSONParser()
    out: dict[str, Any] = {"body_mb": round(len(body) / 1e6, 1), "limit_mb": round(parser.limit() / 1e6, 1)}
    if len(body) > parser.limit():
        out["api_parse_s"] = None
        out["note"] = "body over the endpoint's limit: the API answers 413 (split the count)"
        return out
    started = time.perf_counter()
    data = parser.parse(io.BytesIO(body), "application/json", {})
    parsed = parse_input(SnapshotInput, data)
    out["api_parse_s"] = round(time.perf_counter() - started, 3)
    assert len(parsed["items"]) == len(items)
    return out


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


def measure(*, rows: int, seed: int = 7, codes: tuple[str, str] = ("bench-a", "bench-b")) -> dict[str, Any]:
    """Seed two locations with ``rows`` stock rows each, time the reference on one and
    ``stock_snapshot_apply`` on the other, check the books; in the current (scratch) database."""
    from inventory.models import Location, StockLevel
    from inventory.snapshots import stock_snapshot_apply
    from oms.actors import Actor

    started = time.perf_counter()
    _seed(rows=rows, codes=list(codes))
    seeded = time.perf_counter() - started
    a = Location.objects.get(code=codes[0])
    b = Location.objects.get(code=codes[1])
    items = _items(rows=rows, seed=seed)
    reserved_before = dict(StockLevel.objects.filter(location=a).values_list("product_id", "reserved"))

    reference = _reference(location_id=b.pk, items=items)
    started = time.perf_counter()
    result = stock_snapshot_apply(location=a, items=items, actor=Actor.system("bench"), reason="bench")
    figure = time.perf_counter() - started
    parse = _api_parse(items, a.code)
    problems = []
    try:
        _check(location_id=a.pk, items=items, reserved_before=reserved_before)
    except AssertionError as exc:
        problems.append(str(exc))
    return {
        "rows": rows,
        "seed_s": round(seeded, 2),
        "rows_changed": result.rows_changed,
        "units_delta": result.units_delta,
        "figure_s": round(figure, 3),
        "reference_s": round(reference, 3),
        "ratio": round(figure / reference, 2),
        "api": parse,
        "checks": problems or "reservations intact, on_hand == count, ledger sums == on_hand",
        "correct": not problems,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the oms_bench database")
    args = parser.parse_args(argv)

    setup_django()
    with scratch_database("oms_bench", keep=args.keep):
        out = measure(rows=args.rows, seed=args.seed)
    print(f"seeded 2 x {out['rows']} stock rows in {out['seed_s']:.1f}s")
    print(f"rows: {out['rows']}, changed: {out['rows_changed']}, units delta: {out['units_delta']}")
    print(f"figure    (stock_snapshot_apply): {out['figure_s']:.3f}s")
    print(f"reference (COPY + one upsert):    {out['reference_s']:.3f}s")
    print(f"ratio: {out['ratio']:.2f}x")
    print(f"api parse (JSON + SnapshotInput): {out['api']}")
    print(f"checks: {out['checks']}")
    if not out["correct"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
