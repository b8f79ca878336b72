"""What placing an order takes (``OrderInput``, its ``LineInput``s and an optional
``PaymentInput``) and answers (``PlacementResult``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oms.customers import CustomerInput
from oms.models import Channel
from orders.models import Order, OrderLine, Reservation


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    unit_price: Decimal
    tax: Decimal = Decimal("0")


@dataclass(frozen=True)
class PaymentInput:
    """The storefront's payment: authorised already (``provider_reference``, ``authorized_amount``
    defaulting to the total), or a ``token`` for the OMS to authorise through its gateway."""

    method: str = "card"
    token: str = ""
    provider_reference: str = ""
    authorized_amount: Decimal | None = None
    provider: str = ""  # the gateway; empty: OMS_PAYMENT_GATEWAY. Set by the OMS only (store credit)


@dataclass(frozen=True)
class OrderInput:
    channel: Channel
    method: str
    lines: Sequence[LineInput]
    currency: str = ""
    customer: CustomerInput | None = None
    external_id: str = ""
    pickup_location: str = ""  # a store code
    shipping_address: dict[str, Any] = field(default_factory=dict)
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    shipping_total: Decimal = Decimal("0")
    allow_backorder: bool = False
    # A pickup the store cannot supply: bring the missing units by transfer (docs/transfers.md).
    allow_transfer: bool = False
    payment: PaymentInput | None = None
    loyalty_points: int = 0  # paid with loyalty points (a tender of the order: docs/loyalty.md)
    nearby_radius_km: float | None = None  # a pickup's 409 lists stores within it (None: the setting)


@dataclass
class PlacementResult:
    order: Order
    lines: list[OrderLine]
    reservations: list[Reservation]
    location_codes: dict[int, str]
    plan_reason: str = ""
    status_code: int = 201
    response: dict[str, Any] | None = None  # what was answered (stored for idempotent replays)
    replayed: bool = False


Renderer = Callable[[PlacementResult], dict[str, Any]]
