"""A ship order without delivery coordinates is placed by the offline geocoder (city, postal code,
region) before sourcing, at placement and again when routing re-plans; the reason says so."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.models import FulfillmentOrder
from fulfillment.services import route_order
from orders.models import Order, OrderEvent
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

from .conftest import post_order, ship_body


@pytest.fixture
def two_cities(db):
    """The demo network's shape: a warehouse in each city; Ho Chi Minh City's has the higher
    priority, so without a delivery point it would win every order."""
    hcm = LocationFactory(
        code="wh-hcm", latitude=Decimal("10.849400"), longitude=Decimal("106.772000"), priority=10
    )
    hn = LocationFactory(
        code="wh-hn", latitude=Decimal("21.047500"), longitude=Decimal("105.888300"), priority=5
    )
    hn_store = StoreFactory(code="st-hn-hk", latitude=Decimal("21.028800"), longitude=Decimal("105.852000"))
    shirt = ProductFactory(sku="SHIRT", price=Decimal("10.00"))
    for location in (hcm, hn):
        stock_put(shirt, location, 10)
    return {"hcm": hcm, "hn": hn, "hn_store": hn_store, "shirt": shirt}


def without_coordinates(**address: str) -> dict:
    body = ship_body(("SHIRT", 2))
    body["shipping_address"] = {"name": "Ann", "line1": "12 Hang Bac", "country": "VN", **address}
    return body


def sourced_message(order_id: int) -> str:
    return OrderEvent.objects.get(order_id=order_id, kind="sourced").message


@pytest.mark.parametrize("city", ["Hanoi", "Hà Nội", "Ha Noi"])
def test_a_hanoi_address_without_coordinates_is_sourced_in_hanoi(two_cities, web_client, city):
    response = post_order(web_client, without_coordinates(city=city))
    assert response.status_code == 201, response.json()
    assert [(r["location"], r["quantity"]) for r in response.json()["reservations"]] == [("wh-hn", 2)]
    message = sourced_message(response.json()["id"])
    assert "1 location (wh-hn) holds every unit; nearest of 2 that could" in message
    assert message.endswith(f"The address has no coordinates: placed by city '{city}' (Hà Nội).")
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.ship_latitude, order.ship_longitude) == (None, None)  # what the customer sent


def test_a_hanoi_store_ships_when_it_is_nearer_and_the_warehouse_is_empty(two_cities, web_client):
    from inventory.models import StockLevel

    StockLevel.objects.filter(location=two_cities["hn"]).update(safety_stock=10)
    stock_put(two_cities["shirt"], two_cities["hn_store"], 5)
    response = post_order(web_client, without_coordinates(city="Hà Nội"))
    assert response.status_code == 201, response.json()
    assert [r["location"] for r in response.json()["reservations"]] == ["st-hn-hk"]


def test_an_unknown_city_is_placed_by_postal_code_then_region(two_cities, web_client):
    response = post_order(web_client, without_coordinates(city="Hoan Kiem", postal_code="100000"))
    assert [r["location"] for r in response.json()["reservations"]] == ["wh-hn"]
    assert "placed by postal code '100000' (Hà Nội)" in sourced_message(response.json()["id"])
    response = post_order(web_client, without_coordinates(city="Hoan Kiem", region="Hanoi"))
    assert [r["location"] for r in response.json()["reservations"]] == ["wh-hn"]
    assert "placed by region 'Hanoi' (Hà Nội)" in sourced_message(response.json()["id"])


def test_an_address_the_table_does_not_know_falls_back_to_priority(two_cities, web_client):
    response = post_order(web_client, without_coordinates(city="Atlantis"))
    assert [r["location"] for r in response.json()["reservations"]] == ["wh-hcm"]
    message = sourced_message(response.json()["id"])
    assert "no delivery coordinates, so priority then id decided" in message
    assert "placed by" not in message


def test_coordinates_given_win_over_the_city(two_cities, web_client):
    body = without_coordinates(city="Hanoi", latitude=10.7769, longitude=106.7009)
    response = post_order(web_client, body)
    assert [r["location"] for r in response.json()["reservations"]] == ["wh-hcm"]
    assert "placed by" not in sourced_message(response.json()["id"])


def test_routing_re_plans_from_the_same_place(two_cities, web_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # routed below, not on commit
        response = post_order(web_client, without_coordinates(city="Hanoi"))
    order_id = response.json()["id"]
    route_order(order_id=order_id)
    (fo,) = FulfillmentOrder.objects.filter(order_id=order_id)
    assert fo.location.code == "wh-hn"
    routed = OrderEvent.objects.get(order_id=order_id, kind="routed")
    assert routed.message.startswith(f"Fulfilment order {fo.number} sent to wh-hn. 1 location (wh-hn)")
    assert "placed by city 'Hanoi' (Hà Nội)" in routed.message


@pytest.mark.django_db(transaction=True)
def test_placing_by_the_geocoder_costs_no_statement(two_cities, web_client, monkeypatch):
    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])

    def statements(body: dict) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = post_order(web_client, body)
        assert response.status_code == 201, response.json()
        return len(ctx.captured_queries)

    statements(without_coordinates(city="Hanoi"))  # warm up: the customer exists
    with_coordinates = statements(without_coordinates(city="Hanoi", latitude=21.03, longitude=105.85))
    assert statements(without_coordinates(city="Hanoi")) == with_coordinates
