"""The customer page in a real browser (issue 23): a manager and an associate look a customer up
and see orders from three channels and a return, with money in the currency's format."""

from __future__ import annotations

import pytest

from oms.staff import staff_create
from tests.orders.customer_history import customer_with_three_channels

from .conftest import admin_login, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_customer_page_shows_orders_from_three_channels_and_a_return(page, live_server, settings):
    # Committed orders are authorised by the fake gateway, which declines dong amounts by default.
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "1000000000"
    history = customer_with_three_channels()
    _, password = staff_create(username="ann", role="associate", location_codes=[history.store.code])

    admin_login(page, live_server, "ann", password)
    page.goto(f"{live_server.url}/admin/oms/customer/?q=lan@example.vn")
    page.locator("#result_list").get_by_role("link", name="Lan Nguyen").click()
    page.wait_for_selector(".oms-customer")
    shot(page, "associate-customer-history")

    summary = page.locator(".oms-summary").inner_text()
    assert "3 orders on 3 channels (app, pos, web)" in summary
    assert "1 return" in summary
    assert "1 open pickup" in summary
    orders = page.locator(".oms-customer table").nth(1)
    for order in (history.web, history.app, history.pos):
        assert orders.get_by_role("link", name=order.number).count() == 1
    assert page.get_by_role("link", name=history.rma.number).count() == 1
    assert "1.600.000\xa0₫" in page.locator(".oms-customer").inner_text()  # Babel: no-break space
    assert page.locator("input[name=_save]").count() == 0  # read-only for an associate

    # The POS order, opened from the history: read-only, its timeline in sentences.
    orders.get_by_role("link", name=history.pos.number).click()
    page.wait_for_selector(".oms-timeline")
    shot(page, "associate-order-from-customer")
    assert page.locator(".oms-timeline li").count() >= 5
    assert page.locator("input[name=_save]").count() == 0
