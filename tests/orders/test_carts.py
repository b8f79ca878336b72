"""The cross-channel cart over HTTP: opened on the web, read, changed and checked out on the app,
priced by each channel's price list; who may see it; holds and their expiry; checkout's
idempotency and its second time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import StockLevel, StockMovement
from oms.choices import ChannelKind
from orders.choices import CartHoldStatus
from orders.models import Cart, CartHold, Order
from orders.services import cart_holds_expire
from tests.factories import ChannelFactory

from .conftest import new_key, ship_body

ADDRESS = ship_body()["shipping_address"]


@pytest.fixture
def channels(network, make_channel_client, manager):
    """The web sells in VND, the app in USD, each with its own price list."""
    ChannelFactory(code="web", kind=ChannelKind.WEB, currency="VND")
    ChannelFactory(code="app", kind=ChannelKind.WEB, currency="USD")
    web, app = make_channel_client("web"), make_channel_client("app")
    for body in (
        {
            "code": "web-vnd",
            "channel": "web",
            "currency": "VND",
            "entries": [{"sku": "SHIRT", "unit_price": "199000"}, {"sku": "JEANS", "unit_price": "499000"}],
        },
        {
            "code": "app-usd",
            "channel": "app",
            "currency": "USD",
            "entries": [{"sku": "SHIRT", "unit_price": "8.50"}, {"sku": "JEANS", "unit_price": "25.00"}],
        },
    ):
        response = manager.api.post("/api/v1/price-lists", body, format="json")
        assert response.status_code == 201, response.json()
    return web, app


def checkout(client, cart_id: int, key: str | None = None, **body):
    body = {"method": "ship", "shipping_address": ADDRESS, **body}
    return client.api.post(
        f"/api/v1/carts/{cart_id}/checkout", body, format="json", HTTP_IDEMPOTENCY_KEY=key or new_key()
    )


def test_continuity_web_opens_the_app_reads_edits_and_checks_out(channels, network, manager):
    web, app = channels
    opened = web.api.post(
        "/api/v1/carts",
        {"customer": {"email": "Ann@Example.com", "name": "Ann"}, "lines": [{"sku": "SHIRT", "quantity": 2}]},
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    cart = opened.json()
    assert (cart["currency"], cart["priced_for"], cart["channel"]) == ("VND", "web", "web")
    assert [(li["sku"], li["quantity"], li["unit_price"]) for li in cart["lines"]] == [
        ("SHIRT", 2, "199000.00")
    ]
    assert cart["subtotal"] == "398000.00"
    assert cart["token"]

    # the app does not know Ann yet: not its cart
    assert app.api.get(f"/api/v1/carts/{cart['id']}").status_code == 403
    # Ann signs in on the app: her cart from the web, priced for the app
    resumed = app.api.post("/api/v1/carts", {"customer": {"email": "ann@example.com"}}, format="json")
    assert resumed.status_code == 200, resumed.json()
    assert resumed.json()["id"] == cart["id"]
    read = app.api.get(f"/api/v1/carts/{cart['id']}")
    assert read.status_code == 200
    assert (read.json()["currency"], read.json()["lines"][0]["unit_price"]) == ("USD", "8.50")

    edited = app.api.patch(
        f"/api/v1/carts/{cart['id']}",
        {"lines": [{"sku": "SHIRT", "quantity": 3}, {"sku": "JEANS", "quantity": 1}]},
        format="json",
    )
    assert edited.status_code == 200, edited.json()
    assert {li["sku"]: li["unit_price"] for li in edited.json()["lines"]} == {
        "SHIRT": "8.50",
        "JEANS": "25.00",
    }
    assert edited.json()["subtotal"] == "50.50"

    placed = checkout(app, cart["id"])
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    assert order["cart"] == cart["id"]
    assert (order["channel"], order["currency"], order["total"]) == ("app", "USD", "50.50")
    assert {(li["sku"], li["quantity"], li["unit_price"]) for li in order["lines"]} == {
        ("SHIRT", 3, "8.50"),
        ("JEANS", 1, "25.00"),
    }
    assert sum(r["quantity"] for r in order["reservations"]) == 4

    after = app.api.get(f"/api/v1/carts/{cart['id']}").json()
    assert (after["status"], after["order"], after["order_number"]) == (
        "checked_out",
        order["id"],
        order["number"],
    )
    timeline = [(event["kind"], event["channel"]) for event in after["events"]]
    assert ("created", "web") in timeline
    assert ("line_added", "web") in timeline
    assert ("resumed", "app") in timeline
    assert ("line_changed", "app") in timeline
    assert ("line_added", "app") in timeline
    assert timeline[-1] == ("checked_out", "app")
    assert {channel for _kind, channel in timeline} == {"web", "app"}

    # the order is in Ann's unified history, seen from the app and from staff
    customer_id = after["customer"]["id"]
    history = app.api.get(f"/api/v1/customers/{customer_id}/orders").json()["results"]
    assert [o["id"] for o in history] == [order["id"]]
    assert manager.api.get(f"/api/v1/customers/{customer_id}/orders").json()["results"][0]["channel"] == "app"


def test_a_second_checkout_is_409_and_a_repeat_answers_the_first(channels, network):
    web, _app = channels
    cart = web.api.post("/api/v1/carts", {"lines": [{"sku": "SHIRT", "quantity": 1}]}, format="json").json()
    key = new_key()
    first = checkout(web, cart["id"], key)
    assert first.status_code == 201, first.json()
    again = checkout(web, cart["id"], key)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    second = checkout(web, cart["id"])
    assert second.status_code == 409
    assert second.json()["code"] == "cart_checked_out"
    assert second.json()["extra"]["order"] == first.json()["id"]
    assert Order.objects.count() == 1
    edit = web.api.patch(
        f"/api/v1/carts/{cart['id']}", {"lines": [{"sku": "SHIRT", "quantity": 2}]}, format="json"
    )
    assert edit.status_code == 409


def test_an_anonymous_cart_is_attached_to_a_customer_and_seen_with_its_token(
    channels, network, make_channel_client
):
    web, app = channels
    cart = web.api.post("/api/v1/carts", {"lines": [{"sku": "JEANS", "quantity": 1}]}, format="json").json()
    assert cart["customer"] is None
    # another channel with the token may see and change it
    assert app.api.get(f"/api/v1/carts/{cart['id']}").status_code == 403
    assert app.api.get(f"/api/v1/carts/{cart['id']}?token={cart['token']}").status_code == 200
    attached = web.api.patch(
        f"/api/v1/carts/{cart['id']}", {"customer": {"email": "bob@example.com"}}, format="json"
    )
    assert attached.status_code == 200, attached.json()
    assert attached.json()["customer"]["email"] == "bob@example.com"
    assert attached.json()["events"][-1]["kind"] == "attached"
    # Bob's cart is found by his e-mail on the web
    found = web.api.get("/api/v1/carts?customer_email=BOB@example.com").json()["results"]
    assert [c["id"] for c in found] == [cart["id"]]
    # a channel that never saw it sees nothing
    pos = make_channel_client("pos", ChannelKind.POS)
    assert pos.api.get("/api/v1/carts").json()["results"] == []


def test_errors_unknown_cart_bad_lines_and_unpriced_skus(channels, network, make_channel_client):
    web, _app = channels
    assert web.api.get("/api/v1/carts/999999").status_code == 404
    assert web.api.get("/api/v1/carts/999999").json()["code"] == "cart_not_found"
    unknown = web.api.post("/api/v1/carts", {"lines": [{"sku": "NOPE", "quantity": 1}]}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_sku")
    zero = web.api.post("/api/v1/carts", {"lines": [{"sku": "SHIRT", "quantity": 0}]}, format="json")
    assert zero.status_code == 422
    # CAP has no VND price on the web's list and costs USD: no price for the web
    cap = web.api.post("/api/v1/carts", {"lines": [{"sku": "CAP", "quantity": 1}]}, format="json")
    assert (cap.status_code, cap.json()["code"]) == (422, "price_unavailable")
    assert not Cart.objects.exists()  # nothing half-written
    # a USD channel without a list: the product's own price
    usd = make_channel_client("kiosk", ChannelKind.POS)
    cart = usd.api.post("/api/v1/carts", {"lines": [{"sku": "CAP", "quantity": 2}]}, format="json")
    assert cart.status_code == 201, cart.json()
    assert cart.json()["lines"][0]["unit_price"] == "5.00"


def test_a_reserve_in_store_hold_holds_units_and_checkout_converts_them(channels, network, make_associate):
    web, _app = channels
    associate = make_associate("clerk", network.store)
    opened = web.api.post(
        "/api/v1/carts",
        {"customer": {"email": "cy@example.com"}, "lines": [{"sku": "SHIRT", "quantity": 3}]},
        format="json",
    ).json()
    held = associate.api.post(
        f"/api/v1/carts/{opened['id']}/hold", {"minutes": 45, "location": "st-district1"}, format="json"
    )
    assert held.status_code == 200, held.json()
    assert held.json()["hold_location"] == "st-district1"
    assert held.json()["held"] == [{"sku": "SHIRT", "location": "st-district1", "quantity": 3}]
    level = StockLevel.objects.get(product=network.shirt, location=network.store)
    assert (level.on_hand, level.reserved) == (3, 3)  # held units are reserved units
    # nobody else can take them
    other = web.api.post(
        "/api/v1/orders",
        {
            "customer": {"email": "dan@example.com"},
            "currency": "VND",
            "method": "pickup",
            "pickup_location": "st-district1",
            "lines": [{"sku": "SHIRT", "quantity": 1, "unit_price": "199000"}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )
    assert (other.status_code, other.json()["code"]) == (409, "insufficient_stock")
    placed = checkout(
        web, opened["id"], method="pickup", pickup_location="st-district1", shipping_address=None
    )
    assert placed.status_code == 201, placed.json()
    assert placed.json()["reservations"] == [
        {**placed.json()["reservations"][0], "sku": "SHIRT", "location": "st-district1", "quantity": 3}
    ]
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 3)  # the order's reservation now, not two
    assert set(CartHold.objects.values_list("status", flat=True)) == {CartHoldStatus.CONVERTED}
    kinds = [e["kind"] for e in web.api.get(f"/api/v1/carts/{opened['id']}").json()["events"]]
    assert "hold_placed" in kinds
    assert kinds[-1] == "checked_out"


def test_a_hold_that_cannot_be_met_is_409_and_holds_nothing(channels, network):
    web, _app = channels
    response = web.api.post(
        "/api/v1/carts",
        {"lines": [{"sku": "SHIRT", "quantity": 4}], "hold_minutes": 10, "hold_location": "st-district1"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_stock")
    assert not Cart.objects.exists()
    assert StockLevel.objects.get(product=network.shirt, location=network.store).reserved == 0


def test_expired_holds_are_released_by_the_service_beat_runs(channels, network):
    web, _app = channels
    cart = web.api.post(
        "/api/v1/carts", {"lines": [{"sku": "JEANS", "quantity": 2}], "hold_minutes": 15}, format="json"
    ).json()
    assert cart["hold_expires_at"] is not None
    assert StockLevel.objects.get(product=network.jeans, location=network.warehouse).reserved == 2
    assert cart_holds_expire() == 0  # not yet
    assert cart_holds_expire(now=timezone.now() + timedelta(minutes=16)) == 1
    assert StockLevel.objects.get(product=network.jeans, location=network.warehouse).reserved == 0
    after = web.api.get(f"/api/v1/carts/{cart['id']}").json()
    assert (after["hold_expires_at"], after["held"]) == (None, [])
    assert after["events"][-1]["kind"] == "hold_released"
    assert after["events"][-1]["data"]["reason"] == "expired"
    ledger = StockMovement.objects.filter(reference=f"cart:{cart['id']}").values_list(
        "reserved_delta", flat=True
    )
    assert sorted(ledger) == [-2, 2]
    # the cart itself stays open: checked out later without a hold
    assert checkout(web, cart["id"]).status_code == 201


def test_staff_see_every_cart_and_check_out_for_a_channel_or_the_carts(channels, network, manager):
    web, _app = channels
    cart = web.api.post("/api/v1/carts", {"lines": [{"sku": "SHIRT", "quantity": 1}]}, format="json").json()
    assert manager.api.get(f"/api/v1/carts/{cart['id']}").status_code == 200
    placed = checkout(manager, cart["id"], channel="app")
    assert placed.status_code == 201, placed.json()
    assert placed.json()["lines"][0]["unit_price"] == "8.50"
    assert Decimal(placed.json()["total"]) == Decimal("8.50")


def test_kpis_report_each_channels_sales_in_its_own_currency(channels, network, manager):
    web, app = channels
    for client, quantity in ((web, 2), (app, 1)):
        cart = client.api.post(
            "/api/v1/carts", {"lines": [{"sku": "SHIRT", "quantity": quantity}]}, format="json"
        ).json()
        assert checkout(client, cart["id"]).status_code == 201
    today = timezone.localdate().isoformat()
    response = manager.api.get(f"/api/v1/kpis?from={today}&to={today}")
    assert response.status_code == 200, response.json()
    assert response.json()["kpis"]["sales_by_channel"] == {
        "app": {"currency": "USD", "orders": 1, "sales": "8.50", "average_order": "8.50"},
        "web": {"currency": "VND", "orders": 1, "sales": "398000.00", "average_order": "398000.00"},
    }


def test_a_wrong_or_odd_token_is_403_never_500(channels, network):
    web, app = channels
    cart = web.api.post("/api/v1/carts", {"lines": [{"sku": "SHIRT", "quantity": 1}]}, format="json").json()
    for token in ("nope", "é" * 10):
        assert app.api.get(f"/api/v1/carts/{cart['id']}", {"token": token}).status_code == 403
    assert app.api.get(f"/api/v1/carts/{cart['id']}", {"token": "x" * 500}).status_code == 422
    assert app.api.get(f"/api/v1/carts/{cart['id']}", {"token": "\x00"}).status_code in (400, 422)
    assert app.api.get(f"/api/v1/carts/{cart['id']}", HTTP_CART_TOKEN=cart["token"]).status_code == 200
    assert app.api.get("/api/v1/carts", {"token": "\x00"}).status_code in (400, 422)


def test_staff_without_a_channel_check_out_on_the_channel_the_cart_is_priced_for(channels, network, manager):
    web, _app = channels
    cart = web.api.post("/api/v1/carts", {"lines": [{"sku": "JEANS", "quantity": 1}]}, format="json").json()
    placed = checkout(manager, cart["id"])
    assert placed.status_code == 201, placed.json()
    assert (placed.json()["channel"], placed.json()["currency"], placed.json()["total"]) == (
        "web",
        "VND",
        "499000.00",
    )


def test_an_empty_cart_cannot_be_held_or_checked_out_and_a_numeric_language_is_refused(channels, network):
    web, _app = channels
    cart = web.api.post("/api/v1/carts", {}, format="json").json()
    held = web.api.post(f"/api/v1/carts/{cart['id']}/hold", {"minutes": 5}, format="json")
    assert (held.status_code, held.json()["code"]) == (409, "empty_cart")
    assert (checkout(web, cart["id"]).status_code, checkout(web, cart["id"]).json()["code"]) == (
        409,
        "empty_cart",
    )
    odd = web.api.post(
        "/api/v1/carts", {"customer": {"email": "a@example.com", "language": 0}}, format="json"
    )
    assert odd.status_code in (400, 422), odd.json()  # refused, not turned into "0"
