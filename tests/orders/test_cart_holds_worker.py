"""Expired cart holds are released by the beat task on a real Celery worker (PostgreSQL + Redis):
beat sends ``orders.tasks.release_expired_cart_holds`` by name every minute; here the test sends
it the same way, and the worker gives the units back to sale."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.celery_app import app
from inventory.models import StockLevel
from oms.customers import CustomerInput
from orders.models import Cart, CartEvent
from orders.services import CartLineInput, HoldInput, cart_open
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory
from tests.worker import wait_idle

from .test_oversell import channel_actor

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker]

TASK = "orders.tasks.release_expired_cart_holds"


def test_the_task_is_in_the_beat_schedule():
    entries = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert entries[TASK]["schedule"] <= 60


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_releases_expired_holds_and_keeps_the_others(request):
    request.getfixturevalue("celery_broker")
    worker = request.getfixturevalue("session_worker")
    product = ProductFactory(sku="HELD", price=Decimal("10.00"))
    warehouse = LocationFactory(code="wh-held")
    stock_put(product, warehouse, 5)
    channel, actor = channel_actor()
    carts = [
        cart_open(
            channel=channel,
            actor=actor,
            customer=CustomerInput(email=f"c{i}@example.com"),
            lines=[CartLineInput(sku="HELD", quantity=2)],
            hold=HoldInput(minutes=30),
        )[0]
        for i in range(2)
    ]
    assert StockLevel.objects.get(product=product).reserved == 4
    # the first hold is past its expiry (as if 30 minutes went by)
    Cart.objects.filter(pk=carts[0].pk).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    app.send_task(TASK)  # what beat sends
    deadline = time.monotonic() + 40
    while StockLevel.objects.get(product=product).reserved != 2:
        assert time.monotonic() < deadline, "the worker did not release the expired hold"
        time.sleep(0.1)
    wait_idle(worker)
    expired, kept = Cart.objects.get(pk=carts[0].pk), Cart.objects.get(pk=carts[1].pk)
    assert expired.hold_expires_at is None
    assert kept.hold_expires_at is not None
    released = CartEvent.objects.get(cart=expired, kind="hold_released")
    assert (released.actor_name, released.data["reason"], released.data["units"]) == (
        "cart-hold-expiry",
        "expired",
        2,
    )
    assert not CartEvent.objects.filter(cart=kept, kind="hold_released").exists()
