"""A customer with a history across channels, for the customer page tests (Django client and
browser): a web order shipped from the warehouse, an app pickup still waiting at the store, and a
POS order collected and brought back (a return, received and refunded). Prices in VND."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from fulfillment import services as fs
from fulfillment.models import FulfillmentOrder
from fulfillment.services import route_order
from inventory.models import Location, Product
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.models import Customer
from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from returns.models import Return
from returns.services import ReceiveLineInput, ReturnLineInput, return_create, return_receive, return_refund
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

SYSTEM = Actor.system("test")
PRICE = Decimal("1600000")
ADDRESS = {
    "name": "Lan Nguyen",
    "line1": "12 Ly Thuong Kiet",
    "city": "Hanoi",
    "postal_code": "100000",
    "country": "VN",
    "latitude": 21.03,
    "longitude": 105.85,
}


@dataclass
class History:
    customer: Customer
    store: Location
    web: Order
    app: Order
    pos: Order
    pickup: FulfillmentOrder
    rma: Return


def _place(channel_code: str, kind: str, **extra) -> Order:
    data = OrderInput(
        channel=ChannelFactory(code=channel_code, name=f"Our {channel_code}", kind=kind, currency="VND"),
        lines=[LineInput(sku="AO-DAI", quantity=1, unit_price=PRICE)],
        currency="VND",
        customer=CustomerInput(email="lan@example.vn", name="Lan Nguyen", phone="+84900000001"),
        **extra,
    )
    order = order_place(data=data, actor=SYSTEM).order
    route_order(order_id=order.pk)
    return order


def customer_with_three_channels() -> History:
    store = StoreFactory(
        code="st-hn-1", name="Store Hoan Kiem", latitude=Decimal("21.03"), longitude=Decimal("105.85")
    )
    warehouse = LocationFactory(
        code="wh-hn", name="Warehouse Long Bien", latitude=Decimal("21.04"), longitude=Decimal("105.88")
    )
    product = ProductFactory(sku="AO-DAI", name="Ao dai", price=PRICE, currency="VND")
    stock_put(product, store, 10)
    stock_put(product, warehouse, 10)
    web = _place(
        "web",
        ChannelKind.WEB,
        method="ship",
        shipping_address=ADDRESS,
        latitude=Decimal("21.03"),
        longitude=Decimal("105.85"),
    )
    app = _place("app", ChannelKind.APP, method="pickup", pickup_location=store.code)
    pos = _place("pos", ChannelKind.POS, method="pickup", pickup_location=store.code)
    pickup = FulfillmentOrder.objects.get(order=app)
    fs.fulfillment_order_accept(fulfillment_order_id=pickup.pk, actor=SYSTEM)
    fs.fulfillment_order_ready_for_pickup(fulfillment_order_id=pickup.pk, actor=SYSTEM)
    collected = FulfillmentOrder.objects.get(order=pos)
    for step in (
        fs.fulfillment_order_accept,
        fs.fulfillment_order_ready_for_pickup,
        fs.fulfillment_order_picked_up,
    ):
        step(fulfillment_order_id=collected.pk, actor=SYSTEM)
    line = pos.lines.get()
    rma = return_create(
        order_id=pos.pk,
        method="in_store",
        location_code=store.code,
        lines=[ReturnLineInput(order_line_id=line.pk, quantity=1, reason="wrong_size")],
        actor=SYSTEM,
    ).rma
    return_receive(
        return_id=rma.pk,
        lines=[ReceiveLineInput(return_line_id=rma.lines.get().pk, quantity=1, disposition="restock")],
        actor=SYSTEM,
    )
    return_refund(return_id=rma.pk, amount=PRICE, method="original_payment", note="", actor=SYSTEM)
    pickup.refresh_from_db()
    return History(
        customer=web.customer,
        store=store,
        web=web,
        app=app,
        pos=pos,
        pickup=pickup,
        rma=Return.objects.get(pk=rma.pk),
    )


_numbers = itertools.count(1)


def order_of(customer: Customer, *products: Product, status: str = OrderStatus.COMPLETED) -> Order:
    """An order holding ``products`` (one line each, a product given twice is two lines), written
    directly: the counts do not depend on how an order was placed."""
    order = Order.objects.create(
        channel=ChannelFactory(code="web"),
        customer=customer,
        number=f"T-{next(_numbers):05d}",
        status=status,
        method="ship",
        currency="USD",
        placed_by_type="system",
        placed_by_name="test",
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            line_number=n,
            product=p,
            sku=p.sku,
            quantity=1,
            unit_price=Decimal("10.00"),
            line_total=Decimal("10.00"),
        )
        for n, p in enumerate(products, start=1)
    )
    return order
