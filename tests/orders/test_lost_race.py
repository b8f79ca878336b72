"""A lost race between the stock read and the reservation: the whole placement is planned again
on fresh stock (at most RESERVE_ATTEMPTS times), and what was written by the losing attempt is
rolled back with it. Races themselves run on PostgreSQL in test_oversell.py; here the loss is
simulated so that every path is exercised on either database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from inventory.errors import InsufficientStock
from inventory.models import StockLevel, StockMovement
from oms.actors import Actor
from orders import services, writes
from orders.models import Order, OrderLine, Reservation
from orders.services import RESERVE_ATTEMPTS, CustomerInput, LineInput, OrderInput

from .conftest import post_order, ship_body


@pytest.fixture
def losing(monkeypatch):
    """Make the reservation lose its race the first ``state['losses']`` times."""
    state = {"losses": 1, "calls": 0}
    real = writes.reservations_reserve_and_insert

    def reserve(**kwargs):
        state["calls"] += 1
        if state["calls"] <= state["losses"]:
            raise InsufficientStock(extra={"stock_levels": []})
        return real(**kwargs)

    monkeypatch.setattr(writes, "reservations_reserve_and_insert", reserve)
    return state


def test_a_lost_race_is_planned_again_and_leaves_nothing_behind(network, web_client, losing):
    response = post_order(web_client, ship_body(("SHIRT", 2)))

    assert response.status_code == 201, response.json()
    assert losing["calls"] == 2
    assert Order.objects.count() == 1  # the losing attempt's order and lines were rolled back
    assert OrderLine.objects.count() == 1
    assert Reservation.objects.get().quantity == 2
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 2
    assert StockMovement.objects.filter(kind="reservation").count() == 1


def test_every_attempt_lost_answers_409_and_holds_nothing(network, web_client, losing):
    losing["losses"] = RESERVE_ATTEMPTS

    response = post_order(web_client, ship_body(("SHIRT", 2)))

    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "insufficient_stock"
    assert error["extra"]["skus"] == ["SHIRT"]
    assert "being sold right now" in error["message"]
    assert losing["calls"] == RESERVE_ATTEMPTS
    assert not Order.objects.exists()
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 0


def test_every_attempt_lost_and_now_short_names_the_missing_units(network, web_client, monkeypatch):
    def reserve(**kwargs):
        # the competitor's orders took every shirt of the warehouse and the store meanwhile
        StockLevel.objects.filter(product=network.shirt).update(reserved=0, on_hand=0)
        raise InsufficientStock(extra={"stock_levels": []})

    monkeypatch.setattr(writes, "reservations_reserve_and_insert", reserve)
    # the competitor's change is undone with each attempt's rollback; make it stick for the answer
    real_sold_out = services.placement._sold_out

    def sold_out(data):
        StockLevel.objects.filter(product=network.shirt).update(on_hand=0)
        return real_sold_out(data)

    monkeypatch.setattr(services.placement, "_sold_out", sold_out)

    response = post_order(web_client, ship_body(("SHIRT", 2)))

    assert response.status_code == 409
    assert response.json()["extra"]["shortages"] == [{"sku": "SHIRT", "requested": 2, "missing": 2}]


def test_an_exchange_order_retries_in_a_savepoint_and_keeps_the_callers_writes(network, web_client, losing):
    from oms.models import Channel

    channel = Channel.objects.get(code="web")
    data = OrderInput(
        channel=channel,
        method="ship",
        currency=channel.currency,
        customer=CustomerInput(email="exchange@example.com"),
        shipping_address={"name": "A", "line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
        latitude=Decimal("10.7769"),
        longitude=Decimal("106.7009"),
        lines=[LineInput(sku="SHIRT", quantity=1, unit_price=Decimal("10.00"))],
    )
    with transaction.atomic():
        StockLevel.objects.filter(product=network.jeans).update(safety_stock=1)  # the caller's own write
        result = services.order_place_in_transaction(data=data, actor=Actor.system("returns"))

    assert losing["calls"] == 2
    assert Order.objects.get().pk == result.order.pk
    assert StockLevel.objects.get(product=network.jeans).safety_stock == 1
