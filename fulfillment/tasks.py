"""Thin Celery tasks on the ``routing`` queue: load ids, call one service. Every service is
idempotent, so a redelivered task (acks late, a killed worker) does no harm.

Orders to route go through the routing inbox (``oms.inbox``) where a worker drains a Redis broker:
``route_soon`` pushes their ids, and ``route_waiting`` routes the waiting ones a batch at a time
(``services.route_orders``). With eager tasks (tests, the demo) or another broker, each order is
its own ``route_order`` task, as the sweeper's re-enqueued orders always are."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from django.conf import settings
from django.db import OperationalError

from oms.inbox import Inbox

from . import services

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(name="fulfillment.tasks.route_order", **RETRY)
def route_order(order_id: int) -> dict:
    result = services.route_order(order_id=order_id)
    return {
        "order_id": order_id,
        "status": result.status,
        "created": result.created,
        "skipped": result.skipped,
    }


def _inbox_in_use() -> bool:
    """The routing inbox needs a worker draining a Redis broker: not with eager tasks, another
    broker, or ``OMS_ROUTING_INBOX=false``."""
    conf = current_app.conf
    return bool(
        settings.OMS_ROUTING_INBOX
        and not conf.task_always_eager
        and str(conf.broker_url or "").startswith(("redis://", "rediss://", "unix://"))
    )


ROUTING_INBOX = Inbox(
    "routing",
    url=lambda: current_app.conf.broker_url,
    schedule=lambda: route_waiting.delay(),
    drains=lambda: settings.OMS_ROUTING_DRAINS,
    batch=lambda: settings.OMS_ROUTING_BATCH,
    ttl_seconds=10.0,
)


def route_soon(order_ids: list[int]) -> None:
    """Have these orders routed: through the routing inbox where it is in use, else one
    ``route_order`` task each."""
    if _inbox_in_use():
        ROUTING_INBOX.add(order_ids)
        return
    for order_id in order_ids:
        route_order.delay(order_id)


# Acked on receipt: a drain lost with its worker frees its slot within the inbox's ttl, and the
# next order schedules another; redelivered later, it would give back a slot it no longer holds.
@shared_task(name="fulfillment.tasks.route_waiting", acks_late=False)
def route_waiting() -> int:
    """Drain the routing inbox: route the waiting orders a batch at a time until none wait. A
    batch that fails (a deadlock, a lost connection, a bug) is handed to one ``route_order``
    task per order, with their retries, and the drain goes on."""
    routed = 0
    for order_ids in ROUTING_INBOX.drain(max_seconds=settings.OMS_ROUTING_DRAIN_SECONDS):
        try:
            services.route_orders(order_ids=order_ids)
        except Exception:
            logger.exception("routing %d orders together failed; each goes to its own task", len(order_ids))
            for order_id in order_ids:
                route_order.delay(order_id)
        routed += len(order_ids)
    return routed


@shared_task(name="fulfillment.tasks.allocate_backorders", **RETRY)
def allocate_backorders(product_ids: list[int]) -> list[int]:
    return services.backorders_allocate(product_ids=product_ids)


@shared_task(name="fulfillment.tasks.expire_pickup", **RETRY)
def expire_pickup(fulfillment_order_id: int) -> bool:
    return services.fulfillment_order_expire(fulfillment_order_id=fulfillment_order_id)


@shared_task(name="fulfillment.tasks.expire_pickups", **RETRY)
def expire_pickups() -> int:
    """Beat: expire every pickup past its hold period (each in its own transaction)."""
    expired = 0
    for fo_id in services.pickups_due_to_expire():
        expired += bool(services.fulfillment_order_expire(fulfillment_order_id=fo_id))
    return expired


@shared_task(name="fulfillment.tasks.sweep", **RETRY)
def sweep() -> dict:
    """Beat, every minute: re-enqueue what a dead worker or a restarted broker dropped."""
    found = services.routing_sweep()
    for order_id in found["stuck"]:
        route_order.delay(order_id)
    if found["backordered"]:  # oldest first, in one task
        allocate_backorders.delay(found["backordered_products"])
    for fo_id in found["expired_pickups"]:
        expire_pickup.delay(fo_id)
    if any(found.values()):
        logger.info("sweeper re-enqueued %s", found)
    return found
