"""The associate's customer page in a real browser (issue 22): an associate finds a customer by the
phone number they give, sees their history from three channels, what waits for them at the store
and what to suggest, and reserves a suggested product for pickup at the store (first asking for
more than the store has: the refusal is shown on the form). The page is saved as
artifacts/screens/customer-page.png."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from inventory.models import Location
from oms.staff import staff_create
from orders.models import Order
from orders.suggestions import product_affinity_refresh
from tests.conftest import stock_put
from tests.factories import CustomerFactory, ProductFactory
from tests.orders.customer_history import customer_with_three_channels, order_of

from .conftest import admin_login, shot

pytestmark = pytest.mark.django_db(transaction=True)

SCREENS = Path(__file__).resolve().parents[2] / "artifacts" / "screens"


def test_an_associate_finds_a_customer_by_phone_and_reserves_a_suggestion(page, live_server, settings):
    # Committed orders are authorised by the fake gateway, which declines dong amounts by default.
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "1000000000"
    history = customer_with_three_channels()
    scarf = ProductFactory(sku="KHAN-LUA", name="Silk scarf", price=Decimal("350000"), currency="VND")
    stock_put(scarf, history.store, 4)
    bag = ProductFactory(sku="TUI-XACH", name="Handbag", price=Decimal("900000"), currency="VND")
    stock_put(bag, Location.objects.get(code="wh-hn"), 2)  # not at the store
    ao_dai = history.web.lines.get().product
    order_of(CustomerFactory(), ao_dai, scarf)  # others bought the ao dai with a scarf (twice)
    order_of(CustomerFactory(), ao_dai, scarf, bag)  # and once with a bag
    product_affinity_refresh()
    _, password = staff_create(username="ann", role="associate", location_codes=[history.store.code])

    admin_login(page, live_server, "ann", password)
    page.goto(f"{live_server.url}/admin/oms/customer/")
    page.fill("#searchbar", "0900 000 001")  # the phone as the customer says it
    page.press("#searchbar", "Enter")
    page.locator("#result_list").get_by_role("link", name="Lan Nguyen").click()
    page.wait_for_selector(".oms-counter")

    assert "3 orders on 3 channels (app, pos, web)" in page.locator(".oms-summary").inner_text()
    waiting = page.locator("#customer-pickups_here")
    assert history.pickup.number in waiting.inner_text()
    assert "tries left" in waiting.inner_text()
    suggestions = page.locator("#customer-suggestions")
    assert "Silk scarf" in suggestions.inner_text()
    assert "4 available" in suggestions.inner_text()
    rows = suggestions.locator("tbody tr")
    assert "Silk scarf" in rows.nth(0).inner_text()  # in stock here first
    assert "Not here" in rows.nth(1).inner_text()
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "customer-page.png"), full_page=True)

    rows.nth(0).get_by_role("link", name="Reserve").click()
    page.wait_for_selector("#reserve-form")
    assert page.input_value("#id_sku_1") == "KHAN-LUA"
    page.fill("#id_quantity_1", "9")  # more than the store has
    page.click("button[name=reserve]")
    page.wait_for_selector(".messagelist .error")
    assert (
        "Not reserved: The pickup store cannot supply: KHAN-LUA." in page.locator(".messagelist").inner_text()
    )
    shot(page, "customer-reserve-refused")
    assert not Order.objects.filter(lines__sku="KHAN-LUA", customer=history.customer).exists()

    page.fill("#id_quantity_1", "1")
    page.click("button[name=reserve]")
    page.wait_for_selector(".messagelist .success")
    reserved = Order.objects.get(lines__sku="KHAN-LUA", customer=history.customer)
    assert f"order {reserved.number}" in page.locator(".messagelist").inner_text()
    assert (reserved.channel.code, reserved.pickup_location.code, reserved.placed_by_name) == (
        "pos",
        history.store.code,
        "ann",
    )
    page.wait_for_selector(".oms-counter")
    assert reserved.number in page.locator("#customer-pickups_here").inner_text()
    assert "4 orders on 3 channels" in page.locator(".oms-summary").inner_text()

    assert "Handbag" in page.locator("#customer-suggestions").inner_text()  # the scarf is theirs now
    page.screenshot(path=str(SCREENS / "customer-page-reserved.png"), full_page=True)
