"""Every bad body on the returns endpoints is a 4xx in the house format and changes nothing."""

from __future__ import annotations

import copy

import pytest

from inventory.models import StockLevel, StockMovement
from orders.models import Order, OrderEvent, Reservation
from returns.models import Receipt, Refund, Return, ReturnLine

from .conftest import line_of, return_body

pytestmark = pytest.mark.django_db

_DELETE = object()


def _with(body: dict, path: str, value) -> dict:  # type: ignore[no-untyped-def]
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


def snapshot() -> tuple:
    return (
        Return.objects.count(),
        ReturnLine.objects.count(),
        Receipt.objects.count(),
        Refund.objects.count(),
        Order.objects.count(),
        OrderEvent.objects.count(),
        StockMovement.objects.count(),
        Reservation.objects.count(),
        tuple(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
        tuple(Return.objects.order_by("pk").values_list("status", flat=True)),
    )


def assert_house_error(response, status: int, name: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (name, response.status_code, response.content[:300])
    error = response.json()
    assert set(error) == {"code", "message", "extra"}, name
    assert error["code"]
    assert error["message"]


def create_bad_bodies(net, order) -> dict[str, tuple[object, int]]:  # type: ignore[no-untyped-def]
    base = return_body(order, net.store, ("SHIRT", 1))
    exchange = {"sku": "SHIRT", "quantity": 1, "unit_price": "10.00"}
    return {
        "no order": (_with(base, "order", _DELETE), 422),
        "unknown order": (_with(base, "order", 999999), 404),
        "order an object": (_with(base, "order", {"id": order.pk}), 422),
        "no method": (_with(base, "method", _DELETE), 422),
        "unknown method": (_with(base, "method", "pigeon"), 422),
        "no location": (_with(base, "location", _DELETE), 422),
        "unknown location": (_with(base, "location", "nowhere"), 422),
        "location refusing returns": (_with(base, "location", net.no_returns.code), 422),
        "in store at a warehouse": (_with(base, "location", net.warehouse.code), 422),
        "no lines": (_with(base, "lines", _DELETE), 422),
        "empty lines": (_with(base, "lines", []), 422),
        "lines not a list": (_with(base, "lines", "SHIRT"), 422),
        "line not an object": (_with(base, "lines", [7]), 422),
        "quantity 0": (_with(base, "lines.0.quantity", 0), 422),
        "quantity negative": (_with(base, "lines.0.quantity", -1), 422),
        "quantity a fraction": (_with(base, "lines.0.quantity", 1.5), 422),
        "quantity a word": (_with(base, "lines.0.quantity", "one"), 422),
        "quantity absurd": (_with(base, "lines.0.quantity", 10**30), 422),
        "more than bought": (_with(base, "lines.0.quantity", 3), 409),
        "unknown reason": (_with(base, "lines.0.reason", "bored"), 422),
        "no reason": (_with(base, "lines.0.reason", _DELETE), 422),
        "order line of nothing": (_with(base, "lines.0.order_line", 999999), 422),
        "order line a word": (_with(base, "lines.0.order_line", "first"), 422),
        "same line twice": (
            _with(base, "lines", [base["lines"][0], base["lines"][0]]),  # type: ignore[index]
            422,
        ),
        "override not a boolean": (_with(base, "override_window", "yes"), 422),
        "override by a channel": (_with(base, "override_window", True), 403),
        "exchange unknown sku": (_with(base, "exchange_lines", [{**exchange, "sku": "NOPE"}]), 422),
        "exchange negative price": (_with(base, "exchange_lines", [{**exchange, "unit_price": "-1"}]), 422),
        "exchange price a word": (_with(base, "exchange_lines", [{**exchange, "unit_price": "cheap"}]), 422),
        "exchange quantity 0": (_with(base, "exchange_lines", [{**exchange, "quantity": 0}]), 422),
        "exchange not a list": (_with(base, "exchange_lines", {"sku": "SHIRT"}), 422),
        "exchange out of stock": (_with(base, "exchange_lines", [{**exchange, "quantity": 999}]), 409),
        "body a list": ([base], 422),
        "body a string": ("return it", 422),
    }


def test_every_bad_create_body_is_4xx_and_writes_nothing(net, shipped, pos_client):
    before = snapshot()
    for name, (body, status) in create_bad_bodies(net, shipped).items():
        response = pos_client.api.post("/api/v1/returns", body, format="json")
        assert_house_error(response, status, name)
        assert snapshot() == before, name


def test_malformed_json_is_400(net, shipped, pos_client):
    response = pos_client.api.post("/api/v1/returns", data="{nope", content_type="application/json")
    assert_house_error(response, 400, "malformed")
    assert not Return.objects.exists()


def test_anonymous_is_401(anon, net, shipped):
    response = anon.post("/api/v1/returns", return_body(shipped, net.store, ("SHIRT", 1)), format="json")
    assert_house_error(response, 401, "anonymous")


@pytest.fixture
def pos_client(make_channel_client):  # type: ignore[no-untyped-def]
    from oms.choices import ChannelKind

    return make_channel_client("pos", ChannelKind.POS)


@pytest.fixture
def open_rma(net, shipped, manager) -> dict:
    response = manager.api.post(
        "/api/v1/returns", return_body(shipped, net.store, ("SHIRT", 2)), format="json"
    )
    assert response.status_code == 201
    return response.json()


def test_every_bad_receive_or_refund_body_is_4xx_and_changes_nothing(net, shipped, manager, open_rma):
    line_id = open_rma["lines"][0]["id"]
    good = {"return_line": line_id, "quantity": 1, "disposition": "restock"}
    other_line = line_of(shipped, "JEANS").pk
    receive_bodies = {
        "no lines": ({}, 422),
        "empty lines": ({"lines": []}, 422),
        "lines an object": ({"lines": good}, 422),
        "unknown disposition": ({"lines": [{**good, "disposition": "lost"}]}, 422),
        "no disposition": ({"lines": [{k: v for k, v in good.items() if k != "disposition"}]}, 422),
        "quantity 0": ({"lines": [{**good, "quantity": 0}]}, 422),
        "quantity negative": ({"lines": [{**good, "quantity": -2}]}, 422),
        "quantity a word": ({"lines": [{**good, "quantity": "two"}]}, 422),
        "more than expected": ({"lines": [{**good, "quantity": 3}]}, 409),
        "more than expected in two entries": ({"lines": [{**good, "quantity": 2}, good]}, 409),
        "line of no return": ({"lines": [{**good, "return_line": 999999}]}, 422),
        "an order line id": ({"lines": [{**good, "return_line": other_line}]}, 422),
        "body a list": ([good], 422),
    }
    refund_bodies = {
        "no amount": ({"method": "cash"}, 422),
        "zero": ({"amount": "0"}, 422),
        "negative": ({"amount": "-5.00"}, 422),
        "three decimals": ({"amount": "1.005"}, 422),
        "a word": ({"amount": "lots"}, 422),
        "not a number": ({"amount": "NaN"}, 422),
        "infinite": ({"amount": "Infinity"}, 422),
        "absurd": ({"amount": "1e40"}, 422),
        "unknown method": ({"amount": "1.00", "method": "bitcoin"}, 422),
        "more than paid": ({"amount": "50.01"}, 409),
        "body a list": ([{"amount": "1.00"}], 422),
    }
    before = snapshot()
    staff_body = return_body(shipped, net.store, ("JEANS", 1), channel="nope")
    response = manager.api.post("/api/v1/returns", staff_body, format="json")
    assert_house_error(response, 422, "unknown channel")
    assert snapshot() == before
    for name, (body, status) in receive_bodies.items():
        response = manager.api.post(f"/api/v1/returns/{open_rma['id']}/receive", body, format="json")
        assert_house_error(response, status, f"receive: {name}")
        assert snapshot() == before, name
    for name, (body, status) in refund_bodies.items():
        response = manager.api.post(f"/api/v1/returns/{open_rma['id']}/refund", body, format="json")
        assert_house_error(response, status, f"refund: {name}")
        assert snapshot() == before, name
    valid = {"receive": {"lines": [good]}, "refund": {"amount": "1.00"}, "cancel": {}, "close": {}}
    for path, body in valid.items():
        response = manager.api.post(f"/api/v1/returns/999999/{path}", body, format="json")
        assert_house_error(response, 404, f"{path} of no return")
    assert snapshot() == before
