"""Signed webhooks: integrators register a URL and the topics they want; every matching event is
POSTed to it as JSON, signed with HMAC-SHA256, retried with exponential backoff, and logged.

- Fan-out: a wildcard after-commit subscriber (``oms.subscribers``) enqueues one
  ``oms.tasks.webhook_deliver`` per active endpoint whose ``events`` match the topic. The list of
  active endpoints is kept per process for ``OMS_WEBHOOK_ENDPOINT_CACHE_SECONDS`` so that a hot path
  (order placement) does not query it on every event; the delivery task re-checks the endpoint.
- Delivery (``webhook_deliver``): one HTTP POST, outside any database transaction, then one short
  transaction that logs the attempt (``WebhookDelivery``) and counts consecutive failures; after
  ``OMS_WEBHOOK_MAX_FAILURES`` of them the endpoint is disabled. The task retries a failed attempt
  after 2**attempt seconds, up to ``OMS_WEBHOOK_MAX_RETRIES`` times.
- Body ``{"id": <outbox event id>, "topic", "created_at", "data": <payload>}``; headers
  ``X-OMS-Event``, ``X-OMS-Delivery`` (one UUID for every attempt of a delivery),
  ``X-OMS-Timestamp`` (unix seconds of the attempt) and
  ``X-OMS-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``.
  See docs/webhooks.md for verifying a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .errors import InvalidInput, NotFound
from .lookups import pk_or_none
from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

WILDCARD = "*"
# The topics an endpoint may subscribe to (design.md, "Webhooks"); "*" means all of them.
WEBHOOK_EVENTS: tuple[str, ...] = (
    "order.created",
    "order.allocated",
    "order.backordered",
    "order.held",
    "order.hold_released",
    "order.cancelled",
    "order.partially_cancelled",
    "order.completed",
    "order.changed",
    "fulfillment.created",
    "fulfillment.accepted",
    "fulfillment.shipped",
    "fulfillment.ready_for_pickup",
    "fulfillment.picked_up",
    "fulfillment.rejected",
    "fulfillment.pickup_expired",
    "return.created",
    "return.received",
    "return.cancelled",
    "return.closed",
    "refund.created",
    "payment.captured",
    "payment.failed",
    "stock.changed",
)
WEBHOOK_EVENT_CHOICES: tuple[str, ...] = (*WEBHOOK_EVENTS, WILDCARD)

SIGNATURE_HEADER = "X-OMS-Signature"
TIMESTAMP_HEADER = "X-OMS-Timestamp"
EVENT_HEADER = "X-OMS-Event"
DELIVERY_HEADER = "X-OMS-Delivery"
USER_AGENT = "unified-oms-webhooks/1"
SECRET_MIN_LENGTH = 16
RESPONSE_EXCERPT_BYTES = 1000
DEFAULT_TOLERANCE_SECONDS = 300


# --- Signing --------------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_verify(
    *,
    secret: str,
    body: bytes,
    timestamp: str | int,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does (docs/webhooks.md): the signature matches the raw body and the
    timestamp, and the timestamp is recent (replays of an old delivery are refused)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=ts, body=body)
    return hmac.compare_digest(expected, signature or "")


def webhook_body(*, event_id: int, topic: str, created_at: str, data: dict[str, Any]) -> bytes:
    document = {"id": event_id, "topic": topic, "created_at": created_at, "data": data}
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


# --- Endpoints (manager only) ------------------------------------------------------------------------


def check_webhook_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise InvalidInput(
            "Give an http:// or https:// URL.", code="invalid_webhook_url", extra={"url": url}
        ) from exc
    return url


def check_webhook_events(events: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(events or []))  # de-duplicated, in the given order
    unknown = [name for name in chosen if name not in WEBHOOK_EVENT_CHOICES]
    if not chosen or unknown:
        raise InvalidInput(
            "Choose one or more known event types, or '*'.",
            code="invalid_webhook_events",
            extra={"unknown": unknown, "known": list(WEBHOOK_EVENT_CHOICES)},
        )
    return [WILDCARD] if WILDCARD in chosen else chosen


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, events: list[str], secret: str | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; answer it with its secret (generated when not given). The secret is
    stored to sign deliveries and never shown again."""
    url = check_webhook_url(url)
    events = check_webhook_events(events)
    if secret is None or secret == "":
        secret = f"whsec_{secrets.token_urlsafe(32)}"
    elif len(secret) < SECRET_MIN_LENGTH:
        raise InvalidInput(
            f"A webhook secret has at least {SECRET_MIN_LENGTH} characters.", code="weak_webhook_secret"
        )
    endpoint = WebhookEndpoint.objects.create(url=url, events=events, secret=secret)
    _endpoints_changed()
    return endpoint, secret


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Every webhook endpoint, active or not."""
    return WebhookEndpoint.objects.all()


def webhook_endpoint_get(*, endpoint_id: int | str) -> WebhookEndpoint:
    """The endpoint with this id; NotFound (webhook_not_found) otherwise, a malformed id too."""
    endpoint = WebhookEndpoint.objects.filter(pk=_as_id(endpoint_id)).first()
    if endpoint is None:
        raise NotFound("No such webhook.", code="webhook_not_found", extra={"id": endpoint_id})
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint_id: int | str) -> None:
    """Delete an endpoint and its delivery log; deliveries still queued for it are dropped."""
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    endpoint.delete()
    _endpoints_changed()


@transaction.atomic
def webhook_endpoint_enable(*, endpoint_id: int | str) -> WebhookEndpoint:
    """Turn a (disabled) endpoint back on, with its failure count reset."""
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    endpoint.active, endpoint.failure_count, endpoint.disabled_at = True, 0, None
    endpoint.save(update_fields=["active", "failure_count", "disabled_at", "updated_at"])
    _endpoints_changed()
    return endpoint


def webhook_delivery_list(*, endpoint_id: int | str) -> QuerySet[WebhookDelivery]:
    """The delivery log of an existing endpoint; NotFound (webhook_not_found) for an unknown one."""
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    return WebhookDelivery.objects.filter(endpoint=endpoint)


def _as_id(value: int | str) -> int:
    pk = pk_or_none(value)
    if pk is None:
        raise NotFound("No such webhook.", code="webhook_not_found", extra={"id": value})
    return pk


# --- Which endpoints want a topic (cached per process) ------------------------------------------------

_endpoint_cache: tuple[float, tuple[tuple[int, frozenset[str]], ...]] | None = None


def webhook_endpoints_cache_clear() -> None:
    global _endpoint_cache
    _endpoint_cache = None


def _endpoints_changed() -> None:
    webhook_endpoints_cache_clear()
    transaction.on_commit(webhook_endpoints_cache_clear)


def webhook_endpoints_for_topic(topic: str) -> list[int]:
    """Ids of the active endpoints subscribed to ``topic`` (or to every topic)."""
    global _endpoint_cache
    if topic not in WEBHOOK_EVENTS:  # internal topics (order.cancelling ...) never leave the OMS
        return []
    ttl = settings.OMS_WEBHOOK_ENDPOINT_CACHE_SECONDS
    cached = _endpoint_cache
    now = time.monotonic()
    if cached is None or ttl <= 0 or now - cached[0] > ttl:
        rows = WebhookEndpoint.objects.filter(active=True).order_by("pk").values_list("pk", "events")
        cached = (now, tuple((pk, frozenset(events or [])) for pk, events in rows))
        _endpoint_cache = cached
    return [pk for pk, events in cached[1] if topic in events or WILDCARD in events]


# --- Delivery -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _excerpt(raw: bytes) -> str:
    return raw[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")


def webhook_http_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpResult:
    """POST ``body`` with ``http.client`` (headers sent exactly as named; TLS certificates verified;
    redirects are answers, never followed: the signed body goes only to the registered URL).
    Never raises for network trouble: it is the result."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:  # checked at creation, and here
        return HttpResult(status_code=None, body="", error="not an http(s) URL", duration_ms=0)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = dict(headers)
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    started = time.monotonic()
    status: int | None = None
    excerpt = error = ""
    connection: http.client.HTTPConnection | None = None
    try:
        port = parts.port  # ValueError for a port out of range
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        excerpt = _excerpt(response.read(RESPONSE_EXCERPT_BYTES))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = ("timed out" if isinstance(exc, TimeoutError) else repr(exc))[:500]
    finally:
        if connection is not None:
            connection.close()
    duration_ms = int((time.monotonic() - started) * 1000)
    return HttpResult(status_code=status, body=excerpt, error=error, duration_ms=duration_ms)


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery: WebhookDelivery | None
    retry_in: int | None  # seconds, when the task should try again
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = self.delivery
        return {
            "delivery": d.pk if d else None,
            "status_code": d.status_code if d else None,
            "delivered": bool(d and d.succeeded),
            "retry_in": self.retry_in,
            "skipped": self.skipped,
        }


