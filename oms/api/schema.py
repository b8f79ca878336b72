"""OpenAPI post-processing: every operation documents the house error format.

Each error is ``{"code", "message", "extra"}``; the statuses an endpoint may answer beyond its
success are added to every operation unless it documents them itself, so clients (and schemathesis)
can rely on the schema for 4xx responses too."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "The house error format.",
    "properties": {
        "code": {"type": "string", "description": "Machine-readable, e.g. insufficient_stock."},
        "message": {"type": "string", "description": "For humans."},
        "extra": {"type": "object", "additionalProperties": True},
    },
    "required": ["code", "message", "extra"],
}

ERRORS = {
    "400": "Malformed request (unparseable JSON, wrong shape, bad header).",
    "401": "Missing or invalid bearer key.",
    "403": "Authenticated but not allowed.",
    "404": "Not found (or not visible to this client).",
    "405": "Method not allowed.",
    "409": "Conflict with the current state (insufficient stock, illegal transition ...).",
    "413": "Request body too large.",
    "415": "Unsupported media type (send application/json).",
    "422": "Valid JSON with an invalid meaning.",
    "429": "Throttled: slow down (see Retry-After).",
    "503": "The database is unavailable; nothing was changed (see Retry-After).",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
