"""Units in transit to a location are never sold for shipping from it before they arrive
(PostgreSQL, real threads): buyers racing while the transfer is on the road and while it lands get
only the units that are there."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from inventory.errors import InsufficientStock
from inventory.models import StockLevel
from inventory.transfers.services import TransferItem, transfer_create, transfer_receive, transfer_ship
from orders.models import Reservation
from orders.services import order_place
from tests.conftest import SYSTEM, stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

from .test_oversell import assert_stock_consistent, channel_actor, held_units, order_input, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 12


def test_in_transit_units_are_never_sold_before_they_arrive():
    product = ProductFactory(sku="ROAD")
    source = LocationFactory(code="wh-road-src", latitude=Decimal("21.0"), longitude=Decimal("105.8"))
    store = StoreFactory(code="st-road-dst", latitude=Decimal("10.8"), longitude=Decimal("106.65"))
    stock_put(product, source, 5)
    transfer = transfer_create(
        source=source, destination=store, items=[TransferItem(product=product, quantity=5)], actor=SYSTEM
    )
    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    channel, actor = channel_actor()
    accepted: list[int] = []
    refused: list[InsufficientStock] = []
    lock = threading.Lock()

    def buy(index: int) -> None:
        try:
            result = order_place(data=order_input(channel, product.sku, 1, index), actor=actor)
        except InsufficientStock as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                accepted.append(result.order.pk)

    # On the road: the store ships from its stock (ship_from_store), and it has none yet.
    assert run_together(BUYERS, buy) == []
    assert (len(accepted), len(refused)) == (0, BUYERS)

    # Buyers racing the receipt: whatever the interleaving, no more than the 5 arrived are sold.
    def buy_or_receive(index: int) -> None:
        if index == 0:
            transfer_receive(transfer_id=transfer.pk, actor=SYSTEM)
        else:
            buy(index)

    assert run_together(BUYERS + 1, buy_or_receive) == []
    level = StockLevel.objects.get(product=product, location=store)
    assert level.on_hand == 5
    assert len(accepted) <= 5
    assert level.reserved == len(accepted) == held_units(Reservation.objects.all())
    # Every unit that arrived is for sale once there: more buyers take the rest.
    more = 5 - len(accepted)
    for index in range(more + 2):
        try:
            order_place(data=order_input(channel, product.sku, 1, 100 + index), actor=actor)
        except InsufficientStock:
            continue
    level.refresh_from_db()
    assert level.reserved == 5
    assert_stock_consistent()
