"""OWASP API Top 10, the authorisation part: object level (BOLA), function level (BFLA) and mass
assignment, for every endpoint family; and per-client throttling (429)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from inventory.models import Location, Product, StockLevel
from oms.api.throttling import ApiClientRateThrottle
from oms.choices import ChannelKind
from oms.models import Channel
from orders.models import Order
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory


@pytest.fixture
def world(db, make_channel_client, manager, make_associate):
    web = make_channel_client("web", ChannelKind.WEB)
    app = make_channel_client("app", ChannelKind.APP)
    warehouse = LocationFactory(code="wh-1")
    mine = StoreFactory(code="st-mine", latitude=Decimal("10.78"), longitude=Decimal("106.70"))
    other = StoreFactory(code="st-other", latitude=Decimal("10.70"), longitude=Decimal("106.60"))
    product = ProductFactory(sku="SKU-1", price=Decimal("10.00"))
    for location in (warehouse, mine, other):
        stock_put(product, location, 20)
    associate = make_associate("ann", mine)
    body = {
        "customer": {"email": "web-buyer@example.com", "name": "Web Buyer"},
        "method": "pickup",
        "pickup_location": "st-mine",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}],
    }
    created = web.api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="w1")
    assert created.status_code == 201
    return {
        "web": web,
        "app": app,
        "manager": manager,
        "associate": associate,
        "order": created.json(),
        "mine": mine,
        "other": other,
        "product": product,
    }


# --- BOLA: another channel's objects are not found --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/orders/{order}"),
        ("post", "/api/v1/orders/{order}/cancel"),
        ("get", "/api/v1/customers/{customer}"),
        ("get", "/api/v1/customers/{customer}/orders"),
    ],
)
def test_a_channel_cannot_reach_another_channels_order_or_customer(world, method, path):
    url = path.format(order=world["order"]["id"], customer=world["order"]["customer"]["id"])
    response = getattr(world["app"].api, method)(url, {}, format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "extra"}
    assert Order.objects.get(pk=world["order"]["id"]).status != "cancelled"


def test_another_channels_lists_stay_empty(world):
    assert world["app"].api.get("/api/v1/orders").json()["results"] == []
    assert (
        world["app"].api.get("/api/v1/customers", {"email": "web-buyer@example.com"}).json()["results"] == []
    )


# --- BFLA: only managers change the network; associates act at their own locations -------------------


NETWORK_CHANGES = [
    ("post", "/api/v1/channels", {"code": "x", "name": "X", "kind": "web", "currency": "USD"}),
    ("post", "/api/v1/locations", {"code": "x", "name": "X", "kind": "store", "latitude": 1, "longitude": 1}),
    ("patch", "/api/v1/locations/st-mine", {"active": False}),
    ("post", "/api/v1/products", {"sku": "X", "name": "X", "price": "1.00", "currency": "USD"}),
    ("post", "/api/v1/inventory/snapshots", {"location": "st-mine", "items": []}),
    ("post", "/api/v1/orders/{order}/holds", {"reason": "manual"}),
    ("post", "/api/v1/orders/{order}/release-hold", {}),
    ("get", "/api/v1/customers/{customer}/export", None),
    ("post", "/api/v1/customers/{customer}/erase", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), NETWORK_CHANGES)
@pytest.mark.parametrize("who", ["associate", "web"])
def test_only_managers_change_the_network(world, who, method, path, body):
    url = path.format(order=world["order"]["id"], customer=world["order"]["customer"]["id"])
    before = (Channel.objects.count(), Location.objects.count(), Product.objects.count())
    response = getattr(world[who].api, method)(url, body or {}, format="json")
    assert response.status_code == 403, (who, url, response.status_code)
    assert (Channel.objects.count(), Location.objects.count(), Product.objects.count()) == before
    assert Location.objects.get(code="st-mine").active


def test_an_associate_adjusts_and_works_only_at_their_own_store(world):
    ann = world["associate"]
    other = ann.api.post(
        "/api/v1/inventory/adjustments",
        {"sku": "SKU-1", "location": "st-other", "delta": 5, "reason": "found"},
        format="json",
    )
    assert other.status_code == 403
    assert StockLevel.objects.get(product=world["product"], location=world["other"]).on_hand == 20
    own = ann.api.post(
        "/api/v1/inventory/adjustments",
        {"sku": "SKU-1", "location": "st-mine", "delta": 1, "reason": "found"},
        format="json",
    )
    assert own.status_code == 201


def test_safety_stock_is_a_manager_change(world):
    row = StockLevel.objects.get(product=world["product"], location=world["mine"])
    response = world["associate"].api.patch(f"/api/v1/inventory/{row.pk}", {"safety_stock": 5}, format="json")
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.safety_stock == 0


# --- Mass assignment: fields a client must not set are ignored -------------------------------------


def test_an_order_body_cannot_set_status_totals_reservations_or_prices_of_lines(world):
    body = {
        "customer": {"email": "sneaky@example.com"},
        "method": "ship",
        "shipping_address": {"line1": "1", "city": "HCMC", "country": "VN"},
        "lines": [
            {
                "sku": "SKU-1",
                "quantity": 1,
                "unit_price": "10.00",
                "line_total": "0.01",
                "quantity_fulfilled": 1,
            }
        ],
        "status": "completed",
        "total": "0.01",
        "subtotal": "0.01",
        "number": "WEB-HACKED",
        "reservations": [{"sku": "SKU-1", "location": "st-other", "quantity": 99}],
        "channel": "app",
    }
    response = world["web"].api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="mass")
    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status in ("received", "allocated")
    assert order.total == Decimal("10.00")
    assert order.number != "WEB-HACKED"
    assert order.channel.code == "web"  # a channel client's orders are always its own channel's
    line = order.lines.get()
    assert (line.line_total, line.quantity_fulfilled) == (Decimal("10.00"), 0)
    assert sum(r.quantity for r in order.reservations.all()) == 1


def test_a_stock_row_patch_cannot_set_counters(world, manager):
    row = StockLevel.objects.get(product=world["product"], location=world["mine"])
    before = (row.on_hand, row.reserved)
    response = manager.api.patch(
        f"/api/v1/inventory/{row.pk}", {"safety_stock": 2, "on_hand": 999, "reserved": 0}, format="json"
    )
    assert response.status_code in (200, 400, 422)
    row.refresh_from_db()
    assert (row.on_hand, row.reserved) == before


# --- Throttling per API client ---------------------------------------------------------------------


def test_a_client_over_its_rate_gets_429_in_house_format(world, monkeypatch):
    cache.clear()
    monkeypatch.setattr(ApiClientRateThrottle, "THROTTLE_RATES", {"api_client": "3/minute"})
    statuses = [world["web"].api.get("/api/v1/orders").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    response = world["web"].api.get("/api/v1/orders")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    # another client has its own budget
    assert world["app"].api.get("/api/v1/orders").status_code == 200
    cache.clear()
