"""The store's day in a real browser: an associate's start page with today's counts, a pickup made
ready and handed over with the customer's code (a wrong code refused), the counts after; a
manager cancels an order from its page."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment import services as fs
from fulfillment.models import FulfillmentOrder
from inventory.models import StockLevel
from oms.staff import staff_create
from orders.models import Order
from tests.conftest import stock_put
from tests.factories import ProductFactory, StoreFactory

from .conftest import admin_login, shot
from .test_store_work import SYSTEM, pickup_order

pytestmark = pytest.mark.django_db(transaction=True)


def count(page, key: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(f"#count-{key}").get_attribute("data-count"))


def test_an_associate_works_a_pickup_from_the_start_page(page, live_server):
    mine = StoreFactory(
        code="st-d1",
        name="Store District 1",
        latitude=Decimal("10.77"),
        longitude=Decimal("106.70"),
        timezone="Asia/Ho_Chi_Minh",
    )
    shirt = ProductFactory(sku="SHIRT")
    stock_put(shirt, mine, 5)
    fo = pickup_order("st-d1", "lan@example.com")
    fs.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
    pickup_order("st-d1", "minh@example.com")  # a new one, still to accept
    _, password = staff_create(username="ann", role="associate", location_codes=["st-d1"])

    admin_login(page, live_server, "ann", password)
    page.wait_for_selector("#store-day")
    shot(page, "store-day-associate-start")
    assert page.locator("#store-day h2").inner_text().startswith("Today at Store District 1")
    assert (count(page, "new"), count(page, "to_pick"), count(page, "waiting")) == (1, 1, 0)

    page.locator("#list-to_pick a", has_text=fo.number).click()
    page.wait_for_selector("#detail-buttons")
    shot(page, "store-day-pickup-page")
    page.click("form[data-button=ready] button")
    page.wait_for_selector(".messagelist .success")
    fo.refresh_from_db()
    assert fo.status == "ready_for_pickup"
    shot(page, "store-day-pickup-ready")

    wrong = f"{(int(fo.pickup_code) + 1) % 1_000_000:06d}"
    page.fill("form[data-button=hand-over] input[name=pickup_code]", wrong)
    page.click("form[data-button=hand-over] button")
    page.wait_for_selector(".messagelist .error")
    assert "not the pickup code" in page.locator(".messagelist .error").inner_text()
    shot(page, "store-day-wrong-code-refused")
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "ready_for_pickup"

    page.fill("input[name=pickup_code]", fo.pickup_code)
    page.click("button[type=submit]:has-text('Handed over')")
    page.wait_for_selector(".messagelist .success")
    assert "handed over" in page.locator(".messagelist .success").inner_text()
    shot(page, "store-day-handed-over")
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "picked_up"
    row = StockLevel.objects.get(product=shirt, location=mine)
    assert (row.on_hand, row.reserved) == (4, 1)

    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#store-day")
    assert (count(page, "new"), count(page, "to_pick"), count(page, "waiting")) == (1, 0, 0)
    shot(page, "store-day-associate-after")


def test_a_manager_cancels_an_order_from_its_page(page, live_server):
    store = StoreFactory(code="st-d1", latitude=Decimal("10.77"), longitude=Decimal("106.70"))
    shirt = ProductFactory(sku="SHIRT")
    stock_put(shirt, store, 5)
    order = pickup_order("st-d1", "lan@example.com").order
    _, password = staff_create(username="boss", role="manager")

    admin_login(page, live_server, "boss", password)
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.wait_for_selector("#detail-buttons")
    shot(page, "manager-order-page-buttons")
    page.fill("form[data-button=cancel] input[name=reason]", "customer called to cancel")
    page.click("form[data-button=cancel] button")
    page.wait_for_selector(".messagelist .success")
    shot(page, "manager-order-cancelled")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert StockLevel.objects.get(product=shirt, location=store).reserved == 0
    assert page.locator("form[data-button=cancel]").count() == 0  # no button once cancelled
    assert Order.objects.get(pk=order.pk).events.filter(kind="cancelled").exists()
