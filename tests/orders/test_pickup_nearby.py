"""A pickup the store cannot supply: the 409's "nearby stores" are those within radius_km
(OMS_NEARBY_STORES_RADIUS_KM, 50 km by default, or the order's nearby_radius_km)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from tests.conftest import stock_put
from tests.factories import StoreFactory

from .conftest import pickup_body, post_order


@pytest.fixture
def near_store(network):
    """A second Ho Chi Minh City store, 1.8 km from st-district1, with caps."""
    store = StoreFactory(code="st-district3", latitude=Decimal("10.784300"), longitude=Decimal("106.684400"))
    stock_put(network.cap, store, 5)
    return store


def refused(web_client, **extra) -> dict:
    response = post_order(web_client, pickup_body("st-district1", ("CAP", 2), **extra))
    assert response.status_code == 409, response.json()
    return response.json()


def test_a_store_1100_km_away_is_not_nearby(network, web_client):
    error = refused(web_client)
    assert error["extra"]["nearby_stores"] == []  # st-hanoi has the caps, 1,100 km away
    assert error["extra"]["nearby_radius_km"] == 50
    # st-hanoi ships from store: a transfer could bring the caps, by its lead time
    earliest = (timezone.localdate() + timedelta(days=settings.OMS_TRANSFER_LEAD_DAYS)).isoformat()
    assert error["extra"]["transfer_possible"] is True
    assert error["extra"]["transfer_earliest_on"] == earliest
    assert error["message"] == (
        "The pickup store cannot supply: CAP. No other store within 50 km has every unit. "
        f"A transfer could bring them by {earliest} (allow_transfer)."
    )


def test_the_earliest_transfer_day_is_the_sources_lead_time(network, web_client):
    network.far_store.transfer_lead_days = 5
    network.far_store.save()
    error = refused(web_client)
    assert error["extra"]["transfer_earliest_on"] == (timezone.localdate() + timedelta(days=5)).isoformat()


def test_no_transfer_when_no_location_may_ship_the_units(network, web_client):
    network.far_store.ship_from_store = False
    network.far_store.save()
    error = refused(web_client)
    assert error["extra"]["transfer_possible"] is False
    assert "transfer_earliest_on" not in error["extra"]
    assert "transfer" not in error["message"]


def test_stores_within_the_radius_are_listed_nearest_first(network, near_store, web_client):
    error = refused(web_client)
    assert [s["location"] for s in error["extra"]["nearby_stores"]] == ["st-district3"]
    assert 1 < error["extra"]["nearby_stores"][0]["distance_km"] < 3
    assert "These stores within 50 km have every unit: st-district3." in error["message"]


def test_the_radius_is_a_setting(network, near_store, web_client, settings):
    settings.OMS_NEARBY_STORES_RADIUS_KM = 1.0
    assert refused(web_client)["extra"]["nearby_stores"] == []
    settings.OMS_NEARBY_STORES_RADIUS_KM = 5000.0
    assert [s["location"] for s in refused(web_client)["extra"]["nearby_stores"]] == [
        "st-district3",
        "st-hanoi",
    ]


def test_the_order_may_ask_for_another_radius(network, near_store, web_client):
    error = refused(web_client, nearby_radius_km=2000)
    assert [s["location"] for s in error["extra"]["nearby_stores"]] == ["st-district3", "st-hanoi"]
    assert error["extra"]["nearby_radius_km"] == 2000


@pytest.mark.parametrize("radius", [-1, "far", 30000])
def test_a_bad_radius_is_422(network, web_client, radius):
    response = post_order(web_client, pickup_body("st-district1", ("CAP", 2), nearby_radius_km=radius))
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "invalid_input"
    assert "nearby_radius_km" in str(response.json()["extra"])
