"""Price lists per channel and currency: managed by managers, the most specific valid list wins,
an order line below the listed price (minus the tolerance) is 422 price_mismatch, and placement
pays one statement for the check only when a list may apply."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Product
from oms.models import Channel
from orders.models import Order, PriceList
from orders.pricing import listed_prices, prices_for_channel
from orders.services import EntryInput, PriceListInput, price_list_create

from .conftest import post_order, ship_body


def price_list(
    code: str, channel: str | None, entries: dict[str, str], currency: str = "USD", **extra
) -> PriceList:
    return price_list_create(
        data=PriceListInput(
            code=code,
            channel=Channel.objects.get(code=channel) if channel else None,
            currency=currency,
            **extra,
        ),
        entries=[EntryInput(sku=sku, unit_price=Decimal(price)) for sku, price in entries.items()],
    )


def test_managers_create_lists_and_upsert_entries(network, web_client, manager):
    body = {
        "code": "web-usd",
        "channel": "web",
        "currency": "usd",
        "entries": [{"sku": "SHIRT", "unit_price": "12"}],
    }
    assert web_client.api.post("/api/v1/price-lists", body, format="json").status_code == 403
    created = manager.api.post("/api/v1/price-lists", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["currency"] == "USD"
    assert created.json()["entries"] == [{"sku": "SHIRT", "unit_price": "12.00"}]
    list_id = created.json()["id"]
    upsert = manager.api.post(
        f"/api/v1/price-lists/{list_id}/entries",
        {"entries": [{"sku": "SHIRT", "unit_price": "11.50"}, {"sku": "JEANS", "unit_price": "28"}]},
        format="json",
    )
    assert upsert.status_code == 200, upsert.json()
    assert upsert.json()["entries"] == [
        {"sku": "JEANS", "unit_price": "28.00"},
        {"sku": "SHIRT", "unit_price": "11.50"},
    ]
    assert manager.api.post("/api/v1/price-lists", body, format="json").json()["code"] == "price_list_exists"
    wrong = manager.api.post(
        "/api/v1/price-lists", {**body, "code": "web-vnd", "currency": "VND"}, format="json"
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "currency_mismatch")
    unknown = manager.api.post(
        f"/api/v1/price-lists/{list_id}/entries",
        {"entries": [{"sku": "NOPE", "unit_price": "1"}]},
        format="json",
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_sku")
    # the channel reads its own lists
    assert [pl["code"] for pl in web_client.api.get("/api/v1/price-lists").json()["results"]] == ["web-usd"]


def test_the_most_specific_valid_list_wins(network, web_client):
    web = Channel.objects.get(code="web")
    now = timezone.now()
    price_list("shared", None, {"SHIRT": "11", "JEANS": "29"})
    price_list("web-old", "web", {"SHIRT": "12"}, valid_from=now - timedelta(days=30))
    price_list("web-new", "web", {"SHIRT": "13"}, valid_from=now - timedelta(days=1))
    price_list("web-future", "web", {"SHIRT": "99"}, valid_from=now + timedelta(days=1))
    price_list(
        "web-ended",
        "web",
        {"JEANS": "1"},
        valid_from=now - timedelta(days=9),
        valid_to=now - timedelta(days=2),
    )
    listed = listed_prices(channel=web, skus=["SHIRT", "JEANS", "CAP"])
    assert {sku: (p.unit_price, p.price_list) for sku, p in listed.items()} == {
        "SHIRT": (Decimal("13.00"), "web-new"),  # the channel's own, latest valid_from
        "JEANS": (Decimal("29.00"), "shared"),  # no valid own entry: the shared list
    }
    later = listed_prices(channel=web, skus=["SHIRT"], at=now + timedelta(days=2))
    assert later["SHIRT"].price_list == "web-future"
    prices = prices_for_channel(channel=web, products=Product.objects.filter(sku__in=["SHIRT", "CAP"]))
    assert prices["CAP"].unit_price == Decimal("5.00")  # not listed: the product's own price


def test_an_order_below_the_listed_price_is_422_price_mismatch(network, web_client, settings):
    price_list("web-usd", "web", {"SHIRT": "12.00"})
    body = ship_body(("SHIRT", 1), ("JEANS", 1))  # 10.00 each; JEANS is not listed
    refused = post_order(web_client, body)
    assert refused.status_code == 422, refused.json()
    error = refused.json()
    assert error["code"] == "price_mismatch"
    assert error["extra"]["lines"] == [
        {"sku": "SHIRT", "sent": "10.00", "listed": "12.00", "minimum": "12.00", "price_list": "web-usd"}
    ]
    assert not Order.objects.exists()
    # at or above the list is fine
    body = ship_body(("SHIRT", 1))
    body["lines"][0]["unit_price"] = "12.50"
    assert post_order(web_client, body).status_code == 201


@pytest.mark.parametrize(
    ("tolerance", "check", "status"), [(20.0, True, 201), (10.0, True, 422), (0.0, False, 201)]
)
def test_the_tolerance_and_the_switch(network, web_client, settings, tolerance, check, status):
    settings.OMS_PRICE_TOLERANCE_PERCENT = tolerance
    settings.OMS_PRICE_CHECK = check
    price_list("web-usd", "web", {"SHIRT": "12.00"})  # 10.00 is 16.7 % below
    assert post_order(web_client, ship_body(("SHIRT", 1))).status_code == status


def test_an_ended_or_inactive_list_does_not_check(network, web_client):
    now = timezone.now()
    price_list(
        "web-ended",
        "web",
        {"SHIRT": "50"},
        valid_from=now - timedelta(days=3),
        valid_to=now - timedelta(days=1),
    )
    price_list("web-off", "web", {"SHIRT": "50"}, active=False)
    assert post_order(web_client, ship_body(("SHIRT", 1))).status_code == 201


def _statements(web_client, lines) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = post_order(web_client, ship_body(*lines))
    assert response.status_code == 201, response.json()
    return len(ctx.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_the_price_check_costs_one_statement_and_none_without_a_list(network, web_client, monkeypatch):
    """The existing pin (tests/orders/test_place.py) holds for a channel without a price list; with
    one, every line's price is read in one more statement, whatever the number of lines."""
    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])
    post_order(web_client, ship_body(("SHIRT", 1)))  # warm up: the customer exists
    without = _statements(web_client, [("SHIRT", 1), ("JEANS", 1)])
    price_list("web-usd", "web", {"SHIRT": "10.00", "JEANS": "10.00", "CAP": "1.00"})
    post_order(web_client, ship_body(("SHIRT", 1)))  # the cache of lists is read again once
    one = _statements(web_client, [("SHIRT", 1)])
    two = _statements(web_client, [("SHIRT", 1), ("JEANS", 1)])
    three = _statements(web_client, [("SHIRT", 1), ("JEANS", 1), ("CAP", 1)])
    assert one == two == three == without + 1
