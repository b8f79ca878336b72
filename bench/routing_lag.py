"""Routing lag: an order committed over HTTP -> its fulfilment order exists, with real Celery
workers (started by the bench on the bench database and Redis database) at about half the measured
intake capacity. The workers run as production runs them (docker-compose.yml): one consumes only
the ``routing`` queue, another every other queue, so a ``route_order`` never waits behind the
rendering of an e-mail or a webhook call.

* figure: per order, ``allocated_at - created_at``: from the order row's insert (inside the intake
  transaction) to routing marking it allocated, the last write of ``route_order``'s transaction,
  right after the fulfilment order rows (both stamps from the same machine's clock); the span to
  the first fulfilment order's ``created_at`` is reported beside it;
* reference: a no-op task round trip (``send_task`` on the ``routing`` queue -> worker -> result
  back through the Redis result backend), sequentially on the idle worker.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

from .harness import ARTIFACTS, QUEUES, CeleryWorker, HttpClient, nice_for_cpu_shares, summary_ms
from .intake import ORDERS_PATH, RAW_PREFIX, _idempotency, order_body

ROUTING_QUEUE = "routing"
OTHER_QUEUES = ",".join(q for q in QUEUES.split(",") if q != ROUTING_QUEUE)


class QueueWorker(CeleryWorker):
    """A bench Celery worker that consumes only ``queues``, under its own node name and log."""

    def __init__(
        self, db_url: str, *, name: str, queues: str, concurrency: int, pool: str = "prefork", nice: int = 0
    ):
        super().__init__(db_url, concurrency=concurrency)
        self.nice = nice
        self.name = f"celery-{name}"
        self.log_path = ARTIFACTS / f"bench-celery-{name}.log"
        self.node = f"bench-{name}-{os.getpid()}"
        self.argv[self.argv.index("-Q") + 1] = queues
        self.argv[self.argv.index("-n") + 1] = f"{self.node}@%h"
        self.argv[self.argv.index("--pool") + 1] = pool


def production_workers(
    db_url: str, *, routing_concurrency: int, other_concurrency: int, pool: str, other_cpu_shares: int = 1024
) -> tuple[QueueWorker, QueueWorker]:
    """The two workers of docker-compose.yml: ``worker-routing`` (routing only) and ``worker``
    (notifications, webhooks, sync and the default queue), both with their tasks in ``pool``; the
    second with the CPU weight its container has there (``cpu_shares``), as a nice value."""
    return (
        QueueWorker(db_url, name="routing", queues=ROUTING_QUEUE, concurrency=routing_concurrency, pool=pool),
        QueueWorker(
            db_url,
            name="other",
            queues=OTHER_QUEUES,
            concurrency=other_concurrency,
            pool=pool,
            nice=nice_for_cpu_shares(other_cpu_shares),
        ),
    )


def noop_round_trips(*, count: int, warmup: int = 20) -> list[float]:
    from config.celery_app import app

    out = []
    for i in range(warmup + count):
        started = time.perf_counter()
        assert app.send_task("bench.noop", queue=ROUTING_QUEUE).get(timeout=30) is True
        if i >= warmup:
            out.append(time.perf_counter() - started)
    return out


def paced_orders(
    *, port: int, key: str, skus: list[str], rate: float, duration: float, threads: int = 32
) -> dict[str, Any]:
    """Open loop: order i is sent at start + i / rate (late ones at once), by ``threads`` clients."""
    total = max(1, int(rate * duration))
    lock = threading.Lock()
    cursor = {"next": 0}
    ids: list[int] = []
    latencies: list[float] = []
    late: list[float] = []
    failures: list[str] = []
    start = time.perf_counter() + 0.2

    def run(index: int) -> None:
        rng = random.Random(7000 + index)
        client = HttpClient(port, key)
        try:
            while True:
                with lock:
                    i = cursor["next"]
                    cursor["next"] += 1
                if i >= total:
                    return
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                began = time.perf_counter()
                status, body = client.request(
                    "POST", ORDERS_PATH, order_body([rng.choice(skus)], rng), _idempotency()
                )
                finished = time.perf_counter()
                with lock:
                    late.append(max(0.0, began - due))
                    if status == 201:
                        ids.append(body["id"])
                        latencies.append(finished - began)
                    else:
                        failures.append(f"http_{status}")
        finally:
            client.close()

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    return {
        "ids": ids,
        "sent": total,
        "achieved_rate_per_s": round(total / elapsed, 1),
        "failures": len(failures),
        "send_late_p99_ms": round(summary_ms(late)["p99_ms"], 1),
        "intake": summary_ms(latencies),
    }


def drain_capacity(*, count: int, exclude: list[int], timeout: float = 180.0) -> dict[str, Any]:
    """How many orders a second the worker routes when it has a backlog: ``count`` orders left
    unrouted by the intake rows (their routing requests were dropped) are pushed at once into the
    routing inbox, as placements push them (``fulfillment.tasks.route_soon``; in chunks of one
    batch, so the inbox may start its second drain as it would for orders arriving), and the time
    until every one is allocated is measured (notifications run too, on their own worker, as in
    production). Only orders placed over HTTP: the raw SQL reference's orders (``RAW-``) hold a
    stock row picked without the sourcing engine, so routing would first move most of them to a
    better location, work an order placed by the OMS never causes."""
    from django.conf import settings

    from fulfillment.tasks import ROUTING_INBOX
    from orders.models import Order

    ids = list(
        Order.objects.filter(status="received", allocated_at__isnull=True)
        .exclude(pk__in=exclude)
        .exclude(number__startswith=RAW_PREFIX)
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )
    if not ids:
        return {"orders": 0}
    started = time.perf_counter()
    step = max(1, settings.OMS_ROUTING_BATCH)
    for i in range(0, len(ids), step):
        ROUTING_INBOX.add(ids[i : i + step])
    deadline = time.monotonic() + timeout
    waiting = len(ids)
    while time.monotonic() < deadline and waiting:
        time.sleep(0.1)
        waiting = Order.objects.filter(pk__in=ids, allocated_at__isnull=True).count()
    elapsed = time.perf_counter() - started
    return {
        "orders": len(ids),
        "not_routed_in_time": waiting,
        "seconds": round(elapsed, 2),
        "orders_per_s": round((len(ids) - waiting) / elapsed, 1),
    }


def email_lags(ids: list[int], *, timeout: float = 120.0) -> dict[str, Any]:
    """The confirmation e-mail of each order (topic ``order.created``, on the other worker): from
    the order row's insert to the e-mail's ``sent`` mark, once every one is sent (or ``timeout``).
    The routing-lag goal is about routing; this says what the other work of an order waited."""
    from oms.models import NotificationLog, NotificationStatus
    from orders.models import Order

    logs = NotificationLog.objects.filter(
        topic="order.created", order_id__in=ids, status=NotificationStatus.SENT
    )
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = logs.count()
        if sent >= len(ids):
            break
        time.sleep(0.25)
    created = dict(Order.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    rows = logs.values_list("order_id", "sent_at")
    lags = [(sent_at - created[order_id]).total_seconds() for order_id, sent_at in rows]
    return {"orders": len(ids), "not_sent_in_time": len(ids) - sent, "lag": summary_ms(lags)}


def routing_lags(ids: list[int], *, timeout: float = 120.0) -> dict[str, Any]:
    from django.db.models import Min

    from orders.models import Order

    deadline = time.monotonic() + timeout
    waiting = len(ids)
    while time.monotonic() < deadline:
        waiting = Order.objects.filter(pk__in=ids, allocated_at__isnull=True).count()
        if waiting == 0:
            break
        time.sleep(0.25)
    rows = list(
        Order.objects.filter(pk__in=ids, allocated_at__isnull=False)
        .annotate(first_fo=Min("fulfillment_orders__created_at"))
        .values_list("created_at", "allocated_at", "first_fo")
    )
    allocated = [(a - c).total_seconds() for c, a, _ in rows]
    fo_created = [(f - c).total_seconds() for c, _, f in rows if f is not None]
    return {
        "orders": len(ids),
        "not_routed_in_time": waiting,
        "lag": summary_ms(allocated),
        "lag_to_fulfilment_order_insert": summary_ms(fo_created),
    }
