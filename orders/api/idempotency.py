"""The Idempotency-Key header of the order writes (placement, changes): its schema parameter and
the claim a request makes with it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from oms.actors import Actor
from oms.errors import MalformedInput
from orders.errors import IdempotencyKeyRequired
from orders.services import IdempotencyClaim, idempotency_request_hash

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Required for channel clients: a repeat with the same key and body answers the first "
    "response; another body under the same key is 422 idempotency_key_reused. Kept 24 hours.",
)


def idempotency_claim(request: Request, actor: Actor) -> IdempotencyClaim | None:
    """The request's claim on its Idempotency-Key: required of channel clients, optional for staff."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        if actor.is_channel:
            raise IdempotencyKeyRequired()
        return None
    if len(key) > 255 or not key.isprintable():
        raise MalformedInput(
            "Idempotency-Key must be at most 255 printable characters.", code="invalid_idempotency_key"
        )
    scope = f"client:{actor.api_client_id}" if actor.is_channel else f"user:{actor.user_id}"
    return IdempotencyClaim(scope=scope, key=key, request_hash=idempotency_request_hash(request.data))
