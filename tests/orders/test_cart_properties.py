"""Hypothesis: whatever carts do (change lines, hold, hold again, release, expire, check out), the
units reserved on the stock rows are exactly the carts' active holds plus the orders' active
reservations, never above on hand, and the stock ledger agrees."""

from __future__ import annotations

import contextlib
import itertools
import os
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from inventory.models import StockLevel, StockMovement
from oms.customers import CustomerInput
from oms.errors import DomainError
from orders.choices import CartHoldStatus, ReservationStatus
from orders.models import CartHold, Reservation
from orders.services import (
    CartLineInput,
    HoldInput,
    OrderInput,
    cart_checkout,
    cart_hold_place,
    cart_hold_release,
    cart_holds_expire,
    cart_open,
    cart_update,
)
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

from .test_oversell import ADDRESS, LATITUDE, LONGITUDE, channel_actor

_runs = itertools.count()

steps = st.lists(
    st.tuples(
        st.sampled_from(["set", "hold", "hold_store", "release", "expire", "checkout"]),
        st.integers(min_value=0, max_value=1),  # which cart
        st.integers(min_value=0, max_value=4),  # a quantity
    ),
    min_size=1,
    max_size=10,
)


def check(product) -> None:
    levels = StockLevel.objects.filter(product=product)
    reserved = levels.aggregate(n=Sum("reserved"))["n"] or 0
    held = CartHold.objects.filter(product=product, status=CartHoldStatus.ACTIVE).aggregate(n=Sum("quantity"))
    booked = Reservation.objects.filter(product=product, status=ReservationStatus.ACTIVE).aggregate(
        n=Sum("quantity")
    )
    assert reserved == (held["n"] or 0) + (booked["n"] or 0)
    for level in levels:
        assert 0 <= level.reserved <= level.on_hand
        ledger = StockMovement.objects.filter(stock_level=level).aggregate(n=Sum("reserved_delta"))["n"] or 0
        assert ledger == level.reserved


@hypothesis_settings(
    max_examples=int(os.environ.get("OMS_CART_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=steps, in_store=st.integers(min_value=0, max_value=4))
def test_reserved_units_are_the_holds_and_the_reservations(db, actions, in_store):
    run = next(_runs)
    sku = f"PROP-{run}"
    product = ProductFactory(sku=sku, price=Decimal("10.00"))
    stock_put(product, LocationFactory(code=f"wh-prop-{run}"), 3)
    store = StoreFactory(code=f"st-prop-{run}", latitude=Decimal("10.78"), longitude=Decimal("106.70"))
    if in_store:
        stock_put(product, store, in_store)
    channel, actor = channel_actor(f"prop-{run}")
    carts = [
        cart_open(
            channel=channel,
            actor=actor,
            customer=CustomerInput(email=f"p{run}-{i}@example.com"),
            lines=[CartLineInput(sku=sku, quantity=1)],
        )[0].pk
        for i in range(2)
    ]
    checkout = OrderInput(
        channel=channel,
        method="ship",
        lines=[],
        shipping_address=ADDRESS,
        latitude=LATITUDE,
        longitude=LONGITUDE,
    )
    for kind, which, quantity in actions:
        cart_id = carts[which]
        with contextlib.suppress(DomainError):  # out of stock, checked out, an empty cart ...
            if kind == "set":
                cart_update(
                    cart_id=cart_id, channel=channel, actor=actor, lines=[CartLineInput(sku, quantity)]
                )
            elif kind == "hold":
                cart_hold_place(cart_id=cart_id, hold=HoldInput(minutes=5), actor=actor)
            elif kind == "hold_store":
                cart_hold_place(cart_id=cart_id, hold=HoldInput(minutes=5, location=store.code), actor=actor)
            elif kind == "release":
                cart_hold_release(cart_id=cart_id, actor=actor)
            elif kind == "expire":
                cart_holds_expire(now=timezone.now() + timedelta(minutes=6))
            else:
                cart_checkout(cart_id=cart_id, channel=channel, actor=actor, data=checkout)
        check(product)
