"""Fault (b): Redis restarts (losing every queued task: it keeps nothing on disk) in the middle of a
burst of orders. Orders keep being accepted; their routing events wait in the outbox; the relay and
the sweeper re-send them once Redis is back, and a real worker routes every order exactly once.

Short by default; ``OMS_FAULT_ORDERS`` for more."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from fulfillment.tasks import sweep
from oms.models import OutboxEvent
from oms.outbox import outbox_relay
from orders.models import Order
from tests.conftest import stock_put
from tests.factories import ProductFactory
from tests.fulfillment.conftest import place, warehouse
from tests.fulfillment.test_worker_kill import assert_every_unit_accounted_for_once, unrouted_orders
from tests.worker import ROOT, WorkerProcess, wait_idle

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker, pytest.mark.slow]
PORT = int(os.environ.get("OMS_FAULT_REDIS_PORT", "6390"))


class OwnRedis:
    """A Redis server of this test's own (nothing on disk, like production's broker), so that
    restarting it disturbs nobody else's broker."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    def up(self) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - the machine's redis-server
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self.up():
            assert time.monotonic() < deadline, "Redis did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # like a crash: every queued task is gone
            self.proc.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_mid_burst_loses_no_order(monkeypatch, request):
    if not shutil.which("redis-server"):
        pytest.skip("needs a local redis-server to restart")
    broker = OwnRedis(PORT)
    broker.start()
    monkeypatch.setenv("OMS_TEST_REDIS_URL", f"redis://127.0.0.1:{PORT}/0")
    request.getfixturevalue("celery_broker")
    total = int(os.environ.get("OMS_FAULT_ORDERS", "12"))
    # orders placed while Redis is down (each waits out the client's connection retries)
    outage = int(os.environ.get("OMS_FAULT_OUTAGE_ORDERS", "2"))
    depot = warehouse("wh-1", "10.8000", "106.7000")
    for sku in ("A", "B", "C"):
        stock_put(ProductFactory(sku=sku), depot, 10_000)
    worker = WorkerProcess(
        name=f"redis{os.getpid()}", concurrency=2, extra_env={"OMS_SWEEPER_STUCK_SECONDS": "1"}
    ).start()
    try:
        for i in range(total):
            if i == total // 3:
                broker.kill()  # every queued task is gone; new ones cannot be sent
            if i == total // 3 + outage:
                broker.start()
            place((("A", "B", "C")[i % 3], 1 + i % 2), email=f"r{i}@example.com")
            logger.info("placed order %s", i)
        assert Order.objects.count() == total  # accepted while Redis was down
        undispatched = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
        assert undispatched > 0  # the events that could not be sent waited in the outbox

        # generous: a worker's reconnection to the restarted broker backs off (Celery's retry
        # intervals grow), and one CI run in three needed more than 90 s on a loaded machine
        deadline = time.monotonic() + 180
        rounds = 0
        while unrouted_orders():
            assert time.monotonic() < deadline, f"unrouted after {rounds} rounds: {sorted(unrouted_orders())}"
            outbox_relay(now=timezone.now() + timedelta(hours=2))  # the beat relay, past any backoff
            sweep.delay()
            rounds += 1
            logger.info("recovery round %s", rounds)
            time.sleep(1.2)
        logger.info("all routed")
        wait_idle(worker)
        logger.info("worker idle")
    finally:
        worker.stop()
        broker.kill()

    assert not unrouted_orders()
    assert_every_unit_accounted_for_once()
    report = {
        "orders": total,
        "undispatched_during_outage": undispatched,
        "rounds": rounds,
        "stuck": 0,
        "doubled": 0,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "fault-redis-restart.json").write_text(json.dumps(report, indent=2))
