"""Signed webhooks: integrators register a URL and the topics they want; every matching event is
POSTed to it, signed per the Standard Webhooks spec, retried with exponential backoff, and logged.

- Event types: the registry ``oms.event_types`` (a feature adds one there in one line).
- Fan-out: a wildcard after-commit subscriber (``oms.subscribers``) enqueues one
  ``oms.tasks.webhook_deliver`` per active endpoint whose ``events`` match the topic. The list of
  active endpoints is kept per process for ``OMS_WEBHOOK_ENDPOINT_CACHE_SECONDS`` so that a hot path
  (order placement) does not query it on every event; the delivery task re-checks the endpoint.
- Delivery (``webhook_deliver``): one HTTP POST, outside any database transaction, then one short
  transaction that logs the attempt (``WebhookDelivery``) and counts consecutive failures; after
  ``OMS_WEBHOOK_MAX_FAILURES`` of them the endpoint is disabled. The task retries a failed attempt
  after 2**attempt seconds, up to ``OMS_WEBHOOK_MAX_RETRIES`` times.
- Body and headers (``oms.webhook_messages``): a CloudEvents 1.0 envelope (``payload_format``
  ``cloudevents``, new endpoints) or the legacy ``{"id", "topic", "created_at", "data"}``
  (endpoints registered before); ``webhook-id`` (``evt_<outbox event id>``: the same on every
  retry), ``webhook-timestamp``, ``webhook-signature: v1,<base64>`` (two during a secret rotation's
  grace period), and the deprecated ``X-OMS-*`` headers. See docs/webhooks.md.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .choices import WebhookPayloadFormat
from .errors import InvalidInput, NotFound
from .event_types import event_type_get, event_type_names
from .lookups import pk_or_none
from .models import WebhookDelivery, WebhookEndpoint
from .webhook_messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_AGENT,
    delivery_body,
    signed_headers,
    webhook_body,
    webhook_secret_generate,
    webhook_signature,
    webhook_signature_verify,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_AGENT",
    "webhook_body",
    "webhook_signature",
    "webhook_signature_verify",
]

logger = logging.getLogger(__name__)

WILDCARD = "*"
SECRET_MIN_LENGTH = 16
RESPONSE_EXCERPT_BYTES = 1000


def webhook_event_names() -> tuple[str, ...]:
    """The topics an endpoint may subscribe to (the registry's), without the wildcard."""
    return event_type_names()


def webhook_event_choices() -> tuple[str, ...]:
    """The topics an endpoint may subscribe to, and "*" for all of them."""
    return (*event_type_names(), WILDCARD)


def __getattr__(name: str) -> tuple[str, ...]:
    # WEBHOOK_EVENTS / WEBHOOK_EVENT_CHOICES: read from the registry when asked (events registered
    # by apps after this module was imported are included).
    if name == "WEBHOOK_EVENTS":
        return webhook_event_names()
    if name == "WEBHOOK_EVENT_CHOICES":
        return webhook_event_choices()
    raise AttributeError(name)


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
    known = webhook_event_choices()
    unknown = [name for name in chosen if name not in known]
    if not chosen or unknown:
        raise InvalidInput(
            "Choose one or more known event types, or '*'.",
            code="invalid_webhook_events",
            extra={"unknown": unknown, "known": list(known)},
        )
    return [WILDCARD] if WILDCARD in chosen else chosen


def check_webhook_secret(secret: str | None) -> str:
    """The secret given (at least SECRET_MIN_LENGTH characters), or a new ``whsec_`` one."""
    if secret is None or secret == "":
        return webhook_secret_generate()
    if len(secret) < SECRET_MIN_LENGTH:
        raise InvalidInput(
            f"A webhook secret has at least {SECRET_MIN_LENGTH} characters.", code="weak_webhook_secret"
        )
    return secret


@transaction.atomic
def webhook_endpoint_create(
    *,
    url: str,
    events: list[str],
    secret: str | None = None,
    payload_format: str = WebhookPayloadFormat.CLOUDEVENTS,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; answer it with its secret (generated, in the ``whsec_`` form, when not
    given). The secret is stored to sign deliveries and never shown again."""
    url = check_webhook_url(url)
    events = check_webhook_events(events)
    secret = check_webhook_secret(secret)
    endpoint = WebhookEndpoint.objects.create(
        url=url, events=events, secret=secret, payload_format=_check_format(payload_format)
    )
    _endpoints_changed()
    return endpoint, secret


def _check_format(payload_format: str) -> str:
    if payload_format not in WebhookPayloadFormat.values:
        raise InvalidInput(
            "Choose a payload format.",
            code="invalid_payload_format",
            extra={"known": list(WebhookPayloadFormat.values)},
        )
    return payload_format


@transaction.atomic(durable=True)
def webhook_secret_rotate(
    *, endpoint_id: int | str, secret: str | None = None, now: datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new secret (generated when not given) and answer it, shown this once.
    The replaced secret keeps signing deliveries, as a second ``webhook-signature``, for
    ``OMS_WEBHOOK_SECRET_GRACE_HOURS`` (0: it stops at once), so the receiver can switch over
    without refusing a delivery. Rotating again within that time drops the oldest secret."""
    endpoint = _endpoint_locked(endpoint_id)
    new_secret = check_webhook_secret(secret)
    if new_secret == endpoint.secret:
        raise InvalidInput("Choose a secret other than the current one.", code="webhook_secret_unchanged")
    now = now or timezone.now()
    grace = timedelta(hours=settings.OMS_WEBHOOK_SECRET_GRACE_HOURS)
    endpoint.previous_secret = endpoint.secret if grace > timedelta(0) else ""
    endpoint.previous_secret_expires_at = now + grace if grace > timedelta(0) else None
    endpoint.secret, endpoint.secret_rotated_at = new_secret, now
    endpoint.save(
        update_fields=[
            "secret",
            "previous_secret",
            "previous_secret_expires_at",
            "secret_rotated_at",
            "updated_at",
        ]
    )
    logger.info(
        "webhook %s: secret rotated, the previous one signs until %s",
        endpoint.pk,
        endpoint.previous_secret_expires_at,
    )
    return endpoint, new_secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint_id: int | str, payload_format: str) -> WebhookEndpoint:
    """Change what an endpoint receives (a legacy endpoint moves to CloudEvents)."""
    endpoint = _endpoint_locked(endpoint_id)
    endpoint.payload_format = _check_format(payload_format)
    endpoint.save(update_fields=["payload_format", "updated_at"])
    return endpoint


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


def _endpoint_locked(endpoint_id: int | str) -> WebhookEndpoint:
    """The endpoint, its row locked for this transaction; NotFound (webhook_not_found) otherwise."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=_as_id(endpoint_id)).first()
    if endpoint is None:
        raise NotFound("No such webhook.", code="webhook_not_found", extra={"id": endpoint_id})
    return endpoint


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
    if event_type_get(topic) is None:  # internal topics (order.cancelling ...) never leave the OMS
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
    body, content_type = delivery_body(
        endpoint.payload_format, event_id=event_id, topic=topic, created_at=created_at, data=data
    )
    headers = signed_headers(
        secrets_in_use=endpoint.signing_secrets(timezone.now()),
        event_id=event_id,
        topic=topic,
        delivery_id=delivery_id,
        body=body,
        content_type=content_type,
    )
    result = webhook_http_post(
        url=endpoint.url, body=body, headers=headers, timeout=settings.OMS_WEBHOOK_TIMEOUT_SECONDS
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
