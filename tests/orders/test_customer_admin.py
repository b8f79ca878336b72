"""The readable admin screens (issue 23): the customer page shows a person's whole history across
channels; associates look orders and customers up read-only; no page shows raw JSON, internal ids
in captions, or a Save button on what cannot be changed."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from oms.actors import Actor
from oms.staff import staff_create
from orders.models import Order
from orders.selectors import customer_overview
from tests.factories import StoreFactory

from .customer_history import customer_with_three_channels

pytestmark = pytest.mark.django_db

MONEY_VND = "1.600.000\xa0₫"


def login(username: str, role: str, locations: tuple[str, ...] = ()) -> Client:
    staff_create(username=username, role=role, location_codes=list(locations))
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def visible_text(page: str) -> str:
    """What a person reads: the page without scripts, tags and their attributes, unescaped."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", page))


def assert_readable(page: str) -> None:
    """No raw JSON object, no model-string caption such as "1 x 55 @ 3 (released)"."""
    text = visible_text(page)
    assert not re.search(r"[{\[]\s*\"[a-z_]+\"\s*:", text), "raw JSON on the page"
    assert not re.search(r"\d+ x \d+ @ \d+", text), "a reservation caption with internal ids"
    assert not re.search(r"\d+#\d+ \d+ x ", text), "an order line caption with internal ids"


def test_the_overview_gathers_every_channel_return_refund_and_open_pickup():
    history = customer_with_three_channels()
    overview = customer_overview(customer_id=history.customer.pk, actor=Actor.system())
    assert {o.channel.code for o in overview.orders} == {"web", "app", "pos"}
    assert overview.channels == ["app", "pos", "web"]
    assert [r["number"] for r in overview.returns] == [history.rma.number]
    assert [r["refunded"] for r in overview.refunds] == ["1600000.00"]
    assert [p["number"] for p in overview.open_pickups] == [history.pickup.number]


def test_a_manager_sees_the_customers_whole_history(django_assert_max_num_queries):
    history = customer_with_three_channels()
    manager = login("boss", "manager")
    with django_assert_max_num_queries(40):  # a fixed number, whatever the history
        response = manager.get(f"/admin/oms/customer/{history.customer.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for order in (history.web, history.app, history.pos):
        assert f"/admin/orders/order/{order.pk}/change/" in html
        assert order.number in html
    for channel in ("Our web (web)", "Our app (app)", "Our pos (pos)"):
        assert channel in html
    assert history.rma.number in html
    assert "Refunded" in html
    assert history.pickup.number in html
    assert "Ready for pickup" in html
    assert MONEY_VND in html
    assert "lan@example.vn" in html
    assert "+84900000001" in html
    assert 'name="_save"' in html  # a manager may correct the name and language
    assert_readable(html)


def test_an_associate_looks_a_customer_up_read_only():
    history = customer_with_three_channels()
    associate = login("ann", "associate", ("st-hn-1",))
    url = f"/admin/oms/customer/{history.customer.pk}/change/"
    response = associate.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert history.web.number in html
    assert history.rma.number in html
    assert 'name="_save"' not in html
    assert associate.post(url, {"name": "Someone else", "language": "en"}).status_code == 403
    history.customer.refresh_from_db()
    assert history.customer.name == "Lan Nguyen"
    assert associate.get("/admin/oms/customer/", {"q": "lan@example.vn"}).status_code == 200


def test_an_associate_opens_any_order_read_only_and_cannot_act_on_it():
    history = customer_with_three_channels()
    StoreFactory(code="st-other")
    associate = login("ann", "associate", ("st-other",))  # not the order's store: still a look-up
    response = associate.get(f"/admin/orders/order/{history.pos.pk}/change/")
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    changelist = associate.get("/admin/orders/order/")
    assert changelist.status_code == 200
    assert 'name="action"' not in changelist.content.decode()  # cancel / hold are a manager's
    cancelled = associate.post(
        "/admin/orders/order/", {"action": "cancel_orders", "_selected_action": [history.app.pk]}
    )
    assert cancelled.status_code in (200, 302)
    assert Order.objects.get(pk=history.app.pk).status != "cancelled"


def test_the_order_link_of_a_fulfilment_order_opens_for_its_associate():
    history = customer_with_three_channels()
    associate = login("ann", "associate", ("st-hn-1",))
    page = associate.get(f"/admin/fulfillment/fulfillmentorder/{history.pickup.pk}/change/").content.decode()
    link = f"/admin/orders/order/{history.app.pk}/change/"
    assert link in page
    assert associate.get(link).status_code == 200


def test_the_order_page_is_readable():
    history = customer_with_three_channels()
    manager = login("boss", "manager")
    response = manager.get(f"/admin/orders/order/{history.web.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert_readable(html)
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert MONEY_VND in html
    for line in ("Lan Nguyen", "12 Ly Thuong Kiet", "100000 Hanoi", "Vietnam"):
        assert f"{line}<br>" in html  # the address as lines
    fo = history.web.fulfillment_orders.get()
    assert f"/admin/fulfillment/fulfillmentorder/{fo.pk}/change/" in html  # fulfilment orders inline
    assert f"{fo.location.name} ({fo.location.code})" in html
    timeline = html.split('class="oms-timeline"')[1].split("</ol>")[0]
    assert "Order placed on web" in timeline
    assert "By the OMS (test)." in timeline


def test_the_return_page_writes_money_and_names_not_ids():
    history = customer_with_three_channels()
    manager = login("boss", "manager")
    html = manager.get(f"/admin/returns/return/{history.rma.pk}/change/").content.decode()
    assert_readable(html)
    assert MONEY_VND in html
    assert "AO-DAI" in html
    assert "x line" not in html  # the old receipt caption "1 x line 29 (restock)"
    assert 'name="_save"' not in html
