"""Fixtures for order tests: a small network (a warehouse and two stores) with stock, and helpers."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from inventory.models import Location, Product
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

_keys = itertools.count(1)


def new_key() -> str:
    return f"key-{next(_keys)}"


def ship_body(*lines: tuple[str, int], **extra) -> dict:
    body = {
        "customer": {"email": "Ann@Example.com", "name": "Ann", "phone": "+84 90 123 4567"},
        "currency": "USD",
        "method": "ship",
        "shipping_address": {
            "name": "Ann",
            "line1": "1 Le Loi",
            "city": "Ho Chi Minh City",
            "country": "VN",
            "latitude": 10.7769,
            "longitude": 106.7009,
        },
        "lines": [{"sku": sku, "quantity": q, "unit_price": "10.00"} for sku, q in lines],
    }
    body.update(extra)
    return body


def pickup_body(store_code: str, *lines: tuple[str, int], **extra) -> dict:
    body = {
        "customer": {"email": "bob@example.com", "name": "Bob"},
        "currency": "USD",
        "method": "pickup",
        "pickup_location": store_code,
        "lines": [{"sku": sku, "quantity": q, "unit_price": "10.00"} for sku, q in lines],
    }
    body.update(extra)
    return body


def post_order(authed, body: dict, key: str | None = "auto"):
    headers = {}
    if key == "auto":
        key = new_key()
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return authed.api.post("/api/v1/orders", body, format="json", **headers)


class Network:
    def __init__(self) -> None:
        self.warehouse: Location = LocationFactory(
            code="wh-hcm", latitude=Decimal("10.800000"), longitude=Decimal("106.650000"), priority=1
        )
        self.store: Location = StoreFactory(
            code="st-district1", latitude=Decimal("10.776000"), longitude=Decimal("106.700000")
        )
        self.far_store: Location = StoreFactory(
            code="st-hanoi", latitude=Decimal("21.028500"), longitude=Decimal("105.854000")
        )
        self.shirt: Product = ProductFactory(sku="SHIRT", price=Decimal("10.00"))
        self.jeans: Product = ProductFactory(sku="JEANS", price=Decimal("30.00"))
        self.cap: Product = ProductFactory(sku="CAP", price=Decimal("5.00"))


@pytest.fixture
def network(db) -> Network:
    net = Network()
    stock_put(net.shirt, net.warehouse, 20)
    stock_put(net.jeans, net.warehouse, 5)
    stock_put(net.shirt, net.store, 3)
    stock_put(net.cap, net.far_store, 4)
    return net
