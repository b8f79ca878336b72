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

_NO_NUL = "^[^\\u0000]*$"
# Python's whitespace (str.isspace, what DRF trims and a server regex's \s matches), spelled out:
# ECMA's \s, which a schema pattern means, lacks U+001C-U+001F and U+0085 and adds U+FEFF.
_PY_SPACE = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
_NOT_BLANK = f"^[^\\u0000]*[^{_PY_SPACE}\\u0000][^\\u0000]*$"
_TRIMMED_TWO = f"^[{_PY_SPACE}]*[^{_PY_SPACE}\\u0000][^\\u0000]*[^{_PY_SPACE}\\u0000][{_PY_SPACE}]*$"
# What the services check of a request that its serializer does not state (their error codes stay
# theirs, e.g. 422 invalid_quantity): bounds, a PATCH field that is required, patterns.
_REQUEST_RULES: dict[str, dict[str, Any]] = {
    "PatchedStockLevelUpdateInputRequest": {
        "required": ["safety_stock"],
        "properties": {"safety_stock": {"minimum": 0, "maximum": _MAX}},
    },
    # "exactly one of delta and on_hand": _EXACTLY_ONE (a ``not``, as require_when says why)
    "StockAdjustmentInputRequest": {
        "properties": {
            "delta": {"minimum": -_MAX, "maximum": _MAX, "not": {"enum": [0]}},
            "on_hand": {"minimum": 0, "maximum": _MAX},
        },
    },
    "SnapshotItemSchemaRequest": {"properties": {"on_hand": {"maximum": _MAX}}},
    "PatchedWebhookEndpointUpdateInputRequest": {"required": ["payload_format"]},
    # two characters once DRF has trimmed it (" A" is refused: min_length 2)
    "AddressInputRequest": {"properties": {"country": {"pattern": _TRIMMED_TWO}}},
}
_BLANK: dict[str, Any] = {"enum": [None, ""]}  # what a "required for ..." check counts as not given
_EMPTY_LIST: dict[str, Any] = {"type": "array", "maxItems": 0}
# Fields that one value of another makes required, as the services check them (422 ..._required):
# component -> [(field, its values, the fields they need)]; apps add theirs with require_when.
_REQUIRED_WHEN: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "StaffCreateInputRequest": [("role", ("associate",), ("locations",))],  # 422 locations_required
}


def require_when(component: str, field: str, values: tuple[str, ...], needed: tuple[str, ...]) -> None:
    """Say in the schema that ``needed`` are required (not null, not blank) when ``field`` is one
    of ``values`` in the request component ``component``. Stated as a ``not`` of the forbidden
    combinations: a generated client (openapi-python-client) keeps such a body typed, where a
    ``oneOf`` / ``if`` would make it untyped (and OpenAPI 3.0 has no ``if`` or ``dependentRequired``)."""
    rule = (field, values, needed)
    if rule not in _REQUIRED_WHEN.setdefault(component, []):
        _REQUIRED_WHEN[component].append(rule)


def _forbidden(component: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The combinations the server refuses (required-when and exactly-one rules), as schemas."""
    found: list[dict[str, Any]] = []
    for field, values, needed in _REQUIRED_WHEN.get(name, []):
        missing = [{"not": {"required": [f]}} for f in needed] + [
            {
                "required": [f],
                "properties": {
                    f: _EMPTY_LIST if component["properties"][f].get("type") == "array" else _BLANK
                },
            }
            for f in needed
        ]
        found.append({"required": [field], "properties": {field: {"enum": list(values)}}, "anyOf": missing})
    for field in _TOGETHER.get(name, ()):
        others = [f for f in _TOGETHER[name] if f != field]
        given = {"required": [field], "properties": {field: {"not": {"enum": [None]}}}}
        absent = [{"not": {"required": [f]}} for f in others]
        null = [{"required": [f], "properties": {f: {"enum": [None]}}} for f in others]
        found.append({**given, "anyOf": absent + null})
    if name in _EXACTLY_ONE:
        fields = list(_EXACTLY_ONE[name])
        found += [{"required": fields}, {"not": {"anyOf": [{"required": [f]} for f in fields]}}]
    return found


# Given together or not at all (422 invalid_coordinates): null counts as not given.
_TOGETHER = {"AddressInputRequest": ("latitude", "longitude")}
# Exactly one of these fields (422 delta_or_on_hand_required otherwise).
_EXACTLY_ONE = {"StockAdjustmentInputRequest": ("delta", "on_hand")}
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
        # DRF's DecimalField(allow_null=True) takes a blank string as null (3.0 form or 3.1's type list)
        if text.get("nullable") or kind == ["string", "null"]:
            schema["anyOf"].append({"type": "string", "pattern": f"^[{_PY_SPACE}]*$"})
    elif "format" not in schema and pattern is None:
        schema["pattern"] = _NOT_BLANK if schema.get("minLength", 0) >= 1 else _NO_NUL
    elif pattern and "\\s" in pattern:  # a server validator's regex (sku_validator: ^[^\s/]+$)
        schema["pattern"] = _python_space(pattern)


def _python_space(pattern: str) -> str:
    """``pattern`` with each ``\\s`` (``\\S``) as Python's whitespace, in or out of a class."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == "\\s":
                out.append(_PY_SPACE if in_class else f"[{_PY_SPACE}]")
            elif pair == "\\S" and not in_class:
                out.append(f"[^{_PY_SPACE}]")
            else:
                out.append(pair)
            i += 2
            continue
        in_class = (in_class and char != "]") or (not in_class and char == "[")
        out.append(char)
        i += 1
    return "".join(out)


def _apply_rules(name: str, component: dict[str, Any]) -> None:
    rules = _REQUEST_RULES.get(name, {})
    for prop, extra in rules.get("properties", {}).items():
        component["properties"][prop].update(extra)
    if "required" in rules:
        component["required"] = sorted({*component.get("required", []), *rules["required"]})
    if forbidden := _forbidden(component, name):
        component["not"] = {"anyOf": forbidden}
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


def _enum_var_names(components: dict[str, Any]) -> None:
    """``x-enum-varnames`` of a field goes with its enum, which drf-spectacular has moved into a
    component (``TimezoneEnum``) that the field now refers to."""
    for component in components.values():
        for prop in component.get("properties", {}).values():
            names = prop.get("x-enum-varnames")
            refs = [item["$ref"] for item in prop.get("allOf", []) if "$ref" in item]
            if names and refs:
                del prop["x-enum-varnames"]
                components[refs[0].rsplit("/", 1)[-1]]["x-enum-varnames"] = names


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(ERROR_COMPONENTS)
    _enum_var_names(components)
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
