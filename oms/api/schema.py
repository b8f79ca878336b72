"""OpenAPI post-processing: the schema as precise as the server.

* Errors: every operation lists the error statuses it can really answer (``_error_statuses``), each
  in the house format ``{"code", "message", "extra"}``; where a code has a typed ``extra`` (409
  ``insufficient_stock`` with its ``shortages`` and ``nearby_stores``, 422 ``invalid_input`` with
  ``fields`` ...) the response names that component (``schema_errors.py``).
* Input rules the server enforces and the generated schema does not state: request strings refuse
  NUL characters and, where blank is refused, all-whitespace (DRF trims before checking); decimals
  of a request need a digit and are never negative (every money input has ``min_value`` 0).
* Every operation has a summary, actions their own description, writes an example
  (``schema_docs.OPERATIONS``)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular import openapi
from drf_spectacular.drainage import warn
from rest_framework import serializers

from oms.money import CURRENCIES

from .schema_docs import OPERATIONS
from .schema_errors import ERROR_COMPONENTS, ERROR_DESCRIPTIONS, error_schema

_METHODS = ("get", "post", "put", "patch", "delete")
_MAX = settings.OMS_MAX_QUANTITY

# What the services check of a request that its serializer does not state (their error codes stay
# theirs, e.g. 422 invalid_quantity): bounds, a PATCH field that is required, "exactly one of".
_REQUEST_RULES: dict[str, dict[str, Any]] = {
    "PatchedStockLevelUpdateInputRequest": {
        "required": ["safety_stock"],
        "properties": {"safety_stock": {"minimum": 0, "maximum": _MAX}},
    },
    # "exactly one of delta and on_hand" is said in the description, not as a oneOf: a generated
    # client (openapi-python-client) turns an object with a oneOf into an untyped body.
    "StockAdjustmentInputRequest": {
        "properties": {
            "delta": {"minimum": -_MAX, "maximum": _MAX, "not": {"enum": [0]}},
            "on_hand": {"minimum": 0, "maximum": _MAX},
        },
    },
    "SnapshotItemSchemaRequest": {"properties": {"on_hand": {"maximum": _MAX}}},
    "PatchedWebhookEndpointUpdateInputRequest": {"required": ["payload_format"]},
}
_POSITIVE_AMOUNTS = {("ReturnRefundInputRequest", "amount")}  # min_value 0.01
# The body of these operations is required (drf-spectacular marks a PATCH body optional).
_BODY_REQUIRED = {"PATCH /api/v1/inventory/{id}/", "PATCH /api/v1/webhooks/{id}/"}
# Idempotency-Key: at most 255 printable characters (orders.api.views._idempotency_claim).
_IDEMPOTENCY_KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
}
_NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
_DECIMAL = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")

# Operations that answer 409 beyond the state transitions of an object's actions.
_CONFLICTS = {
    "POST /api/v1/channels/",
    "POST /api/v1/locations/",
    "POST /api/v1/products/",
    "POST /api/v1/orders/",
    "POST /api/v1/carts/",
    "PATCH /api/v1/carts/{id}/",
    "POST /api/v1/price-lists/",
    "POST /api/v1/returns/",
    "POST /api/v1/inventory/adjustments/",
    "POST /api/v1/inventory/snapshots/",
    "PATCH /api/v1/locations/{code}/",
    "POST /api/v1/staff/",
    "PATCH /api/v1/staff/{id}/",
}
# Writes that name other rows in their body, so a missing one is a 404.
_BODY_LOOKUPS = {"POST /api/v1/returns/", "POST /api/v1/staff/"}
_NO_CONFLICT_ACTIONS = {
    "POST /api/v1/customers/{id}/erase/",
    "POST /api/v1/webhooks/{id}/enable/",
    "POST /api/v1/webhooks/{id}/rotate-secret/",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, stating a list of objects' length rules (``many_init(allow_empty=False,
    max_length=...)``), which it leaves out for a ``ListSerializer``."""

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer) and schema and schema.get("type") == "array":
            # min_length / max_length: set by ListSerializer.__init__ (DRF 3.14+), not in the stubs
            shortest, longest = getattr(field, "min_length", None), getattr(field, "max_length", None)
            low = max(shortest or 0, 0 if field.allow_empty else 1)
            if low:
                schema["minItems"] = low
            if longest is not None:
                schema["maxItems"] = longest
        return schema


