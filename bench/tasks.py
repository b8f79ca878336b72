"""A no-op Celery task, the reference of the routing-lag row. It lives only here: the bench's worker
imports it with ``-I bench.tasks``; production workers never see it."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="bench.noop", acks_late=True, ignore_result=False)  # its round trip is measured
def noop() -> bool:
    return True
