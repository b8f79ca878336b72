"""The OpenAPI document's ``webhooks`` section (OpenAPI 3.1): one entry per event type of the
registry (``oms.event_types``), the request the OMS makes to an endpoint: the Standard Webhooks
headers, the CloudEvents envelope (``application/cloudevents+json``) with the event's ``data``
schema, and the legacy body (``application/json``, deprecated) that endpoints registered before
receive. Components: ``CloudEvent``, ``LegacyWebhookEvent`` and ``<Type>EventData`` per event.

Also ``oas31_nullable``: the few schemas written for OpenAPI 3.0 (``nullable: true``: DRF's
pagination, our error components) in the 3.1 form (``type: [..., "null"]``)."""

from __future__ import annotations

from typing import Any

from oms.event_types import EventType, event_types
from oms.webhook_messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
)

_REF = "#/components/schemas/"

CLOUD_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvents 1.0 envelope in structured JSON mode (docs/webhooks.md).",
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {
            "type": "string",
            "description": "evt_<event id>: the webhook-id header, the same on every retry.",
            "examples": ["evt_18231"],
        },
        "source": {
            "type": "string",
            "format": "uri-reference",
            "description": "OMS_EVENT_SOURCE and the REST collection of the subject.",
            "examples": ["/oms/orders"],
        },
        "type": {"type": "string", "description": "The event type (what endpoints subscribe to)."},
        "subject": {"type": "string", "description": "The id of the thing the event is about."},
        "time": {"type": "string", "format": "date-time", "description": "When it happened."},
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "data": {"type": "object", "additionalProperties": True},
    },
    "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
}
LEGACY_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "The legacy body (deprecated; endpoints with payload_format legacy).",
    "properties": {
        "id": {"type": "integer", "description": "The outbox event id."},
        "topic": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "additionalProperties": True},
    },
    "required": ["id", "topic", "created_at", "data"],
}


def _header(name: str, description: str, *, deprecated: bool = False) -> dict[str, Any]:
    header: dict[str, Any] = {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
    if deprecated:
        header["deprecated"] = True
    return header


HEADERS = [
    _header(ID_HEADER, "evt_<event id>: the same on every attempt; use it to ignore duplicates."),
    _header(STANDARD_TIMESTAMP_HEADER, "Unix seconds when this attempt was signed."),
    _header(
        STANDARD_SIGNATURE_HEADER,
        'Space-separated "v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}>": one per '
        "secret in use (two during a secret rotation's grace period).",
    ),
    _header(EVENT_HEADER, "Legacy: the event type.", deprecated=True),
    _header(DELIVERY_HEADER, "Legacy: a UUID per endpoint and event.", deprecated=True),
    _header(TIMESTAMP_HEADER, "Legacy: the same as webhook-timestamp.", deprecated=True),
    _header(SIGNATURE_HEADER, 'Legacy: "sha256=<hex HMAC-SHA256 of {timestamp}.{body}>".', deprecated=True),
]


def data_component_name(name: str) -> str:
    """``fulfillment.ready_for_pickup`` -> ``FulfillmentReadyForPickupEventData``."""
    words = name.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "EventData"


def _body(base: str, name_key: str, entry: EventType) -> dict[str, Any]:
    return {
        "schema": {
            "allOf": [
                {"$ref": _REF + base},
                {
                    "type": "object",
                    "properties": {
                        name_key: {"type": "string", "enum": [entry.name]},
                        "data": {"$ref": _REF + data_component_name(entry.name)},
                    },
                },
            ]
        }
    }


def _operation(entry: EventType) -> dict[str, Any]:
    return {
        "operationId": "webhook_" + entry.name.replace(".", "_"),
        "summary": entry.summary,
        "description": (
            f"POSTed to every active endpoint subscribed to `{entry.name}` (or `*`). CloudEvents "
            f"`type` `{entry.name}`, `source` `<OMS_EVENT_SOURCE>/{entry.collection}`, `subject` "
            f"the `{entry.subject}` of `data`."
        ),
        "tags": ["webhooks"],
        "security": [],
        "parameters": [dict(header) for header in HEADERS],
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": _body("CloudEvent", "type", entry),
                "application/json": _body("LegacyWebhookEvent", "topic", entry),
            },
        },
        "responses": {
            "200": {"description": "Any 2xx acknowledges the delivery."},
            "default": {
                "description": "Any other answer, a redirect, no answer within OMS_WEBHOOK_TIMEOUT_SECONDS: "
                "a failed attempt, retried with exponential backoff."
            },
        },
    }


def add_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the ``webhooks`` section and its components."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["CloudEvent"] = CLOUD_EVENT
    components["LegacyWebhookEvent"] = LEGACY_EVENT
    webhooks: dict[str, Any] = {}
    for entry in event_types():
        components[data_component_name(entry.name)] = {
            **entry.data_schema(),
            "description": f"The data of {entry.name}: {entry.summary}",
        }
        webhooks[entry.name] = {"post": _operation(entry)}
    result["webhooks"] = webhooks
    return result


def _nullable(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.pop("nullable", False):
            kind = schema.get("type")
            if isinstance(kind, str):
                schema["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                kind.append("null")
        for value in schema.values():
            _nullable(value)
    elif isinstance(schema, list):
        for value in schema:
            _nullable(value)


def oas31_nullable(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: no ``nullable`` left (3.0 only) in a 3.1 document."""
    _nullable(result)
    return result
