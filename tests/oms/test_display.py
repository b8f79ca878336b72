"""The screens' formatting (oms/display.py), the admin site's names, and the landing page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import translation

from oms.display import (
    actor_display,
    address_lines,
    money_by_currency_display,
    money_display,
    status_label,
    timeline_sentence,
)
from oms.staff import staff_create

NBSP = "\xa0"


def test_dong_is_written_the_vietnamese_way():
    assert money_display(Decimal("1600000.00"), "VND") == f"1.600.000{NBSP}₫"
    assert money_display("30537000.00", "vnd") == f"30.537.000{NBSP}₫"


def test_other_currencies_follow_the_active_language():
    with translation.override("en"):
        assert money_display(Decimal("1234.5"), "USD") == "$1,234.50"
        assert money_display(Decimal("10"), "EUR") == "€10.00"
    with translation.override("vi"):
        assert money_display(Decimal("1234.5"), "USD") == f"1.234,50{NBSP}US$"


@override_settings(OMS_MONEY_LOCALES={"USD": "en_US", "EUR": "de_DE"})
def test_a_currency_may_have_its_own_locale():
    with translation.override("vi"):
        assert money_display(Decimal("1234.5"), "EUR") == f"1.234,50{NBSP}€"
        assert money_display(Decimal("0"), "USD") == "$0.00"
        assert money_display(Decimal("1600000"), "VND") == f"1.600.000{NBSP}₫"  # the active language


def test_empty_amounts_and_several_currencies():
    assert money_display(None, "VND") == "—"
    assert money_by_currency_display({}) == "—"
    with translation.override("en"):
        shown = money_by_currency_display({"VND": "1600000.00", "USD": "12.00"})
    assert shown == f"$12.00, 1.600.000{NBSP}₫"


def test_an_address_is_written_as_lines():
    address = {
        "name": "Lan Nguyen",
        "line1": "12 Ly Thuong Kiet",
        "line2": "",
        "city": "Hanoi",
        "postal_code": "100000",
        "region": "",
        "country": "VN",
        "phone": "+84900000001",
        "latitude": 21.03,
        "longitude": 105.85,
    }
    with translation.override("en"):
        assert address_lines(address) == [
            "Lan Nguyen",
            "12 Ly Thuong Kiet",
            "100000 Hanoi",
            "Vietnam",
            "Phone +84900000001",
        ]
    assert address_lines({}) == []
    assert address_lines(None) == []


def test_who_did_it_and_a_timeline_sentence():
    assert actor_display("staff", "ann") == "ann (staff)"
    assert actor_display("channel", "web-storefront") == "channel client web-storefront"
    assert actor_display("system", "router") == "the OMS (router)"
    assert actor_display("system", "system") == "the OMS"
    when = datetime(2026, 12, 4, 9, 57, tzinfo=UTC)
    with translation.override("en"):
        sentence = timeline_sentence(
            when=when, message="Order placed on web", actor_type="staff", actor_name="ann"
        )
    assert sentence.endswith("— Order placed on web. By ann (staff).")
    assert "2026" in sentence
    assert timeline_sentence(when=when, message="", actor_type="system", actor_name="").endswith(
        "Changed. By the OMS."
    )
    assert status_label("ready_for_pickup") == "Ready for pickup"


@pytest.mark.django_db
def test_the_admin_speaks_the_retailers_words():
    staff_create(username="boss", role="manager")
    client = Client()
    client.force_login(get_user_model().objects.get(username="boss"))
    response = client.get("/admin/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Store back office" in page
    for developer_word in ("OMS kernel", "Idempotency records", "Outbox events"):
        assert developer_word not in page
    groups = [app["name"] for app in response.context["app_list"]]
    assert groups[:3] == ["Store work", "Orders", "Returns and refunds"]
    assert client.get("/admin/orders/idempotencyrecord/").status_code == 200  # off the index, still there


@pytest.mark.django_db
def test_view_site_goes_to_a_landing_page_with_the_links():
    response = Client().get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/api/redoc/"'):
        assert link in page
