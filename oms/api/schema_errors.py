"""The error components of the schema: the house format ``Error`` and, per error code whose
``extra`` has a fixed shape, a component for that extra and an error naming it. A response lists
the specific errors its operation can answer and the generic ``Error`` (``anyOf``), so a client
generated from the schema gets typed ``shortages`` and ``nearby_stores`` for a 409
``insufficient_stock`` and still parses any other code."""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_INT = {"type": "integer"}
_MONEY = {"type": "string", "format": "decimal", "pattern": "^-?\\d+(?:\\.\\d{1,2})?$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    schema = {"type": "object", "description": description, "properties": properties}
    return {**schema, "required": required} if required else schema


EXTRAS: dict[str, dict[str, Any]] = {
    "InsufficientStockExtra": _object(
        {
            "skus": {"type": "array", "items": _STR, "description": "The SKUs that are short."},
            "shortages": {
                "type": "array",
                "items": _object(
                    {"sku": _STR, "requested": _INT, "missing": _INT},
                    ["sku", "requested", "missing"],
                    "Units asked for and units missing, per SKU.",
                ),
            },
            "nearby_stores": {
                "type": "array",
                "description": "Pickup only: stores that have every unit, nearest first.",
                "items": _object(
                    {"location": _STR, "distance_km": {"type": "number", "nullable": True}},
                    ["location", "distance_km"],
                    "A store that could serve the pickup.",
                ),
            },
            "transfer_possible": {
                "type": "boolean",
                "description": "Pickup only: a transfer to the store could bring every unit "
                "(ask again with allow_transfer).",
            },
            "transfer_earliest_on": {
                "type": "string",
                "format": "date",
                "description": "Pickup only, with transfer_possible: the earliest day of arrival.",
            },
            "nearby_radius_km": {
                "type": "number",
                "description": "Pickup only: how far (km) ``nearby_stores`` looked.",
            },
            "stock_levels": {
                "type": "array",
                "items": _INT,
                "description": "Stock rows a reservation could not take units from (a stale plan).",
            },
        },
        [],
        "409 insufficient_stock.",
    ),
    "InvalidInputExtra": _object(
        {
            "fields": {
                "type": "object",
                "additionalProperties": True,
                "description": "Per field (nested like the body), the list of what is wrong.",
            }
        },
        ["fields"],
        "422 invalid_input and 400 malformed_request of a body that failed its checks.",
    ),
    "InvalidTransitionExtra": _object(
        {"entity": _STR, "current": _STR, "target": _STR},
        ["entity", "current", "target"],
        "409 invalid_transition: the object's status does not allow this step.",
    ),
    "RefundExceedsPaidExtra": _object(
        {
            "amount": _MONEY,
            "refundable": {**_MONEY, "description": "What may still be refunded."},
            "paid": _MONEY,
            "captured": _MONEY,
            "refunded": _MONEY,
            "exchange_credit": _MONEY,
            "currency": _STR,
        },
        ["amount", "refundable", "currency"],
        "409 refund_exceeds_paid.",
    ),
    "InsufficientPointsExtra": _object(
        {
            "balance": {**_INT, "description": "The points the customer has."},
            "points": {**_INT, "description": "The points asked for."},
        },
        ["balance", "points"],
        "409 insufficient_points: the balance is short (another channel may have spent them first).",
    ),
    "ThrottledExtra": _object({"retry_after_seconds": _INT}, [], "429 throttled (also in Retry-After)."),
    "RequestTooLargeExtra": _object({"max_bytes": _INT}, ["max_bytes"], "413 request_too_large."),
}

# error component -> (the component of its extra, the codes it covers)
_SPECIFIC = {
    "InsufficientStockError": ("InsufficientStockExtra", ["insufficient_stock"]),
    "InvalidInputError": ("InvalidInputExtra", ["invalid_input"]),
    "InvalidTransitionError": ("InvalidTransitionExtra", ["invalid_transition"]),
    "RefundExceedsPaidError": ("RefundExceedsPaidExtra", ["refund_exceeds_paid"]),
    "InsufficientPointsError": ("InsufficientPointsExtra", ["insufficient_points"]),
    "ThrottledError": ("ThrottledExtra", ["throttled"]),
    "RequestTooLargeError": ("RequestTooLargeExtra", ["request_too_large"]),
}

ERROR = _object(
    {
        "code": {**_STR, "description": "Machine-readable, e.g. insufficient_stock."},
        "message": {**_STR, "description": "For humans."},
        "extra": {
            "type": "object",
            "additionalProperties": True,
            "description": "Details of this code; typed per code where the code has a fixed shape: "
            + ", ".join(f"{codes[0]}: {extra}" for extra, codes in _SPECIFIC.values())
            + ".",
        },
    },
    ["code", "message", "extra"],
    "The house error format.",
)

ERROR_COMPONENTS: dict[str, dict[str, Any]] = {"Error": ERROR, **EXTRAS}
for _name, (_extra, _codes) in _SPECIFIC.items():
    ERROR_COMPONENTS[_name] = _object(
        {
            "code": {"type": "string", "enum": _codes},
            "message": _STR,
            "extra": _ref(_extra),
        },
        ["code", "message", "extra"],
        f"The error {', '.join(_codes)}.",
    )

ERROR_DESCRIPTIONS = {
    "400": "Malformed request (unparseable JSON, wrong type or shape, bad header).",
    "401": "Missing or invalid bearer key.",
    "403": "Authenticated but not allowed.",
    "404": "Not found (or not visible to this client).",
    "409": "Conflict with the current state (insufficient stock, illegal transition ...).",
    "413": "Request body too large.",
    "415": "Unsupported media type (send application/json).",
    "422": "Valid JSON with an invalid meaning.",
    "429": "Throttled: slow down (see Retry-After).",
    "503": "The database is unavailable; nothing was changed (see Retry-After).",
}

_STOCK_CONFLICTS = {"POST /api/v1/orders/", "POST /api/v1/returns/", "POST /api/v1/transfers/"}
_POINTS_CONFLICTS = {"POST /api/v1/orders/", "POST /api/v1/customers/{id}/loyalty/burn/"}


def _specific_errors(status: str, key: str) -> list[str]:
    if status == "409":
        names = ["InvalidTransitionError"] if "{" in key else []
        if key in _STOCK_CONFLICTS:
            names.append("InsufficientStockError")
        if key == "POST /api/v1/returns/{id}/refund/":
            names.append("RefundExceedsPaidError")
        if key in _POINTS_CONFLICTS:
            names.append("InsufficientPointsError")
        return names
    return {
        "400": ["InvalidInputError"],
        "422": ["InvalidInputError"],
        "413": ["RequestTooLargeError"],
        "429": ["ThrottledError"],
    }.get(status, [])


def error_schema(status: str, key: str) -> dict[str, Any]:
    """The body of an error ``status`` of the operation ``key`` ("POST /api/v1/orders/")."""
    names = _specific_errors(status, key)
    if not names:
        return _ref("Error")
    return {"anyOf": [*(_ref(n) for n in names), _ref("Error")]}
