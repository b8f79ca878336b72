"""Thin Celery tasks on the ``routing`` queue: load ids, call one service. Every service is
idempotent, so a redelivered task (acks late, a killed worker) does no harm."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

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
