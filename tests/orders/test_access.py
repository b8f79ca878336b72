"""Least privilege on reads: a channel sees its own orders and customers, an in-person channel
(pos, call_center) may look up any single order, staff see everything; filters and pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from oms.choices import ChannelKind
from oms.models import Customer
from orders.models import Order

from .conftest import post_order, ship_body


def place(authed, *lines: tuple[str, int], email: str = "ann@example.com", **extra) -> dict:
    body = ship_body(*lines, **extra)
    body["customer"] = {"email": email, "name": email.split("@")[0].title()}
    response = post_order(authed, body)
    assert response.status_code == 201, response.json()
    return response.json()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [order["id"] for order in response.json()["results"]]


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"].endswith("not_found")


@pytest.fixture
def clients(network, make_channel_client) -> dict:
    return {
        "web": make_channel_client("web", ChannelKind.WEB),
        "app": make_channel_client("app", ChannelKind.APP),
        "pos": make_channel_client("pos", ChannelKind.POS),
        "call": make_channel_client("call-centre", ChannelKind.CALL_CENTER),
    }


@pytest.fixture
def orders(clients) -> dict:
    """One order on web and app for Ann, one on pos for Ann, one on app for Bob."""
    return {
        "web": place(clients["web"], ("SHIRT", 1)),
        "app": place(clients["app"], ("SHIRT", 1)),
        "pos": place(clients["pos"], ("SHIRT", 1)),
        "bob": place(clients["app"], ("JEANS", 1), email="bob@example.com"),
    }


# --- Orders: who sees what ------------------------------------------------------------------------


def test_another_channel_gets_404_for_the_order(clients, orders):
    web_order = orders["web"]
    app = clients["app"]
    assert_not_found(app.api.get(f"/api/v1/orders/{web_order['id']}"))
    assert_not_found(app.api.get(f"/api/v1/orders/{web_order['number']}"))
    assert_not_found(app.api.post(f"/api/v1/orders/{web_order['id']}/cancel", {}, format="json"))
    assert Order.objects.get(pk=web_order["id"]).status == "received"
    assert clients["web"].api.get(f"/api/v1/orders/{web_order['id']}").status_code == 200


def test_a_channel_lists_only_its_own_orders(clients, orders):
    assert ids(clients["web"].api.get("/api/v1/orders")) == [orders["web"]["id"]]
    assert ids(clients["app"].api.get("/api/v1/orders")) == [orders["bob"]["id"], orders["app"]["id"]]


def test_a_channel_cannot_widen_its_list_with_filters(clients, orders):
    web = clients["web"]
    assert ids(web.api.get("/api/v1/orders", {"channel": "app"})) == []
    assert ids(web.api.get("/api/v1/orders", {"number": orders["app"]["number"]})) == []
    assert ids(web.api.get("/api/v1/orders", {"customer_email": "bob@example.com"})) == []


@pytest.mark.parametrize("who", ["pos", "call"])
def test_an_in_person_channel_looks_up_any_order_but_lists_its_own(clients, orders, who):
    client = clients[who]
    web_order = orders["web"]
    detail = client.api.get(f"/api/v1/orders/{web_order['id']}")
    assert detail.status_code == 200, detail.json()
    assert detail.json()["channel"] == "web"
    assert client.api.get(f"/api/v1/orders/{web_order['number']}").json()["id"] == web_order["id"]
    assert ids(client.api.get("/api/v1/orders", {"number": web_order["number"]})) == [web_order["id"]]
    own = [orders["pos"]["id"]] if who == "pos" else []
    assert ids(client.api.get("/api/v1/orders")) == own


@pytest.mark.parametrize("number", [" ", "\t", "  \n "])
def test_a_blank_number_does_not_widen_an_in_person_list(clients, orders, number):
    pos = clients["pos"]
    assert ids(pos.api.get("/api/v1/orders", {"number": number})) == [orders["pos"]["id"]]


def test_staff_see_every_order(network, clients, orders, manager, make_associate):
    associate = make_associate("alice", network.store)
    everything = sorted(order["id"] for order in orders.values())
    for staff in (manager, associate):
        assert sorted(ids(staff.api.get("/api/v1/orders"))) == everything
        detail = staff.api.get(f"/api/v1/orders/{orders['web']['id']}")
        assert detail.status_code == 200
        assert [event["kind"] for event in detail.json()["events"]] == ["placed", "sourced"]


def test_anonymous_and_bad_keys_are_401(network, anon):
    assert anon.get("/api/v1/orders").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_not-a-key")
    response = anon.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


# --- Filters and pagination -----------------------------------------------------------------------------


def test_filters_status_channel_customer_email(clients, orders, manager):
    api = manager.api
    cancelled = orders["app"]["id"]
    assert clients["app"].api.post(f"/api/v1/orders/{cancelled}/cancel", {}, format="json").status_code == 200
    assert ids(api.get("/api/v1/orders", {"status": "cancelled"})) == [cancelled]
    assert sorted(ids(api.get("/api/v1/orders", {"status": ["cancelled", "received"]}))) == sorted(
        order["id"] for order in orders.values()
    )
    assert ids(api.get("/api/v1/orders", {"channel": "pos"})) == [orders["pos"]["id"]]
    assert ids(api.get("/api/v1/orders", {"channel": "nowhere"})) == []
    assert ids(api.get("/api/v1/orders", {"customer_email": " BOB@Example.com "})) == [orders["bob"]["id"]]
    anns = ids(api.get("/api/v1/orders", {"customer_email": "ann@example.com"}))
    assert sorted(anns) == sorted([orders["web"]["id"], orders["app"]["id"], orders["pos"]["id"]])
    both = ids(api.get("/api/v1/orders", {"channel": "app", "customer_email": "ann@example.com"}))
    assert both == [orders["app"]["id"]]


def test_filter_created_after(clients, orders, manager):
    old = orders["web"]["id"]
    Order.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = ids(manager.api.get("/api/v1/orders", {"created_after": since}))
    assert old not in recent
    assert len(recent) == 3
    long_ago = (timezone.now() - timedelta(days=30)).isoformat()
    assert old in ids(manager.api.get("/api/v1/orders", {"created_after": long_ago}))
    assert ids(manager.api.get("/api/v1/orders", {"created_after": "2999-01-01T00:00:00Z"})) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created_after", "yesterday"),
        ("created_after", "2024-13-45T99:00:00Z"),
        ("created_after", "99999-01-01"),
        ("created_before", "not-a-date"),
        ("status", "lost_in_space"),
        ("method", "teleport"),
        ("customer", "abc"),
    ],
)
def test_bad_filter_values_are_4xx_in_the_house_format(orders, manager, name, value):
    response = manager.api.get("/api/v1/orders", {name: value})
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"code", "message", "extra"}


def test_cursor_pagination_returns_results_and_next(clients, orders, manager):
    first = manager.api.get("/api/v1/orders", {"page_size": 3})
    assert first.status_code == 200
    page = first.json()
    assert {"results", "next"} <= page.keys()
    assert len(page["results"]) == 3
    assert page["next"]
    assert "cursor=" in page["next"]
    second = manager.api.get(page["next"])
    assert second.status_code == 200
    rest = second.json()
    assert len(rest["results"]) == 1
    assert rest["next"] is None
    seen = [o["id"] for o in page["results"]] + [o["id"] for o in rest["results"]]
    assert seen == sorted((order["id"] for order in orders.values()), reverse=True)  # newest first


def test_a_bad_cursor_is_404_in_the_house_format(orders, manager):
    response = manager.api.get("/api/v1/orders", {"cursor": "garbage"})
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "extra"}


def test_list_shows_lines_and_reservations_without_events(orders, manager):
    listed = manager.api.get("/api/v1/orders", {"channel": "web"}).json()["results"][0]
    assert listed["lines"][0]["sku"] == "SHIRT"
    assert listed["reservations"][0]["quantity"] == 1
    assert "fulfillment_orders" in listed
    assert "events" not in listed


# --- Customers ------------------------------------------------------------------------------------------


def customer_id(email: str) -> int:
    return Customer.objects.get(email_normalized=email).pk


def test_staff_find_the_unified_customer_by_email(clients, orders, manager, make_associate, network):
    associate = make_associate("alice", network.store)
    for staff in (manager, associate):
        response = staff.api.get("/api/v1/customers", {"email": "ANN@example.com"})
        assert response.status_code == 200
        found = response.json()["results"]
        assert [c["id"] for c in found] == [customer_id("ann@example.com")]
        assert found[0]["email"] == "ann@example.com"
    assert manager.api.get("/api/v1/customers", {"email": "nobody@example.com"}).json()["results"] == []


def test_the_unified_history_has_every_channel(clients, orders, manager):
    ann = customer_id("ann@example.com")
    response = manager.api.get(f"/api/v1/customers/{ann}/orders")
    assert response.status_code == 200
    history = response.json()["results"]
    assert sorted(o["channel"] for o in history) == ["app", "pos", "web"]
    assert sorted(o["id"] for o in history) == sorted(orders[k]["id"] for k in ("web", "app", "pos"))
    assert "next" in response.json()
    detail = manager.api.get(f"/api/v1/customers/{ann}")
    assert detail.status_code == 200
    assert detail.json()["id"] == ann


def test_a_channel_sees_only_customers_who_ordered_through_it(clients, orders):
    bob = customer_id("bob@example.com")
    ann = customer_id("ann@example.com")
    web = clients["web"]
    assert web.api.get("/api/v1/customers", {"email": "bob@example.com"}).json()["results"] == []
    assert [c["id"] for c in web.api.get("/api/v1/customers").json()["results"]] == [ann]
    assert_not_found(web.api.get(f"/api/v1/customers/{bob}"))
    assert_not_found(web.api.get(f"/api/v1/customers/{bob}/orders"))
    app = clients["app"]
    assert [
        c["id"] for c in app.api.get("/api/v1/customers", {"email": "bob@example.com"}).json()["results"]
    ] == [bob]
    assert app.api.get(f"/api/v1/customers/{bob}").status_code == 200
    # the call centre has taken no order from anyone yet
    call = clients["call"]
    assert call.api.get("/api/v1/customers").json()["results"] == []
    assert_not_found(call.api.get(f"/api/v1/customers/{ann}/orders"))


def test_a_channel_reads_the_unified_history_of_its_own_customer(clients, orders):
    ann = customer_id("ann@example.com")
    response = clients["web"].api.get(f"/api/v1/customers/{ann}/orders")
    assert response.status_code == 200
    assert sorted(o["channel"] for o in response.json()["results"]) == ["app", "pos", "web"]


# --- Unknown ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/987654",
        "/api/v1/orders/abc",
        "/api/v1/orders/-1",
        "/api/v1/orders/0",
        "/api/v1/orders/99999999999999999999999999",
        "/api/v1/orders/987654/cancel",
        "/api/v1/orders/abc/cancel",
        "/api/v1/customers/987654",
        "/api/v1/customers/abc",
        "/api/v1/customers/-1",
        "/api/v1/customers/99999999999999999999999999",
        "/api/v1/customers/987654/orders",
        "/api/v1/customers/abc/orders",
        "/api/v1/customers/99999999999999999999999999/orders",
        "/api/v1/nothing-here",
    ],
)
def test_unknown_or_non_numeric_ids_are_404_in_the_house_format(orders, manager, path):
    method = manager.api.post if path.endswith("/cancel") else manager.api.get
    assert_not_found(method(path))


def test_huge_ids_are_404_for_a_channel_too(orders, clients):
    assert_not_found(clients["pos"].api.get("/api/v1/orders/99999999999999999999999999"))
    assert_not_found(clients["web"].api.get("/api/v1/customers/99999999999999999999999999/orders"))
