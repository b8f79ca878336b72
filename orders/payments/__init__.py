"""Payments outside the services: the gateway adapter interface (``gateway``), the built-in fake
gateway (``fake``), the store-credit gateway (``credit``) and the reads of payments for the API
(``selectors``)."""

from .gateway import (
    GatewayDeclined,
    GatewayError,
    GatewayResult,
    GatewayTransient,
    PaymentGateway,
    PaymentRequest,
    gateway_for,
    gateway_register,
    payment_gateway,
)

__all__ = [
    "GatewayDeclined",
    "GatewayError",
    "GatewayResult",
    "GatewayTransient",
    "PaymentGateway",
    "PaymentRequest",
    "gateway_for",
    "gateway_register",
    "payment_gateway",
]
