"""Thin Celery tasks of orders (queue ``routing``)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="orders.tasks.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    """Beat, hourly: forget idempotency keys past their 24 hours."""
    return services.idempotency_records_purge()
