"""The store-credit gateway: money the retailer already holds for the customer (a return's value
paying for its exchange). It calls no provider: every authorisation, capture, void and refund is
approved at once, its reference naming the ledger row's idempotency key. Only the OMS itself opens
payments on it (``PaymentInput.provider``, never set from the API)."""

from __future__ import annotations

from .gateway import GatewayResult, PaymentRequest


class StoreCreditGateway:
    name = "store_credit"

    @staticmethod
    def _approved(request: PaymentRequest) -> GatewayResult:
        return GatewayResult(provider_reference=f"credit:{request.idempotency_key}"[:128])

    # Every ledger kind is approved at once (the module's docstring says why).
    authorize = capture = void = refund = _approved
