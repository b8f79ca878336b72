"""The store-credit gateway: money the retailer already holds for the customer (a return's value
paying for its exchange). It calls no provider: every authorisation, capture, void and refund is
approved at once, its reference naming the ledger row's idempotency key. Only the OMS itself opens
payments on it (``PaymentInput.provider``, never set from the API)."""

from __future__ import annotations

from .gateway import GatewayResult, PaymentRequest


class StoreCreditGateway:
    name = "store_credit"

    def authorize(self, request: PaymentRequest) -> GatewayResult:
        return self._approved(request)

    def capture(self, request: PaymentRequest) -> GatewayResult:
        return self._approved(request)

    def void(self, request: PaymentRequest) -> GatewayResult:
        return self._approved(request)

    def refund(self, request: PaymentRequest) -> GatewayResult:
        return self._approved(request)

    @staticmethod
    def _approved(request: PaymentRequest) -> GatewayResult:
        return GatewayResult(provider_reference=f"credit:{request.idempotency_key}"[:128])
