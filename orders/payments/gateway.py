"""The payment gateway interface: what an adapter to a payment provider implements, the registry of
adapters, and the one the OMS uses (setting ``OMS_PAYMENT_GATEWAY``, default ``fake``).

An adapter is called only outside database transactions (``orders.services.payments`` writes the
ledger row ``pending`` first, calls the adapter, then settles the row). It must be idempotent on
``PaymentRequest.idempotency_key``: the same key sent twice (a retried task, a worker killed after
the call) must not move money twice, as a provider's own idempotency keys guarantee. It answers a
``GatewayResult`` on success, raises ``GatewayDeclined`` for a final refusal and
``GatewayTransient`` for a failure worth retrying (timeouts, 5xx, rate limits)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings


@dataclass(frozen=True)
class PaymentRequest:
    """One call to the gateway: the amount, the order's payment (token or provider reference of the
    authorisation) and the key the provider dedups on."""

    amount: Decimal
    currency: str
    idempotency_key: str
    token: str = ""
    authorization_reference: str = ""


@dataclass(frozen=True)
class GatewayResult:
    """A successful call: the provider's reference of the operation."""

    provider_reference: str


class GatewayError(Exception):
    """A call that did not succeed."""


class GatewayDeclined(GatewayError):
    """The provider refused for good (declined card, amount over a limit, expired authorisation)."""


class GatewayTransient(GatewayError):
    """The provider could not answer now; the same request may succeed later."""


class PaymentGateway(Protocol):
    """The adapter interface: one method per ledger kind, each idempotent on the request's key."""

    name: str

    def authorize(self, request: PaymentRequest) -> GatewayResult: ...

    def capture(self, request: PaymentRequest) -> GatewayResult: ...

    def void(self, request: PaymentRequest) -> GatewayResult: ...

    def refund(self, request: PaymentRequest) -> GatewayResult: ...


_registry: dict[str, Callable[[], PaymentGateway]] = {}
_instances: dict[str, PaymentGateway] = {}


def gateway_register(name: str, factory: Callable[[], PaymentGateway]) -> None:
    """Make an adapter available under ``name`` (for ``OMS_PAYMENT_GATEWAY``)."""
    _registry[name] = factory
    _instances.pop(name, None)


def gateway_for(name: str) -> PaymentGateway:
    """The adapter registered under ``name`` (one instance per process)."""
    if name not in _instances:
        if name not in _registry:
            raise LookupError(f"No payment gateway '{name}' (known: {', '.join(sorted(_registry))}).")
        _instances[name] = _registry[name]()
    return _instances[name]


def payment_gateway() -> PaymentGateway:
    """The adapter the OMS uses: ``OMS_PAYMENT_GATEWAY``."""
    return gateway_for(settings.OMS_PAYMENT_GATEWAY)


def _register_builtin() -> None:
    from .credit import StoreCreditGateway
    from .fake import FakeGateway

    gateway_register("fake", FakeGateway)
    gateway_register("store_credit", StoreCreditGateway)


_register_builtin()
