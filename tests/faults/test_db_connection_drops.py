"""Fault (c): PostgreSQL connections are killed while orders arrive over HTTP. Every request ends
as 201, 409 or 503 (never a 500); a client that retries with its Idempotency-Key gets exactly one
order; afterwards no unit is lost or held twice and the ledger equals the counters.

Short by default; ``OMS_FAULT_ORDERS=400`` for a long run."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from fulfillment.services import route_order, routing_sweep
from oms.services import api_client_create
from orders.models import IdempotencyRecord, Order
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory
from tests.fulfillment.test_worker_kill import assert_every_unit_accounted_for_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(url: str, key: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - our own live server
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, ConnectionError):
        return 0, {}


def test_killed_database_connections_lose_nothing_and_double_nothing(live_server):
    ChannelFactory(code="web", currency="USD")
    warehouse = LocationFactory(code="wh-1", latitude=Decimal("10.80"), longitude=Decimal("106.70"))
    skus = [ProductFactory(sku=f"SKU-{i}").sku for i in range(4)]
    for sku in skus:
        stock_put(ProductFactory(sku=sku), warehouse, 10_000)
    _, token = api_client_create(name="fault-web", channel_code="web")
    settings = connection.settings_dict
    dsn = (
        f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
        f"user={settings['USER']} dbname={settings['NAME']}"
    )
    total = int(os.environ.get("OMS_FAULT_ORDERS", "40"))
    rounds = int(os.environ.get("OMS_FAULT_KILL_ROUNDS", "60"))
    statuses: Counter = Counter()
    final: dict[str, int] = {}
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        with psycopg.connect(dsn, autocommit=True) as admin:
            for _round in range(rounds):  # a storm of a few seconds, then the database is back
                if stop.is_set():
                    return
                time.sleep(0.08)
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
                ).fetchall()
                kills += sum(1 for (killed,) in rows if killed)

    def client(index: int) -> None:
        key = f"fault-{index}"
        body = {
            "customer": {"email": f"c{index}@example.com"},
            "method": "ship",
            "shipping_address": {
                "line1": "1",
                "city": "HCMC",
                "country": "VN",
                "latitude": 10.78,
                "longitude": 106.7,
            },
            "lines": [{"sku": skus[index % len(skus)], "quantity": 1 + index % 3, "unit_price": "9.00"}],
        }
        for _attempt in range(400):
            status, data = _post(f"{live_server.url}/api/v1/orders", key, body, token)
            statuses[status] += 1
            if status == 201:
                final[key] = data["id"]
                return
            assert status in (0, 503), (status, data)  # never a 500, never a 4xx for a good body
            time.sleep(0.05)

    storm = threading.Thread(target=killer)
    storm.start()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(total)]
    try:
        for start in range(0, total, 8):
            batch = workers[start : start + 8]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
        assert kills > 0, "the storm killed no connection: the test proved nothing"
    finally:
        stop.set()
        storm.join()
    connection.close()  # this thread's connection may have been killed too

    assert len(final) == total, f"{total - len(final)} clients never got their order; statuses {statuses}"
    assert Order.objects.count() == total  # one order per key, however many retries
    assert IdempotencyRecord.objects.count() == total
    # what the sweeper does: route whatever a killed after-commit dispatch left behind
    for order_id in routing_sweep()["stuck"] + list(
        Order.objects.filter(status="received").values_list("pk", flat=True)
    ):
        route_order(order_id=order_id)
    assert not Order.objects.filter(status="received").exists()
    assert_every_unit_accounted_for_once()
    report = {
        "orders": total,
        "kills": kills,
        "responses": dict(statuses),
        "stuck": 0,
        "doubled": 0,
        "lost": 0,
    }
    os.makedirs("artifacts", exist_ok=True)
    with open("artifacts/fault-db-connections.json", "w") as handle:
        json.dump(report, handle, indent=2)