def webhook_retry_delay(attempt: int) -> int:
    """Exponential backoff: 2, 4, 8 ... seconds after attempts 1, 2, 3 ..."""
    return 2**attempt


def webhook_deliver(
    *,
    endpoint_id: int,
    delivery_id: str,
    event_id: int,
    topic: str,
    created_at: str,
    data: dict[str, Any],
    attempt: int,
    retries_left: bool,
    now: datetime | None = None,
) -> DeliveryOutcome:
    """One attempt: POST the signed event (no transaction open), then log it and count the
    endpoint's consecutive failures in one short transaction. Answers when to retry, if at all."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return DeliveryOutcome(delivery=None, retry_in=None, skipped="endpoint deleted")
    if not endpoint.active:
        return DeliveryOutcome(delivery=None, retry_in=None, skipped="endpoint disabled")
    body = webhook_body(event_id=event_id, topic=topic, created_at=created_at, data=data)
    result = webhook_http_post(
        url=endpoint.url,
        body=body,
        headers=_signed_headers(endpoint, topic=topic, delivery_id=delivery_id, body=body),
        timeout=settings.OMS_WEBHOOK_TIMEOUT_SECONDS,
    )
    now = now or timezone.now()
    with transaction.atomic():
        disabled, retry_in = _count_attempt(
            endpoint, result=result, attempt=attempt, retries_left=retries_left, now=now
        )
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            delivery_id=delivery_id,
            event_id=event_id,
            topic=topic,
            payload=json.loads(body),
            attempt=attempt,
            status_code=result.status_code,
            response_body=result.body,
            error=result.error or ("" if result.ok else f"HTTP {result.status_code}"),
            duration_ms=result.duration_ms,
            delivered_at=now if result.ok else None,
            next_attempt_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        )
        if disabled:
            _endpoints_changed()
    if disabled:
        logger.warning(
            "webhook %s disabled after %s consecutive failures",
            endpoint.pk,
            settings.OMS_WEBHOOK_MAX_FAILURES,
        )
    return DeliveryOutcome(delivery=delivery, retry_in=retry_in)


def _signed_headers(
    endpoint: WebhookEndpoint, *, topic: str, delivery_id: str, body: bytes
) -> dict[str, str]:
    """The headers of one attempt, signed with the endpoint's secret at this second."""
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: topic,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body),
    }


def _count_attempt(
    endpoint: WebhookEndpoint, *, result: HttpResult, attempt: int, retries_left: bool, now: datetime
) -> tuple[bool, int | None]:
    """Reset or count the endpoint's consecutive failures, disabling it at the limit. Answers
    whether it was disabled and, for a failure that may be retried, in how many seconds."""
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if result.ok:
        endpoints.exclude(failure_count=0).update(failure_count=0)
        return False, None
    endpoints.update(failure_count=F("failure_count") + 1)
    disabled = bool(
        endpoints.filter(active=True, failure_count__gte=settings.OMS_WEBHOOK_MAX_FAILURES).update(
            active=False, disabled_at=now
        )
    )
    return disabled, webhook_retry_delay(attempt) if not disabled and retries_left else None
