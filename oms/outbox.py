"""The outbox relay: re-dispatch what was recorded but never announced, and forget old events.

``oms.events.publish`` writes an ``OutboxEvent`` in the transaction of the change and dispatches
it after commit. A process killed between the commit and the dispatch, or a subscriber that failed
(the broker was restarting), leaves the row undispatched; ``outbox_relay`` (Celery beat, every
30 seconds) finds such rows older than ``OMS_OUTBOX_RELAY_AFTER_SECONDS`` and dispatches them again,
oldest first. Subscribers only enqueue idempotent tasks, so a repeated dispatch does no harm.

Claiming: the relay locks a batch with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite
has one writer anyway) and stamps ``retry_after`` on it in one short transaction, then dispatches
outside any transaction (subscribers talk to the broker; eager tasks open durable transactions of
their own). A second relay running meanwhile skips the locked and the stamped rows. A row whose
dispatch fails again waits longer each time (doubling, at most an hour) and is never dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from . import events
from .models import OutboxEvent

logger = logging.getLogger(__name__)

RELAY_BATCH_SIZE = 200
RELAY_TIME_BUDGET_SECONDS = 20.0  # stay well inside the 30-second beat interval
RELAY_LEASE = timedelta(minutes=2)  # a relay that dies mid-batch leaves its rows to the next after this
MAX_BACKOFF = timedelta(hours=1)
PURGE_CHUNK = 5000


@dataclass(frozen=True)
class RelayResult:
    relayed: int
    failed: int
    purged: int

    def as_dict(self) -> dict[str, int]:
        return {"relayed": self.relayed, "failed": self.failed, "purged": self.purged}


def outbox_pending(*, now: datetime | None = None) -> QuerySet[OutboxEvent]:
    """Rows the relay should dispatch now: undispatched, old enough, not held or backing off."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OMS_OUTBOX_RELAY_AFTER_SECONDS)
    return OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff).filter(
        Q(retry_after__isnull=True) | Q(retry_after__lte=now)
    )


def _claim(*, now: datetime, limit: int) -> list[OutboxEvent]:
    with transaction.atomic():
        rows = list(
            outbox_pending(now=now).select_for_update(skip_locked=True).order_by("created_at", "pk")[:limit]
        )
        if rows:
            OutboxEvent.objects.filter(pk__in=[row.pk for row in rows]).update(
                retry_after=now + RELAY_LEASE, attempts=F("attempts") + 1
            )
    return rows


def _backoff(attempts: int) -> timedelta:
    base = timedelta(seconds=max(settings.OMS_OUTBOX_RELAY_AFTER_SECONDS, 1))
    return min(base * 2 ** max(attempts, 0), MAX_BACKOFF)


def outbox_relay_batch(*, now: datetime | None = None, limit: int = RELAY_BATCH_SIZE) -> tuple[int, int]:
    """Claim and dispatch one batch, oldest first; answer (relayed, failed)."""
    rows = _claim(now=now or timezone.now(), limit=limit)
    relayed: list[int] = []
    failed = 0
    for row in rows:
        event = events.Event(id=row.pk, topic=row.topic, created_at=row.created_at)
        errors = events.dispatch(event, row.payload)
        if errors:
            failed += 1
            OutboxEvent.objects.filter(pk=row.pk).update(
                last_error="\n".join(errors)[:4000],
                retry_after=timezone.now() + _backoff(row.attempts + 1),
            )
        else:
            relayed.append(row.pk)
    if relayed:
        OutboxEvent.objects.filter(pk__in=relayed).update(dispatched_at=timezone.now(), retry_after=None)
    return len(relayed), failed


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete dispatched events older than OMS_OUTBOX_RETENTION_DAYS, in bounded chunks."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OMS_OUTBOX_RETENTION_DAYS)
    purged = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(created_at__lt=cutoff, dispatched_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:PURGE_CHUNK]
        )
        if not ids:
            break
        purged += OutboxEvent.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < PURGE_CHUNK:
            break
    return purged


def outbox_relay(
    *, now: datetime | None = None, time_budget: float = RELAY_TIME_BUDGET_SECONDS
) -> RelayResult:
    """Re-dispatch every undispatched event older than OMS_OUTBOX_RELAY_AFTER_SECONDS (batch after
    batch, within a time budget), then purge old dispatched events."""
    started = time.monotonic()
    relayed = failed = 0
    while True:
        ok, ko = outbox_relay_batch(now=now)
        relayed, failed = relayed + ok, failed + ko
        if ok + ko < RELAY_BATCH_SIZE or time.monotonic() - started > time_budget:
            break
    purged = outbox_purge(now=now)
    if relayed or failed:
        logger.warning("outbox relay re-dispatched %s event(s), %s failed again", relayed, failed)
    return RelayResult(relayed=relayed, failed=failed, purged=purged)
