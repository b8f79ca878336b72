"""What one webhook delivery sends: the body (a CloudEvents 1.0 envelope, or the legacy document)
and the headers (Standard Webhooks ``webhook-*`` signed with the endpoint's secret, and during a
rotation with its previous one too, plus the legacy ``X-OMS-*`` headers). docs/webhooks.md says
how a receiver verifies them.

Secrets: one in the Standard Webhooks form ``whsec_<base64>`` signs with the bytes its base64
decodes to (what the reference libraries do with it); any other secret (the plain ones integrators
chose before, at least 16 characters) signs with its UTF-8 bytes, so its Standard Webhooks form is
``"whsec_" + base64(secret)`` (``webhook_secret_standard_form``). The legacy ``X-OMS-Signature``
is computed as it always was: HMAC-SHA256 keyed with the secret's UTF-8 text."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from .event_types import event_type_get

# Standard Webhooks (https://www.standardwebhooks.com)
ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the form's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
# Legacy headers (deprecated: sent for one more release, docs/webhooks.md)
SIGNATURE_HEADER = "X-OMS-Signature"
TIMESTAMP_HEADER = "X-OMS-Timestamp"
EVENT_HEADER = "X-OMS-Event"
DELIVERY_HEADER = "X-OMS-Delivery"
USER_AGENT = "unified-oms-webhooks/1"
DEFAULT_TOLERANCE_SECONDS = 300

CLOUDEVENTS = "cloudevents"
LEGACY = "legacy"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
LEGACY_CONTENT_TYPE = "application/json"

_STANDARD_SECRET = re.compile(r"whsec_([A-Za-z0-9+/]+={0,2})")


# --- Secrets ---------------------------------------------------------------------------------------


def webhook_secret_generate() -> str:
    """A new secret in the Standard Webhooks form: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature: the decoded bytes of a ``whsec_<base64>``
    secret, the UTF-8 bytes of any other (a plain secret, or a ``whsec_`` one that is not base64)."""
    match = _STANDARD_SECRET.fullmatch(secret)
    if match:
        encoded = match[1]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            key = b""
        if key:
            return key
    return secret.encode()


def webhook_secret_standard_form(secret: str) -> str:
    """The ``whsec_<base64>`` secret to give a Standard Webhooks library for this secret."""
    key = webhook_secret_key(secret)
    return secret if key != secret.encode() else SECRET_PREFIX + base64.b64encode(key).decode()


# --- Signatures ------------------------------------------------------------------------------------


def webhook_message_id(event_id: int) -> str:
    """``webhook-id`` and the CloudEvents ``id``: the event's, the same on every retry and
    re-dispatch of it (and for every endpoint that receives it)."""
    return f"evt_{event_id}"


def standard_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_secret_key(secret), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Legacy: ``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``."""
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
    """What a legacy receiver does (docs/webhooks.md): the signature matches the raw body and the
    timestamp, and the timestamp is recent (replays of an old delivery are refused)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=ts, body=body)
    return hmac.compare_digest(expected, signature or "")


# --- Bodies ----------------------------------------------------------------------------------------


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_body(*, event_id: int, topic: str, created_at: str, data: dict[str, Any]) -> bytes:
    """The legacy body: ``{"id": <outbox event id>, "topic", "created_at", "data"}``."""
    return _dumps({"id": event_id, "topic": topic, "created_at": created_at, "data": data})


def event_source(topic: str) -> str:
    """CloudEvents ``source``: ``OMS_EVENT_SOURCE`` and the REST collection of the event's subject,
    e.g. ``/oms/orders``."""
    base = settings.OMS_EVENT_SOURCE.rstrip("/") or "/"
    entry = event_type_get(topic)
    if entry is None:
        return base
    return f"{base.rstrip('/')}/{entry.collection}"


def cloudevent(*, event_id: int, topic: str, created_at: str, data: dict[str, Any]) -> dict[str, Any]:
    """The CloudEvents 1.0 envelope of an event (structured mode, JSON)."""
    document: dict[str, Any] = {
        "specversion": "1.0",
        "id": webhook_message_id(event_id),
        "source": event_source(topic),
        "type": topic,
        "time": created_at,
        "datacontenttype": "application/json",
    }
    entry = event_type_get(topic)
    subject = entry.subject_of(data) if entry is not None else None
    if subject is not None:
        document["subject"] = subject
    document["data"] = data
    return document


def cloudevent_body(*, event_id: int, topic: str, created_at: str, data: dict[str, Any]) -> bytes:
    return _dumps(cloudevent(event_id=event_id, topic=topic, created_at=created_at, data=data))


def delivery_body(
    payload_format: str, *, event_id: int, topic: str, created_at: str, data: dict[str, Any]
) -> tuple[bytes, str]:
    """The body of a delivery in the endpoint's format, and its Content-Type."""
    if payload_format == LEGACY:
        return webhook_body(
            event_id=event_id, topic=topic, created_at=created_at, data=data
        ), LEGACY_CONTENT_TYPE
    body = cloudevent_body(event_id=event_id, topic=topic, created_at=created_at, data=data)
    return body, CLOUDEVENTS_CONTENT_TYPE


# --- Headers ---------------------------------------------------------------------------------------


def signed_headers(
    *,
    secrets_in_use: Sequence[str],
    event_id: int,
    topic: str,
    delivery_id: str,
    body: bytes,
    content_type: str,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of one attempt, signed at this second. ``secrets_in_use`` is the endpoint's
    secrets, oldest first: during a rotation the previous one and the current one, each giving a
    ``v1,`` signature (space-separated); the legacy signature uses the current one."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    message_id = webhook_message_id(event_id)
    signatures = " ".join(
        standard_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in secrets_in_use
    )
    return {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        ID_HEADER: message_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: signatures,
        EVENT_HEADER: topic,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=secrets_in_use[-1], timestamp=timestamp, body=body),
    }
