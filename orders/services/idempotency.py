"""Idempotent intake: a client's key and request hash (``IdempotencyClaim``), the record written
with the order, the stored answer to a repeat, and the purge of keys past their 24 hours."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.utils import timezone

from orders.errors import IdempotencyKeyReused, RequestInProgress
from orders.models import IdempotencyRecord, Order

from .inputs import PlacementResult


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str  # "client:<id>" or "user:<id>"
    key: str
    request_hash: str


def idempotency_request_hash(body: Any) -> str:
    """The same JSON body, whatever its key order or spacing, gives the same hash."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_record_build(
    *, claim: IdempotencyClaim, order: Order, response: dict[str, Any], status_code: int = 201
) -> IdempotencyRecord:
    """The unsaved record of a write's answer under ``claim`` (a placement's 201, an order
    change's), kept 24 hours."""
    return IdempotencyRecord(
        scope=claim.scope,
        key=claim.key,
        request_hash=claim.request_hash,
        status_code=status_code,
        response=response,
        order=order,
        expires_at=timezone.now() + timedelta(hours=settings.OMS_IDEMPOTENCY_TTL_HOURS),
    )


class Forgotten(enum.Enum):
    """``idempotency_replay`` found a record past its 24 hours, and deleted it."""

    EXPIRED = "expired"


EXPIRED: Literal[Forgotten.EXPIRED] = Forgotten.EXPIRED


def idempotency_replay(claim: IdempotencyClaim) -> PlacementResult | Literal[Forgotten.EXPIRED] | None:
    """The stored answer to this key (None: no record; ``EXPIRED``: an old record, now deleted);
    IdempotencyKeyReused (422) when the key came with another body."""
    record = (
        IdempotencyRecord.objects.filter(scope=claim.scope, key=claim.key).select_related("order").first()
    )
    if record is None:
        return None
    if record.expires_at <= timezone.now():  # past its 24 hours: the key is free again
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return EXPIRED
    if record.request_hash != claim.request_hash:
        raise IdempotencyKeyReused(extra={"idempotency_key": claim.key})
    return PlacementResult(
        order=record.order,  # type: ignore[arg-type]  # an order's record has its order (CASCADE)
        lines=[],
        reservations=[],
        location_codes={},
        status_code=record.status_code,
        response=record.response,
        replayed=True,
    )


def idempotency_claim_taken(claim: IdempotencyClaim) -> bool:
    """Whether a committed record holds this key (a concurrent request got it first)."""
    return IdempotencyRecord.objects.filter(scope=claim.scope, key=claim.key).exists()


Answer = TypeVar("Answer")


def idempotency_duplicate_answer(
    exc: Exception,
    claim: IdempotencyClaim,
    replay: Callable[[IdempotencyClaim], Answer | Literal[Forgotten.EXPIRED] | None],
) -> Answer | Literal[Forgotten.EXPIRED] | None:
    """After the unique (scope, key) index refused this request's record (``exc``): the stored
    answer of the request that committed first, ``EXPIRED`` (its key was forgotten: run once
    more), RequestInProgress (409) while that request has not answered yet, or None when no
    record holds the key (the IntegrityError was about something else)."""
    answer = replay(claim)
    if answer is not None:
        return answer
    if idempotency_claim_taken(claim):
        raise RequestInProgress(extra={"idempotency_key": claim.key}) from exc
    return None


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Forget idempotency keys older than their 24 hours; answers how many were forgotten."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
