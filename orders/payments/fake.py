"""The built-in fake gateway, for the demo and the tests; it calls no provider. Deterministic:

- approves every call whose amount is at most ``OMS_FAKE_GATEWAY_DECLINE_ABOVE`` (authorise and
  capture above it are declined);
- a token containing ``flaky`` fails transiently the first time each idempotency key is sent (in
  this process), then succeeds;
- a token containing ``slow`` answers after ``OMS_FAKE_GATEWAY_SLOW_SECONDS`` (a provider that
  takes its time: the tests kill a worker in the middle of a call);
- a key sent again answers the first answer (as a provider's idempotency keys do)."""

from __future__ import annotations

import hashlib
import threading
import time
from decimal import Decimal

from django.conf import settings

from .gateway import GatewayDeclined, GatewayResult, GatewayTransient, PaymentRequest


class FakeGateway:
    name = "fake"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, GatewayResult] = {}
        self._failed_once: set[str] = set()

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        return self._answer("auth", request, limited=True)

    def capture(self, request: PaymentRequest) -> GatewayResult:
        return self._answer("cap", request, limited=True)

    def void(self, request: PaymentRequest) -> GatewayResult:
        return self._answer("void", request, limited=False)

    def refund(self, request: PaymentRequest) -> GatewayResult:
        return self._answer("ref", request, limited=False)

    def _answer(self, prefix: str, request: PaymentRequest, *, limited: bool) -> GatewayResult:
        key = request.idempotency_key
        if "slow" in request.token:
            time.sleep(settings.OMS_FAKE_GATEWAY_SLOW_SECONDS)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            if "flaky" in request.token and key not in self._failed_once:
                self._failed_once.add(key)
                raise GatewayTransient(f"fake gateway: temporarily unavailable ({key})")
            if limited and request.amount > Decimal(str(settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE)):
                raise GatewayDeclined(
                    f"fake gateway: {request.amount} {request.currency} is above the limit "
                    f"{settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE}"
                )
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]  # the same in every process
            answer = GatewayResult(provider_reference=f"fake_{prefix}_{digest}")
            self._answers[key] = answer
            return answer
