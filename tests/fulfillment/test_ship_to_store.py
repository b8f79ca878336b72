"""Ship-to-store for BOPIS, end to end with the real Celery worker on PostgreSQL (eagerly on
SQLite): a pickup at an empty store with ``allow_transfer`` -> a transfer from the nearest
ship-capable location -> the pickup waits ``awaiting_transfer`` -> shipped -> received (the units
become the pickup's reservation) -> pending -> accepted -> ready (the ready e-mail, only now) ->
picked up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment import services
from fulfillment.models import FulfillmentOrder
from inventory.choices import TransferStatus
from inventory.errors import InsufficientStock
from inventory.models import StockLevel, TransferOrder
from inventory.transfers.services import transfer_receive, transfer_ship
from oms.actors import Actor
from oms.models import NotificationLog
from orders.models import OrderLine, Reservation
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import stock_put
from tests.factories import ChannelFactory, ProductFactory

from .conftest import SYSTEM, fulfillment_orders, routed, status_of, store, warehouse

pytestmark = pytest.mark.celery_worker
READY = "fulfillment.ready_for_pickup"


def _pickup(store_code: str, quantity: int, *, allow_transfer: bool) -> OrderInput:
    return OrderInput(
        channel=ChannelFactory(code="web"),
        method="pickup",
        pickup_location=store_code,
        currency="USD",
        customer=CustomerInput(email="ann@example.com", name="Ann"),
        lines=[LineInput(sku="SHIRT", quantity=quantity, unit_price=Decimal("10"))],
        allow_transfer=allow_transfer,
    )


def _ready_emails(order) -> int:
    return NotificationLog.objects.filter(topic=READY, order_id=order.pk).count()


def test_bopis_ship_to_store_end_to_end(router):
    shop = store("st-empty", "10.7760", "106.7000")
    near = warehouse("wh-near", "10.8000", "106.6500")
    far = warehouse("wh-far", "21.0000", "105.8000")
    shirt = ProductFactory(sku="SHIRT")
    stock_put(shirt, near, 5)
    stock_put(shirt, far, 5)
    StockLevel.objects.get_or_create(product=shirt, location=shop)  # the store carries it, has none

    with pytest.raises(InsufficientStock) as refused:
        order_place(data=_pickup("st-empty", 2, allow_transfer=False), actor=SYSTEM)
    assert refused.value.extra["transfer_possible"] is True
    assert refused.value.extra["transfer_earliest_on"]

    order = order_place(data=_pickup("st-empty", 2, allow_transfer=True), actor=SYSTEM).order
    transfer = TransferOrder.objects.get(order_id=order.pk)
    assert (transfer.source, transfer.destination, transfer.status) == (near, shop, TransferStatus.DRAFT)
    assert StockLevel.objects.get(product=shirt, location=near).reserved == 2  # held for the transfer
    assert order.status == "backordered"

    (fo,) = routed(router, order, status="awaiting_transfer")
    assert fo.location == shop
    assert status_of(order) == "backordered"
    assert not Reservation.objects.filter(order=order).exists()

    store_associate = Actor(type="staff", name="lan", role="associate", location_ids=frozenset({shop.pk}))
    wh_associate = Actor(type="staff", name="minh", role="associate", location_ids=frozenset({near.pk}))
    transfer_ship(transfer_id=transfer.pk, actor=wh_associate)
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "awaiting_transfer"
    transfer_receive(transfer_id=transfer.pk, actor=store_associate, idempotency_key="dock-1")

    fo.refresh_from_db()
    assert fo.status == "pending"
    (reservation,) = Reservation.objects.filter(order=order)
    assert (reservation.location_id, reservation.quantity, reservation.status) == (shop.pk, 2, "active")
    level = StockLevel.objects.get(product=shirt, location=shop)
    assert (level.on_hand, level.reserved) == (2, 2)
    assert OrderLine.objects.get(order=order).quantity_backordered == 0
    router.wait_for(lambda: status_of(order) == "allocated", what="allocated")
    assert _ready_emails(order) == 0

    services.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=store_associate)
    assert _ready_emails(order) == 0  # received and accepted, not yet ready
    services.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=store_associate)
    router.wait_for(lambda: _ready_emails(order) == 1, what="the ready-for-pickup e-mail")
    fo.refresh_from_db()
    services.fulfillment_order_picked_up(
        fulfillment_order_id=fo.pk, actor=store_associate, pickup_code=fo.pickup_code
    )
    assert status_of(order) == "completed"
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (0, 0)
    assert StockLevel.objects.get(product=shirt, location=near).on_hand == 3
    assert [f.status for f in fulfillment_orders(order)] == ["picked_up"]


def test_no_transfer_possible_says_so(router):
    store("st-alone", "10.7760", "106.7000")
    ProductFactory(sku="SHIRT")
    with pytest.raises(InsufficientStock) as refused:
        order_place(data=_pickup("st-alone", 1, allow_transfer=True), actor=SYSTEM)
    assert refused.value.extra["transfer_possible"] is False
    assert not TransferOrder.objects.exists()
