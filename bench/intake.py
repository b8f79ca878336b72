"""Order intake: ``POST /api/v1/orders`` through gunicorn against the same transaction in raw SQL,
the statements ``order_place`` issues, and the flash sale (one hot SKU, 200 buyers).

* figure: 1-line ship orders on random SKUs, ``concurrency`` client threads, each request with its
  own ``Idempotency-Key`` and a customer from a pool of 20,000 e-mails (new ones are created);
* reference: the same writes by psycopg at the same concurrency, one transaction per order:
  conditional ``UPDATE ... RETURNING`` of a stock row of the SKU, customer upsert, order, line,
  reservation, ledger row, the two timeline events, the idempotency row; then COMMIT;
* statements: ``CaptureQueriesContext`` around ``order_place`` (1, 2 and 5 lines) and around a
  whole request through Django's test client (authentication and rendering included);
* flash sale: N units of one SKU at one warehouse, 200 buyers who each keep buying 1 unit until
  they get 409; exactly N 201s, N units reserved, 0 left: otherwise the check fails.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any

from .harness import HttpClient, closed_loop, count_statements, psycopg_connect, summary_ms
from .seed import CITY

ORDERS_PATH = "/api/v1/orders"
RAW_PREFIX = "RAW-"  # the numbers of the raw SQL reference's orders
CUSTOMER_POOL = 20_000


def order_body(skus: list[str], rng: random.Random, *, quantity: int = 1) -> dict[str, Any]:
    return {
        "customer": {"email": f"buyer{rng.randrange(CUSTOMER_POOL)}@bench.example", "name": "Bench Buyer"},
        "method": "ship",
        "shipping_address": {
            "line1": "1 Bench Street",
            "city": "Ho Chi Minh City",
            "country": "VN",
            "latitude": round(CITY[0] + rng.uniform(-0.2, 0.2), 5),
            "longitude": round(CITY[1] + rng.uniform(-0.2, 0.2), 5),
        },
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": "10.00"} for sku in skus],
    }


def _idempotency() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


# --- Statements per order ---------------------------------------------------------------------------


def statement_counts(*, key: str, skus: list[str], lines: tuple[int, ...] = (1, 2, 5)) -> dict[str, Any]:
    """SQL statements of one placement: ``order_place`` alone (with idempotency and the response
    rendered, as the view calls it) and the whole request through the test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from oms.actors import Actor
    from oms.models import ApiClient
    from orders.api.serializers import OrderCreateInput, placement_response
    from orders.services import IdempotencyClaim, idempotency_request_hash, order_place

    client = ApiClient.objects.select_related("channel").get(name="bench-web")
    actor = Actor.for_api_client(client)
    rng = random.Random(3)
    out: dict[str, Any] = {"service": {}, "request": {}}
    for n in lines:
        for _warm in range(2):  # the second one is counted (the customer exists by then)
            body = order_body(rng.sample(skus, n), rng)
            body["customer"]["email"] = "statements@bench.example"
            parsed = OrderCreateInput(data=body)
            parsed.is_valid(raise_exception=True)
            claim = IdempotencyClaim(
                scope=f"client:{client.pk}", key=uuid.uuid4().hex, request_hash=idempotency_request_hash(body)
            )
            with CaptureQueriesContext(connection) as ctx:
                order_place(
                    data=parsed.to_order_input(client.channel),
                    actor=actor,
                    idempotency=claim,
                    render=placement_response,
                )
        out["service"][n] = count_statements(ctx.captured_queries)
    http = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    for n in lines:
        for _warm in range(2):
            body = order_body(rng.sample(skus, n), rng)
            body["customer"]["email"] = "statements@bench.example"
            with CaptureQueriesContext(connection) as ctx:
                response = http.post(
                    ORDERS_PATH,
                    data=json.dumps(body),
                    content_type="application/json",
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
            assert response.status_code == 201, response.content[:300]
        out["request"][n] = count_statements(ctx.captured_queries)
    return out


# --- Reference: the same transaction in raw SQL ----------------------------------------------------------

RESERVE_SQL = (
    "UPDATE inventory_stocklevel SET reserved = reserved + %(q)s, updated_at = now() "
    "WHERE id = (SELECT sl.id FROM inventory_stocklevel sl JOIN inventory_product p ON p.id = sl.product_id "
    "WHERE p.sku = %(sku)s AND sl.on_hand - sl.reserved - sl.safety_stock >= %(q)s ORDER BY sl.id LIMIT 1) "
    "AND on_hand - reserved - safety_stock >= %(q)s RETURNING id, product_id, location_id"
)
CUSTOMER_SQL = (
    "WITH ins AS (INSERT INTO oms_customer (created_at, updated_at, email, email_normalized, phone, "
    "phone_normalized, name, language) VALUES (now(), now(), %(email)s, %(email)s, '', '', 'Bench Buyer', "
    "'en') ON CONFLICT (email_normalized) WHERE NOT email_normalized = '' DO NOTHING RETURNING id) "
    "SELECT id FROM ins UNION ALL SELECT id FROM oms_customer WHERE email_normalized = %(email)s LIMIT 1"
)
ORDER_SQL = (
    "INSERT INTO orders_order (created_at, updated_at, external_id, number, status, status_before_hold, "
    "method, shipping_address, ship_latitude, ship_longitude, currency, subtotal, tax_total, shipping_total, "
    "total, allow_backorder, placed_by_type, placed_by_name, channel_id, customer_id) VALUES (now(), now(), "
    "'', %(number)s, 'received', '', 'ship', %(address)s, %(lat)s, %(lon)s, 'USD', 10, 0, 0, 10, false, "
    "'api_client', 'bench-web', %(channel)s, %(customer)s) RETURNING id"
)
LINE_SQL = (
    "INSERT INTO orders_orderline (order_id, line_number, sku, name, quantity, unit_price, tax, line_total, "
    "quantity_backordered, quantity_cancelled, quantity_fulfilled, product_id) VALUES (%(order)s, 1, "
    "%(sku)s, %(name)s, 1, 10, 0, 10, 0, 0, 0, %(product)s) RETURNING id"
)
RESERVATION_SQL = (
    "INSERT INTO orders_reservation (quantity, status, created_at, updated_at, line_id, location_id, "
    "order_id, product_id, stock_level_id) VALUES (1, 'active', now(), now(), %(line)s, %(location)s, "
    "%(order)s, %(product)s, %(stock)s)"
)
MOVEMENT_SQL = (
    "INSERT INTO inventory_stockmovement (stock_level_id, product_id, location_id, kind, on_hand_delta, "
    "reserved_delta, reason, reference, actor_type, actor_name, created_at) VALUES (%(stock)s, "
    "%(product)s, %(location)s, 'reservation', 0, 1, 'order placed', %(reference)s, 'api_client', "
    "'bench-web', now())"
)
EVENTS_SQL = (
    "INSERT INTO orders_orderevent (order_id, kind, message, data, actor_type, actor_name, created_at) "
    "VALUES (%(order)s, 'placed', 'Order placed on web (ship).', %(placed)s, 'api_client', 'bench-web', "
    "now()), (%(order)s, 'sourced', '1 location holds every unit.', %(sourced)s, 'api_client', "
    "'bench-web', now())"
)
IDEMPOTENCY_SQL = (
    "INSERT INTO orders_idempotencyrecord (scope, key, request_hash, status_code, response, created_at, "
    "expires_at, order_id) VALUES (%(scope)s, %(key)s, %(hash)s, 201, %(response)s, now(), "
    "now() + interval '24 hours', %(order)s)"
)


def raw_place(conn, *, sku: str, rng: random.Random, channel_id: int) -> str:  # type: ignore[no-untyped-def]
    """One order as raw SQL in one transaction: 8 statements and a COMMIT."""
    body = order_body([sku], rng)
    address = body["shipping_address"]
    with conn.cursor() as cur:
        cur.execute(RESERVE_SQL, {"q": 1, "sku": sku})
        row = cur.fetchone()
        if row is None:
            conn.rollback()
            return "insufficient"
        stock, product, location = row
        email = body["customer"]["email"]
        cur.execute(CUSTOMER_SQL, {"email": email})
        row = cur.fetchone()
        if row is None:  # a concurrent first order of this customer committed it meanwhile
            cur.execute("SELECT id FROM oms_customer WHERE email_normalized = %s", [email])
            row = cur.fetchone()
        (customer,) = row
        number = RAW_PREFIX + uuid.uuid4().hex[:24]
        cur.execute(
            ORDER_SQL,
            {
                "number": number,
                "address": json.dumps(address),
                "lat": address["latitude"],
                "lon": address["longitude"],
                "channel": channel_id,
                "customer": customer,
            },
        )
        (order,) = cur.fetchone()
        cur.execute(LINE_SQL, {"order": order, "sku": sku, "name": f"Bench {sku}", "product": product})
        (line,) = cur.fetchone()
        ids = {"order": order, "line": line, "product": product, "location": location, "stock": stock}
        cur.execute(RESERVATION_SQL, ids)
        cur.execute(MOVEMENT_SQL, {**ids, "reference": f"order:{number}"})
        cur.execute(
            EVENTS_SQL,
            {
                **ids,
                "placed": json.dumps({"channel": "web", "total": "10.00", "currency": "USD"}),
                "sourced": json.dumps({"reservations": [{"sku": sku, "location": location, "quantity": 1}]}),
            },
        )
        response = {"id": order, "number": number, "status": "received", "lines": [{"id": line, "sku": sku}]}
        cur.execute(
            IDEMPOTENCY_SQL,
            {
                "scope": "client:raw",
                "key": uuid.uuid4().hex,
                "hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "response": json.dumps(response),
                **ids,
            },
        )
    conn.commit()
    return "ok"


def raw_intake(
    *, db_url: str, skus: list[str], channel_id: int, concurrency: int, duration: float, warmup: float
):  # type: ignore[no-untyped-def]
    def operation(conn, rng: random.Random) -> str:  # type: ignore[no-untyped-def]
        return raw_place(conn, sku=rng.choice(skus), rng=rng, channel_id=channel_id)

    return closed_loop(
        operation=operation,
        make_state=lambda i: psycopg_connect(db_url),
        close_state=lambda conn: conn.close(),
        workers=concurrency,
        duration=duration,
        warmup=warmup,
        seed=11,
    )


# --- Figure: over HTTP ------------------------------------------------------------------------------------


def http_intake(*, port: int, key: str, skus: list[str], concurrency: int, duration: float, warmup: float):  # type: ignore[no-untyped-def]
    def operation(client: HttpClient, rng: random.Random) -> str:
        status, body = client.request(
            "POST", ORDERS_PATH, order_body([rng.choice(skus)], rng), _idempotency()
        )
        if status == 201:
            return "ok"
        return f"http_{status}:{body.get('code') if isinstance(body, dict) else ''}"

    return closed_loop(
        operation=operation,
        make_state=lambda i: HttpClient(port, key),
        close_state=lambda client: client.close(),
        workers=concurrency,
        duration=duration,
        warmup=warmup,
        seed=12,
    )


# --- Flash sale ---------------------------------------------------------------------------------------------


def flash_sale(*, port: int, key: str, sku: str, stock: int, buyers: int = 200) -> dict[str, Any]:
    """``buyers`` threads each buy 1 unit of ``sku`` until refused (409); then the books are checked."""
    from django.db.models import Sum

    from inventory.models import StockLevel
    from orders.models import Reservation

    lock = threading.Lock()
    sold_latencies: list[float] = []
    sold_at: list[float] = []
    outcomes: Counter = Counter()
    start_gate = threading.Barrier(buyers + 1)
    errors: list[BaseException] = []

    def buyer(index: int) -> None:
        rng = random.Random(5000 + index)
        client = HttpClient(port, key)
        mine: list[tuple[float, float]] = []
        seen: Counter = Counter()
        try:
            start_gate.wait()
            while True:
                began = time.perf_counter()
                status, body = client.request("POST", ORDERS_PATH, order_body([sku], rng), _idempotency())
                finished = time.perf_counter()
                if status == 201:
                    mine.append((finished - began, finished))
                    seen["201"] += 1
                    continue
                code = body.get("code") if isinstance(body, dict) else ""
                seen[f"{status}:{code}"] += 1
                if status == 409 and code == "insufficient_stock":
                    break
                if seen.total() - seen["201"] > 20:  # something else is wrong: stop this buyer
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()
            with lock:
                sold_latencies.extend(lat for lat, _ in mine)
                sold_at.extend(at for _, at in mine)
                outcomes.update(seen)

    threads = [threading.Thread(target=buyer, args=(i,), daemon=True) for i in range(buyers)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    if errors:
        raise errors[0]

    level = StockLevel.objects.get(product__sku=sku)
    reserved_rows = (
        Reservation.objects.filter(product__sku=sku, status="active").aggregate(units=Sum("quantity"))[
            "units"
        ]
        or 0
    )
    sold = outcomes["201"]
    sell_out_s = (max(sold_at) - started) if sold_at else ended - started
    checks = {
        "units_201": sold,
        "reserved_on_row": level.reserved,
        "reserved_in_reservations": reserved_rows,
        "on_hand": level.on_hand,
        "oversold": max(0, level.reserved - stock) + max(0, sold - stock),
        "undersold": max(0, stock - level.reserved),
        "unheld_201s": max(0, sold - reserved_rows),
        "unanswered_reservations": max(0, reserved_rows - sold),
    }
    correct = (
        checks["oversold"] == 0
        and checks["undersold"] == 0
        and sold == stock == level.reserved == reserved_rows
        and level.on_hand == stock
    )
    return {
        "buyers": buyers,
        "stock": stock,
        "sold": sold,
        "sell_out_s": round(sell_out_s, 3),
        "throughput_per_s": round(sold / sell_out_s, 1) if sell_out_s else 0.0,
        "outcomes": dict(outcomes),
        "checks": checks,
        "correct": correct,
        **summary_ms(sold_latencies),
    }
