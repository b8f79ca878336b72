"""Carts never oversell (PostgreSQL, real threads): 50 checkouts race for the last units, some
carts holding them; holds race too. Held units are reserved units: a cart that holds them gets
its order, whoever else checks out at the same moment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.errors import InsufficientStock
from inventory.models import StockLevel
from oms.customers import CustomerInput
from orders.choices import CartHoldStatus, CartStatus
from orders.models import Cart, CartHold, Order
from orders.services import CartLineInput, HoldInput, OrderInput, cart_checkout, cart_hold_place, cart_open
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory

from .test_oversell import (
    ADDRESS,
    BUYERS,
    LATITUDE,
    LONGITUDE,
    assert_stock_consistent,
    channel_actor,
    run_together,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def checkout_of(channel) -> OrderInput:
    """What a checkout says beyond the cart: the method and the address (the lines are the cart's)."""
    return OrderInput(
        channel=channel,
        method="ship",
        lines=[],
        shipping_address=ADDRESS,
        latitude=LATITUDE,
        longitude=LONGITUDE,
    )


@pytest.fixture
def last_ten():
    product = ProductFactory(sku="LAST-TEN", price=Decimal("10.00"))
    warehouse = LocationFactory(
        code="wh-last", latitude=Decimal("10.800000"), longitude=Decimal("106.650000")
    )
    stock_put(product, warehouse, 10)
    return product, warehouse


def open_carts(channel, actor, count: int) -> list[int]:
    return [
        cart_open(
            channel=channel,
            actor=actor,
            customer=CustomerInput(email=f"buyer{i}@example.com"),
            lines=[CartLineInput(sku="LAST-TEN", quantity=1)],
        )[0].pk
        for i in range(count)
    ]


def test_fifty_checkouts_of_carts_some_holding_the_last_units(last_ten):
    product, warehouse = last_ten
    channel, actor = channel_actor()
    carts = open_carts(channel, actor, BUYERS)
    holding = carts[:5]
    for cart_id in holding:
        cart_hold_place(cart_id=cart_id, hold=HoldInput(minutes=30), actor=actor)
    assert StockLevel.objects.get(product=product, location=warehouse).reserved == 5
    refused: list[int] = []

    def buy(index: int) -> None:
        try:
            cart_checkout(cart_id=carts[index], channel=channel, actor=actor, data=checkout_of(channel))
        except InsufficientStock:
            refused.append(index)

    errors = run_together(BUYERS, buy)
    assert not errors, errors
    level = StockLevel.objects.get(product=product, location=warehouse)
    assert (level.on_hand, level.reserved) == (10, 10)
    assert Order.objects.count() == 10 == BUYERS - len(refused)
    checked_out = set(Cart.objects.filter(status=CartStatus.CHECKED_OUT).values_list("pk", flat=True))
    assert set(holding) <= checked_out  # every cart that held its unit got its order
    assert len(checked_out) == 10
    assert set(CartHold.objects.values_list("status", flat=True)) == {CartHoldStatus.CONVERTED}
    assert_stock_consistent()


def test_fifty_carts_racing_to_hold_the_last_units_then_checking_out(last_ten):
    product, warehouse = last_ten
    channel, actor = channel_actor()
    carts = open_carts(channel, actor, BUYERS)
    held: list[int] = []

    def hold(index: int) -> None:
        try:
            cart_hold_place(cart_id=carts[index], hold=HoldInput(minutes=30), actor=actor)
            held.append(carts[index])
        except InsufficientStock:
            pass

    assert not run_together(BUYERS, hold)
    assert len(held) == 10
    assert StockLevel.objects.get(product=product, location=warehouse).reserved == 10

    def buy(index: int) -> None:
        try:
            cart_checkout(cart_id=carts[index], channel=channel, actor=actor, data=checkout_of(channel))
        except InsufficientStock:
            assert carts[index] not in held  # a holding cart is never refused

    assert not run_together(BUYERS, buy)
    checked_out = set(Cart.objects.filter(status=CartStatus.CHECKED_OUT).values_list("pk", flat=True))
    assert checked_out == set(held)
    level = StockLevel.objects.get(product=product, location=warehouse)
    assert (level.on_hand, level.reserved) == (10, 10)
    assert_stock_consistent()


def test_one_customer_opening_carts_on_many_channels_at_once_gets_one_cart(last_ten):
    channel, actor = channel_actor()
    opened: list[tuple[int, bool]] = []

    def open_one(_index: int) -> None:
        cart, created = cart_open(
            channel=channel,
            actor=actor,
            customer=CustomerInput(email="same@example.com"),
            lines=[CartLineInput(sku="LAST-TEN", quantity=1)],
        )
        opened.append((cart.pk, created))

    assert not run_together(10, open_one)
    assert len({pk for pk, _created in opened}) == 1
    assert sum(created for _pk, created in opened) == 1
    cart = Cart.objects.get()
    assert cart.lines.get().quantity == 10  # every request's line added to the one cart
