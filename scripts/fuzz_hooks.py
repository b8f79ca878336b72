"""schemathesis hooks for scripts/fuzz (``SCHEMATHESIS_HOOKS``): each generated POST gets its own
Idempotency-Key, as a real client sends one per logical request. One fixed key for every POST made
the second order body a 422 idempotency_key_reused: the harness's doing, not the API's."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook("map_headers")
def idempotency_key_per_request(ctx: Any, headers: dict[str, str] | None) -> dict[str, str]:
    headers = dict(headers or {})
    if ctx.operation.method.upper() == "POST":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return headers
