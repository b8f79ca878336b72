"""Fixtures for return tests: a network (a warehouse that ships, stores that take returns and one that
does not), orders placed, routed and shipped (or collected) through the real services, and API
helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from inventory.models import Location, Product, StockLevel
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.models import Channel
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

SYSTEM = Actor.system("tests")
MANAGER = Actor(type="staff", name="boss", role="manager")
ADDRESS = {"name": "Ann", "line1": "1 Le Loi", "city": "Ho Chi Minh City", "country": "VN"}


def associate_at(*locations: Location, name: str = "ann") -> Actor:
    return Actor(
        type="staff", name=name, role="associate", location_ids=frozenset(loc.pk for loc in locations)
    )


class Net:
    def __init__(self) -> None:
        self.web: Channel = ChannelFactory(code="web", kind=ChannelKind.WEB)
        self.pos: Channel = ChannelFactory(code="pos", kind=ChannelKind.POS)
        self.warehouse: Location = LocationFactory(
            code="wh-hcm",
            latitude=Decimal("10.800000"),
            longitude=Decimal("106.650000"),
            accepts_returns=True,
        )
        # Stores that take returns but do not ship online orders (so online orders ship from the warehouse).
        self.store: Location = StoreFactory(
            code="st-district1",
            latitude=Decimal("10.776000"),
            longitude=Decimal("106.700000"),
            ship_from_store=False,
            accepts_returns=True,
        )
        self.other_store: Location = StoreFactory(
            code="st-district3",
            latitude=Decimal("10.780000"),
            longitude=Decimal("106.690000"),
            ship_from_store=False,
            accepts_returns=True,
        )
        self.no_returns: Location = StoreFactory(
            code="st-kiosk", ship_from_store=False, accepts_returns=False
        )
        self.shirt: Product = ProductFactory(sku="SHIRT", price=Decimal("10.00"))
        self.jeans: Product = ProductFactory(sku="JEANS", price=Decimal("30.00"))
        self.cap: Product = ProductFactory(sku="CAP", price=Decimal("5.00"))
        stock_put(self.shirt, self.warehouse, 20)
        stock_put(self.jeans, self.warehouse, 10)

    def on_hand(self, product: Product, location: Location) -> int:
        row = StockLevel.objects.filter(product=product, location=location).first()
        return row.on_hand if row else 0


@pytest.fixture
def net(db) -> Net:
    return Net()


def place(
    channel: Channel,
    *lines: tuple[str, int, str],
    method: str = "ship",
    pickup: str = "",
    email: str = "ann@example.com",
    allow_backorder: bool = False,
) -> Order:
    """Place an order through the service: lines are (sku, quantity, unit price)."""
    data = OrderInput(
        channel=channel,
        method=method,
        lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal(price)) for sku, q, price in lines],
        currency="USD",
        customer=CustomerInput(email=email, name="Ann"),
        pickup_location=pickup,
        shipping_address=dict(ADDRESS) if method == "ship" else {},
        latitude=Decimal("10.776900") if method == "ship" else None,
        longitude=Decimal("106.700900") if method == "ship" else None,
        allow_backorder=allow_backorder,
    )
    return order_place(data=data, actor=SYSTEM).order


def fulfil(order: Order) -> Order:
    """Route the order and ship (or hand over) every fulfilment order, as the locations would."""
    fulfillment.route_order(order_id=order.pk)
    for fo in FulfillmentOrder.objects.filter(order=order).exclude(status__in=["shipped", "picked_up"]):
        fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
        if fo.method == "pickup":
            fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
            fulfillment.fulfillment_order_picked_up(fulfillment_order_id=fo.pk, actor=SYSTEM)
        else:
            fulfillment.fulfillment_order_pick(fulfillment_order_id=fo.pk, actor=SYSTEM)
            fulfillment.fulfillment_order_pack(fulfillment_order_id=fo.pk, actor=SYSTEM)
            fulfillment.fulfillment_order_ship(
                fulfillment_order_id=fo.pk, carrier="ups", tracking_number="1Z999", actor=SYSTEM
            )
    order.refresh_from_db()
    return order


@pytest.fixture
def shipped(net) -> Order:
    """A web order of 2 shirts (10.00 each) and 1 jeans (30.00), shipped from the warehouse: 50.00 paid."""
    return fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))


def line_of(order: Order, sku: str):  # type: ignore[no-untyped-def]
    return order.lines.get(sku=sku)


def return_body(order: Order, location: Location, *lines: tuple[str, int], **extra) -> dict:
    body = {
        "order": order.pk,
        "method": "in_store",
        "location": location.code,
        "lines": [
            {"order_line": line_of(order, sku).pk, "quantity": q, "reason": "wrong_size"} for sku, q in lines
        ],
    }
    body.update(extra)
    return body
