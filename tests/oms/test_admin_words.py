"""The last internal ids and codes on the admin's screens, in words (issue 23): a customer's
language by name, what a payment ledger row is for, the order of an e-mail by its number, and no
"0 ₫" exchange credit on a return without an exchange."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from oms.display import language_name
from oms.models import NotificationLog
from oms.staff import staff_create
from orders.admin import payment_reference_text
from returns.admin import ReturnAdmin
from returns.models import Return
from tests.orders.conftest import network, post_order, ship_body  # noqa: F401


def test_a_language_by_its_name():
    assert language_name("vi") == "Vietnamese"
    assert language_name("en") == "English"
    assert language_name("") == "—"


@pytest.mark.parametrize(
    ("reference", "said"),
    [
        ("order:WEB-0000007", "order WEB-0000007"),
        ("change:WEB-0000007:2", "change 2 of WEB-0000007"),
        ("fulfillment:999999", "fulfillment:999999"),  # gone: the reference as it is
        ("", "—"),
    ],
)
def test_what_a_payment_row_is_for(db, reference, said):
    assert payment_reference_text(reference) == said


def test_an_e_mail_names_its_order_by_number(network, web_client):  # noqa: F811
    order = post_order(web_client, ship_body(("SHIRT", 1))).json()
    NotificationLog.objects.create(
        topic="order.created",
        event_id=1,
        template="order_confirmation",
        recipient="a@example.com",
        language="en",
        order_id=order["id"],
        status="sent",
        subject="Your order",
    )
    staff_create(username="boss", role="manager")
    client = Client()
    client.force_login(get_user_model().objects.get(username="boss"))
    page = client.get("/admin/oms/notificationlog/").content.decode()
    assert f'/admin/orders/order/{order["id"]}/change/">{order["number"]}</a>' in page


def test_a_return_without_an_exchange_shows_no_exchange_credit():
    shown = ReturnAdmin(Return, admin.site)
    assert shown.exchange_credit_display(Return(exchange_order_id=None)) == "—"
    assert shown.exchange_balance_display(Return(exchange_order_id=None)) == "—"