def _error_statuses(key: str, method: str, path: str, operation: dict[str, Any]) -> list[str]:
    has_body = "requestBody" in operation
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    is_list = "cursor" in {p.get("name") for p in operation.get("parameters", [])}
    statuses = ["401", "403"]
    if has_body or method in ("post", "patch"):
        statuses += ["400", "413", "415", "422"]
    elif has_query:
        statuses += ["400", "422"]
    if "{" in path or is_list or key in _BODY_LOOKUPS:
        statuses.append("404")  # the object of the path, or a page cursor that is not one
    if key in _CONFLICTS or (method == "post" and "{" in path and key not in _NO_CONFLICT_ACTIONS):
        statuses.append("409")
    statuses += ["429", "503"]
    return sorted(set(statuses))


def _tighten(schema: dict[str, Any]) -> None:
    """NUL-free (and, when required non-blank, not all-whitespace) strings; request decimals."""
    kind = schema.get("type")
    if (kind != "string" and kind != ["string", "null"]) or "enum" in schema:
        return
    pattern = schema.get("pattern")
    if schema.get("format") == "decimal" and pattern and (match := _DECIMAL.match(pattern)):
        # DRF takes a decimal as a JSON string or number: say both, each as the field refuses it
        digits, places = int(match[1]), int(match[2])
        text = {**schema, "pattern": f"^[0-9]{{1,{digits}}}(?:\\.[0-9]{{1,{places}}})?$"}
        step = 10**-places
        number = {"type": "number", "minimum": 0, "maximum": 10**digits - step, "multipleOf": step}
        schema.clear()
        schema["anyOf"] = [text, number]
    elif "format" not in schema and pattern is None:
        schema["pattern"] = _NOT_BLANK if schema.get("minLength", 0) >= 1 else _NO_NUL


def _apply_rules(name: str, component: dict[str, Any]) -> None:
    rules = _REQUEST_RULES.get(name, {})
    for prop, extra in rules.get("properties", {}).items():
        component["properties"][prop].update(extra)
    if "required" in rules:
        component["required"] = sorted({*component.get("required", []), *rules["required"]})
    if "oneOf" in rules:
        component["oneOf"] = rules["oneOf"]
    currency = component.get("properties", {}).get("currency")
    if currency is not None and currency.get("maxLength") == 3:  # oms.services.check_currency
        currency["enum"] = [*([""] if currency.get("minLength", 0) == 0 else []), *sorted(CURRENCIES)]


def _walk_request(schema: Any) -> None:
    if isinstance(schema, dict):
        _tighten(schema)
        for value in schema.values():
            _walk_request(value)
    elif isinstance(schema, list):
        for value in schema:
            _walk_request(value)


def _document(key: str, operation: dict[str, Any]) -> None:
    doc = OPERATIONS.get(key)
    if doc is None:
        if not operation.get("summary"):  # a view may say it itself (extend_schema(summary=...))
            warn(f"{key} has no summary: add it to oms/api/schema_docs.py OPERATIONS.")
        return
    operation["summary"] = doc.summary
    if doc.description:
        operation["description"] = doc.description
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None and doc.example is not None and "examples" not in content:
        content["examples"] = {"Example": {"value": doc.example, "summary": doc.summary}}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(ERROR_COMPONENTS)
    for name, component in components.items():
        if name.endswith("Request"):
            _apply_rules(name, component)
            _walk_request(component)
    for name, prop in _POSITIVE_AMOUNTS:
        text, number = components[name]["properties"][prop]["anyOf"]
        text["pattern"] = "^(?!0+(?:\\.0+)?$)" + text["pattern"][1:]  # not zero
        number["minimum"] = number["multipleOf"]
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            key = f"{method.upper()} {path}"
            _document(key, operation)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _walk_request(parameter.get("schema"))
                elif parameter.get("in") == "header" and parameter["name"] == "Idempotency-Key":
                    parameter["schema"] = dict(_IDEMPOTENCY_KEY)
            if key in _BODY_REQUIRED:
                operation["requestBody"]["required"] = True
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(key, method, path, operation):
                responses.setdefault(
                    status,
                    {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": error_schema(status, key)}},
                    },
                )
    return result
