"""SIGKILL the routing worker in the middle of a stream of orders, start a new one, let the sweeper
re-enqueue what was lost: no order is left unrouted and no unit is allocated twice.

Short by default (CI); ``OMS_FAULT_KILLS=100`` runs the long version."""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict

import pytest
from django.db.models import Sum

from fulfillment.models import FulfillmentOrderLine
from fulfillment.tasks import sweep
from inventory.models import StockLevel, StockMovement
from orders.choices import ReservationStatus
from orders.models import Order, OrderLine, Reservation
from tests.conftest import stock_put
from tests.factories import ProductFactory
from tests.worker import ROOT, WorkerProcess, wait_idle

from .conftest import place, store, warehouse

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker, pytest.mark.slow]

SKUS = ["SHIRT", "JEANS", "CAP", "SOCKS", "BELT"]


def unrouted_orders() -> set[int]:
    stuck = set(Order.objects.filter(status="received").values_list("pk", flat=True))
    stuck |= set(
        Reservation.objects.filter(
            status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
        ).values_list("order_id", flat=True)
    )
    return stuck


def assert_every_unit_accounted_for_once() -> dict[str, int]:
    # every order line: quantity == cancelled + fulfilled + backordered + held units
    held = defaultdict(int)
    for line_id, quantity in Reservation.objects.filter(status=ReservationStatus.ACTIVE).values_list(
        "line_id", "quantity"
    ):
        held[line_id] += quantity
    lines = 0
    for line in OrderLine.objects.all():
        lines += 1
        accounted = (
            line.quantity_cancelled + line.quantity_fulfilled + line.quantity_backordered + held[line.pk]
        )
        assert accounted == line.quantity, f"line {line.pk}: {accounted} accounted of {line.quantity}"
    # every held unit is in exactly one fulfilment order line, with the same quantity
    for reservation in Reservation.objects.filter(status=ReservationStatus.ACTIVE):
        fo_line = FulfillmentOrderLine.objects.get(reservation=reservation)
        assert fo_line.quantity == reservation.quantity
    # stock rows: reserved equals what the reservations hold; the ledger equals the counters
    by_row = defaultdict(int)
    for row_id, quantity in Reservation.objects.filter(status=ReservationStatus.ACTIVE).values_list(
        "stock_level_id", "quantity"
    ):
        by_row[row_id] += quantity
    for row in StockLevel.objects.all():
        assert row.reserved == by_row[row.pk], f"stock row {row.pk} double-counted"
        sums = StockMovement.objects.filter(stock_level=row).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
        assert (sums["on_hand"] or 0, sums["reserved"] or 0) == (row.on_hand, row.reserved)
        assert 0 <= row.reserved <= row.on_hand
    return {"lines": lines}


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_routing_leaves_no_order_stuck_and_none_double_allocated(monkeypatch, request):
    monkeypatch.setenv("OMS_TEST_REDIS_DB", os.environ.get("OMS_FAULT_REDIS_DB", "13"))
    request.getfixturevalue("celery_broker")
    kills = int(os.environ.get("OMS_FAULT_KILLS", "3"))
    per_round = int(os.environ.get("OMS_FAULT_ORDERS_PER_KILL", "12"))
    rng = random.Random(7)

    locations = [
        warehouse("wh-1", "10.8000", "106.7000"),
        warehouse("wh-2", "10.9500", "106.8500"),
        store("st-1", "10.7770", "106.7010"),
        store("st-2", "10.7300", "106.6500"),
    ]
    for sku in SKUS:
        product = ProductFactory(sku=sku)
        for location in locations:
            stock_put(product, location, 10_000)

    worker = WorkerProcess(
        name=f"kill{os.getpid()}", concurrency=2, extra_env={"OMS_SWEEPER_STUCK_SECONDS": "1"}
    ).start()
    try:
        placed = 0
        for _ in range(kills):
            for _ in range(per_round):
                lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(SKUS, rng.randint(1, 3))]
                if rng.random() < 0.3:
                    place(
                        *lines, method="pickup", pickup=rng.choice(["st-1", "st-2"]), email=f"p{placed}@x.io"
                    )
                else:
                    place(*lines, at=("10.78", "106.70"), email=f"s{placed}@x.io")
                placed += 1
            time.sleep(rng.uniform(0.0, 0.25))
            worker.kill()  # SIGKILL: whatever it was routing is lost mid-transaction
            worker.start()

        # recovery: the sweeper (beat in production) re-enqueues what the dead workers held
        deadline = time.monotonic() + 90
        sweeps = 0
        while unrouted_orders():
            assert time.monotonic() < deadline, f"still unrouted after {sweeps} sweeps: {unrouted_orders()}"
            time.sleep(1.1)  # past the 1 s threshold
            sweep.delay()
            sweeps += 1
        wait_idle(worker)
    finally:
        worker.stop()

    assert Order.objects.count() == placed
    assert not unrouted_orders()
    checked = assert_every_unit_accounted_for_once()
    report = {"kills": kills, "orders": placed, "sweeps": sweeps, "stuck": 0, "doubled": 0, **checked}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "fault-sigkill-routing.json").write_text(json.dumps(report, indent=2))
