"""The buttons of an order's admin page: hold, release, cancel through the services, for managers,
only while the order's status allows them; a refused cancel is an error message."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from oms.staff import staff_create
from orders.models import Order, OrderChange, OrderLine

from .conftest import post_order, ship_body


@pytest.fixture
def boss(db) -> Client:
    staff_create(username="boss", role="manager")
    client = Client()
    client.force_login(get_user_model().objects.get(username="boss"))
    return client


def place(authed) -> Order:
    response = post_order(authed, ship_body(("SHIRT", 1)))
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def buttons(client: Client, order: Order) -> list[str]:
    response = client.get(f"/admin/orders/order/{order.pk}/change/")
    assert response.status_code == 200
    return re.findall(r'data-button="([a-z-]+)"', response.content.decode())


def press(client: Client, order: Order, button: str, **data):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/orders/order/{order.pk}/do/{button}/", data, follow=True)


def test_hold_release_and_cancel_from_the_page(network, web_client, boss):
    order = place(web_client)
    assert buttons(boss, order) == ["hold", "cancel", "preview-change", "change"]
    press(boss, order, "hold", reason="fraud_review", note="odd address")
    assert Order.objects.get(pk=order.pk).status == "on_hold"
    assert buttons(boss, order) == ["release", "cancel", "preview-change", "change"]
    press(boss, order, "release")
    assert Order.objects.get(pk=order.pk).status != "on_hold"
    done = press(boss, order, "cancel", reason="customer called")
    assert any("cancelled" in m.message for m in get_messages(done.wsgi_request))
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.events.filter(kind="cancelled", message__contains="customer called").exists()
    assert buttons(boss, order) == []


def test_a_cancel_the_order_refuses_is_an_error_message(network, web_client, boss):
    order = place(web_client)
    order.lines.update(quantity_fulfilled=1)  # a unit has left: the service refuses (409)
    refused = press(boss, order, "cancel", reason="")
    assert refused.status_code == 200
    assert any(m.level_tag == "error" for m in get_messages(refused.wsgi_request))
    assert Order.objects.get(pk=order.pk).status != "cancelled"


def test_associates_have_no_order_buttons(network, web_client, make_associate):
    order = place(web_client)
    make_associate("ann", network.store)
    client = Client()
    client.force_login(get_user_model().objects.get(username="ann"))
    # associates may read an order (for the customer at the counter), never act on it
    assert buttons(client, order) == []
    response = press(client, order, "cancel", reason="")
    assert response.status_code == 200
    assert "is not possible now" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status != "cancelled"


def _said(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_manager_previews_then_changes_an_order_from_its_page(network, web_client, boss):
    response = post_order(web_client, ship_body(("SHIRT", 3)))
    order = Order.objects.get(pk=response.json()["id"])
    change = {"op": "change_quantity", "line_number": 1, "quantity": 1, "reason": "customer called"}

    preview = press(boss, order, "preview-change", **change)

    said = " ".join(_said(preview))
    assert "preview only, nothing changed: the total would change by -20.00 to 10.00 USD" in said
    assert OrderLine.objects.get(order=order).quantity_cancelled == 0
    assert not OrderChange.objects.exists()

    applied = press(boss, order, "change", **change)

    assert "changed: the total changed by -20.00 to 10.00 USD; 2 unit(s) given back" in " ".join(
        _said(applied)
    )
    assert OrderLine.objects.get(order=order).quantity_cancelled == 2
    assert OrderChange.objects.get(order=order).reason == "customer called"


def test_a_refused_change_is_an_error_message(network, web_client, boss):
    order = place(web_client)
    response = press(boss, order, "change", op="cancel_units", line_number=7, quantity=1)
    assert "has no line 7" in " ".join(_said(response))
    assert not OrderChange.objects.exists()
