"""Every bad body is a 4xx in the house format and holds nothing."""

from __future__ import annotations

import copy

import pytest

from inventory.models import StockLevel, StockMovement
from orders.models import Order

from .conftest import pickup_body, post_order, ship_body


def _with(body: dict, path: str, value) -> dict:
    body = copy.deepcopy(body)
    target = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        target.pop(last)
    else:
        target[int(last) if last.isdigit() else last] = value
    return body


_DELETE = object()
BASE = ship_body(("SHIRT", 1))

BAD_BODIES = {
    "empty lines": (_with(BASE, "lines", []), 422),
    "no lines": (_with(BASE, "lines", _DELETE), 422),
    "lines not a list": (_with(BASE, "lines", "SHIRT"), 422),
    "quantity 0": (_with(BASE, "lines.0.quantity", 0), 422),
    "quantity negative": (_with(BASE, "lines.0.quantity", -3), 422),
    "quantity not an integer": (_with(BASE, "lines.0.quantity", 1.5), 422),
    "quantity a word": (_with(BASE, "lines.0.quantity", "two"), 422),
    "quantity absurdly large": (_with(BASE, "lines.0.quantity", 10**30), 422),
    "unknown SKU": (_with(BASE, "lines.0.sku", "NOPE"), 422),
    "negative price": (_with(BASE, "lines.0.unit_price", "-1.00"), 422),
    "price not a number": (_with(BASE, "lines.0.unit_price", "cheap"), 422),
    "price absurdly large": (_with(BASE, "lines.0.unit_price", "1e40"), 422),
    "negative tax": (_with(BASE, "lines.0.tax", "-0.01"), 422),
    "unknown method": (_with(BASE, "method", "teleport"), 422),
    "pickup without store": (pickup_body("", ("SHIRT", 1)), 422),
    "pickup at unknown store": (pickup_body("st-nowhere", ("SHIRT", 1)), 422),
    "ship without address": (_with(BASE, "shipping_address", _DELETE), 422),
    "address without city": (_with(BASE, "shipping_address.city", _DELETE), 422),
    "latitude out of range": (_with(BASE, "shipping_address.latitude", 123.0), 422),
    "latitude without longitude": (_with(BASE, "shipping_address.longitude", None), 422),
    "unknown currency": (_with(BASE, "currency", "XYZ"), 422),
    "other currency than the channel's": (_with(BASE, "currency", "EUR"), 422),
    "malformed e-mail": (_with(BASE, "customer.email", "not-an-email"), 422),
    "customer not an object": (_with(BASE, "customer", "ann"), 422),
    "body is a list": ([BASE], 422),
    "negative shipping": (_with(BASE, "shipping_total", "-5"), 422),
    "allow_backorder not a boolean": (_with(BASE, "allow_backorder", "perhaps"), 422),
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_body_is_4xx_in_house_format_and_holds_nothing(name, network, web_client):
    body, status = BAD_BODIES[name]
    response = post_order(web_client, body)
    assert response.status_code == status, (name, response.status_code, response.content[:300])
    error = response.json()
    assert set(error) == {"code", "message", "extra"}
    assert error["code"]
    assert error["message"]
    assert not Order.objects.exists()
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 0
    assert not StockMovement.objects.filter(kind="reservation").exists()


def test_malformed_json_is_400(network, web_client):
    response = web_client.api.post(
        "/api/v1/orders", data="{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="m"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert not Order.objects.exists()


def test_unauthenticated_is_401(network, anon):
    response = anon.post("/api/v1/orders", BASE, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_body_over_the_size_limit_is_413_in_house_format(network, web_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = ship_body(("SHIRT", 1))
    body["customer"]["name"] = "x" * 20_000
    response = post_order(web_client, body)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Order.objects.exists()


def test_deeply_nested_json_is_400_not_500(network, web_client):
    deep = "[" * 100_000 + "]" * 100_000
    response = web_client.api.post(
        "/api/v1/orders", data=deep, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
