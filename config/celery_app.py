"""The Celery application: named queues, JSON only, late acks so a killed worker's task is redelivered."""

import os
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_process_shutdown
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def _share_redis_clients() -> None:
    """One redis client per kombu channel instead of a new one for every publish and for the
    bookkeeping before and after every task (kombu's Redis transport builds a ``redis.Redis``
    object each time, which copies redis-py's table of response callbacks: a tenth of the e-mail
    worker's CPU under py-spy, docs/performance.md). A redis-py client may be shared by threads:
    each command, or pipeline, takes its own connection from the channel's pool; the client is
    made again when the channel replaced its pool (after a lost connection)."""
    from kombu.transport import redis as kombu_redis

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        shared = self.__dict__.get("_oms_shared_client")
        if shared is None or shared.connection_pool is not self.pool:
            shared = self.__dict__["_oms_shared_client"] = self._create_client()
        yield shared

    conn_or_acquire.oms_shared = True  # type: ignore[attr-defined]  # a marker the tests look for
    kombu_redis.Channel.conn_or_acquire = conn_or_acquire  # type: ignore[method-assign]  # the patch itself


_share_redis_clients()

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="celery",
    task_queues=[
        Queue("celery"),
        Queue("routing"),
        Queue("notifications"),
        Queue("webhooks"),
        Queue("sync"),
    ],
    task_routes={
        "fulfillment.tasks.*": {"queue": "routing"},
        "orders.tasks.payment_*": {"queue": "sync"},  # before orders.tasks.*: the first match wins
        "orders.tasks.refresh_product_affinity": {"queue": "sync"},  # a long read: not on routing
        "orders.tasks.*": {"queue": "routing"},
        "oms.tasks.notification_*": {"queue": "notifications"},
        "oms.tasks.webhook_*": {"queue": "webhooks"},
        "inventory.tasks.*": {"queue": "sync"},
    },
    broker_connection_retry_on_startup=True,
    # When Redis is down, a web request must not hang on sending a task: give up quickly; the
    # event waits in the outbox and the relay sends it once the broker is back.
    broker_connection_timeout=2.0,
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    # Redis visibility: a task not acked within this window is redelivered to another worker.
    broker_transport_options={
        "visibility_timeout": 300,
        # how hard a sender tries to (re)connect before giving up (the outbox relay retries later)
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    # Every task is fire-and-forget (nothing waits on a result): storing results cost each send a
    # result-channel subscription in the sender and each task a write in the worker. A task that
    # is waited on says ignore_result=False (only the bench's no-op reference).
    task_ignore_result=True,
    result_expires=3600,
    timezone="UTC",
)


def _periodic(task: str, *, every: float, expires: int) -> dict[str, Any]:
    """A beat entry: ``task`` every ``every`` seconds, expiring ``expires`` seconds after it is sent."""
    return {"task": task, "schedule": every, "options": {"expires": expires}}


# Periodic work (``celery -A config beat``). Each entry expires before its next run, so a backlog
# left while no worker listened does not pile up.
app.conf.beat_schedule = {
    # The outbox relay: events a dead process or a lost broker left undispatched.
    "outbox-relay": _periodic("oms.tasks.outbox_relay", every=30.0, expires=25),
    # The routing sweeper: orders stuck in received, backorders, pickups past their hold.
    "routing-sweep": _periodic("fulfillment.tasks.sweep", every=60.0, expires=55),
    "expire-pickups": _periodic("fulfillment.tasks.expire_pickups", every=300.0, expires=290),
    # Carts' holds past their expiry: the units go back on sale (orders.services.cart_holds).
    "release-expired-cart-holds": _periodic(
        "orders.tasks.release_expired_cart_holds", every=60.0, expires=55
    ),
    "purge-idempotency-records": _periodic(
        "orders.tasks.purge_idempotency_records", every=3600.0, expires=3500
    ),
    # The co-purchase counts the customer page's suggestions rank by (orders/suggestions.py).
    "refresh-product-affinity": _periodic(
        "orders.tasks.refresh_product_affinity", every=3600.0, expires=3500
    ),
    # Loyalty: points past their expiry; balances that drifted from their ledger.
    "loyalty-expire": _periodic("oms.tasks.loyalty_expire", every=3600.0, expires=3500),
    "loyalty-repair": _periodic("oms.tasks.loyalty_accounts_repair", every=86400.0, expires=86000),
}
app.autodiscover_tasks()


@worker_process_init.connect
def _mark_events_after_each_task(**_kwargs) -> None:
    """A prefork worker child that keeps its connections across tasks (CELERY_DB_REUSE_MAX) marks
    its dispatched outbox rows in batches with a thread, as a web process does; one whose
    connections Celery closes after every task marks them after each task instead (a thread would
    race with the closing of the pool). A worker with the threads pool (docker-compose.yml) sends
    no such signal and keeps the marking thread: Celery then closes only the task thread's own
    connection, never the pool."""
    from django.conf import settings

    from oms.events import outbox_marks_in_caller

    if not settings.CELERY_DB_REUSE_MAX:
        outbox_marks_in_caller()


def _close_old_connections(sender) -> None:
    """Django's per-request connection upkeep, around a task run by a worker: a connection that
    broke or outlived its age is closed (a pooled one goes back to its pool, which discards it if
    broken). Not for an eager task, which runs inside its caller's request or transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@task_prerun.connect
def _drop_unusable_connections(sender=None, **_kwargs) -> None:
    """Before a task, as Django does before a request. Celery's own fixup keeps connections
    across tasks when CELERY_DB_REUSE_MAX is set."""
    _close_old_connections(sender)


@task_postrun.connect
def _after_task(sender=None, **_kwargs) -> None:
    """After a task: without a marking thread, one UPDATE marks the outbox rows it dispatched; then
    the connection is given back (to the pool, or kept up to CONN_MAX_AGE), as Django does after a
    request."""
    from oms.events import outbox_marks_after_task

    outbox_marks_after_task()
    _close_old_connections(sender)


@worker_process_shutdown.connect
def _mark_dispatched_events(**_kwargs) -> None:
    """When a worker child leaves: the outbox rows it dispatched and has not marked yet."""
    from oms.events import outbox_marks_flush

    outbox_marks_flush()
