"""The buttons of an order's admin page: hold, release, cancel through the services, for managers,
only while the order's status allows them; a refused cancel is an error message."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from oms.staff import staff_create
from orders.models import Order

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
    assert buttons(boss, order) == ["hold", "cancel"]
    press(boss, order, "hold", reason="fraud_review", note="odd address")
    assert Order.objects.get(pk=order.pk).status == "on_hold"
    assert buttons(boss, order) == ["release", "cancel"]
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
