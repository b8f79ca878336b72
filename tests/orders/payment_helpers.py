"""Helpers of the payment tests: place an order with a payment object, ship one fulfilment order."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, PaymentInput, order_place
from tests.returns.conftest import ADDRESS, SYSTEM, Net


def place_paid(
    net: Net, *lines: tuple[str, int, str], payment: PaymentInput | None = None, loyalty_points: int = 0
) -> Order:
    """A web order shipped to Ann: lines are (sku, quantity, unit price)."""
    data = OrderInput(
        channel=net.web,
        method="ship",
        lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal(price)) for sku, q, price in lines],
        currency="USD",
        customer=CustomerInput(email="ann@example.com", name="Ann"),
        shipping_address=dict(ADDRESS),
        latitude=Decimal("10.776900"),
        longitude=Decimal("106.700900"),
        payment=payment,
        loyalty_points=loyalty_points,
    )
    return order_place(data=data, actor=SYSTEM).order


def ship(fo: FulfillmentOrder) -> dict[str, int]:
    """Accept, pick, pack and ship it; answers its units by order line (as the event carries them)."""
    for step in (
        fulfillment.fulfillment_order_accept,
        fulfillment.fulfillment_order_pick,
        fulfillment.fulfillment_order_pack,
    ):
        step(fulfillment_order_id=fo.pk, actor=SYSTEM)
    fulfillment.fulfillment_order_ship(
        fulfillment_order_id=fo.pk, carrier="ups", tracking_number=f"1Z{fo.pk}", actor=SYSTEM
    )
    units: dict[str, int] = defaultdict(int)
    for line in fo.lines.all():
        units[str(line.order_line_id)] += line.quantity
    return dict(units)
