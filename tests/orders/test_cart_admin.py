"""Price lists and carts in the admin: managers add a price list with its entries (its currency
checked against the channel's), and read carts with their lines, held units and timeline
(``admin_client``: pytest-django's, a superuser)."""

from __future__ import annotations

from oms.customers import CustomerInput
from orders.models import PriceList
from orders.services import CartLineInput, HoldInput, cart_open

from .test_oversell import channel_actor


def _price_list_form(channel_id: int, currency: str, product_id: int) -> dict:
    return {
        "code": "web-usd",
        "name": "Web",
        "channel": channel_id,
        "currency": currency,
        "valid_from_0": "2026-01-01",
        "valid_from_1": "00:00:00",
        "active": "on",
        "entries-TOTAL_FORMS": "1",
        "entries-INITIAL_FORMS": "0",
        "entries-0-product": product_id,
        "entries-0-unit_price": "12.00",
    }


def test_a_manager_adds_a_price_list_with_entries(network, admin_client):
    channel, _actor = channel_actor()
    wrong = admin_client.post(
        "/admin/orders/pricelist/add/", _price_list_form(channel.pk, "VND", network.shirt.pk)
    )
    assert wrong.status_code == 200  # the form again, with the error
    assert "sells in USD" in wrong.content.decode()
    added = admin_client.post(
        "/admin/orders/pricelist/add/", _price_list_form(channel.pk, "usd", network.shirt.pk)
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    price_list = PriceList.objects.get(code="web-usd")
    assert price_list.currency == "USD"
    assert [(e.product.sku, str(e.unit_price)) for e in price_list.entries.all()] == [("SHIRT", "12.00")]
    assert admin_client.get("/admin/orders/pricelist/").status_code == 200


def test_a_cart_page_shows_lines_held_units_and_timeline(network, admin_client):
    channel, actor = channel_actor()
    cart, _created = cart_open(
        channel=channel,
        actor=actor,
        customer=CustomerInput(email="ann@example.com"),
        lines=[CartLineInput(sku="SHIRT", quantity=2)],
        hold=HoldInput(minutes=10),
    )
    listing = admin_client.get("/admin/orders/cart/?q=ann@example.com")
    assert listing.status_code == 200
    page = admin_client.get(f"/admin/orders/cart/{cart.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SHIRT" in html
    assert "hold_placed" in html or "Hold placed" in html
    assert cart.token not in html  # the cart's secret is not shown
