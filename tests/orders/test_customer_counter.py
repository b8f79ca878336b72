"""The associate's view of the customer (issue 22): the search by e-mail, phone or a registered
identifier, and the page's "At the counter" sections: the pickups waiting at the associate's
store with a hint about the code (never the code), and the suggested products."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Q
from django.utils import translation

from fulfillment.customer_pickups import pickup_code_hint, pickups_waiting_for_customer
from oms.actors import Actor
from oms.customer_search import customer_lookup_register, customer_search
from orders.customer_page import CustomerPageSection, _sections, customer_page_section_register
from orders.suggestions import product_affinity_refresh
from tests.conftest import stock_put
from tests.factories import CustomerFactory, ProductFactory

from .customer_history import customer_with_three_channels, order_of
from .test_customer_admin import assert_readable, login

pytestmark = pytest.mark.django_db


def test_the_search_finds_a_customer_by_email_or_phone_in_any_format():
    lan = CustomerFactory(email="Lan@Example.vn", email_normalized="lan@example.vn", phone="+84 900 000 001")
    lan.phone_normalized = "+84900000001"
    lan.save()
    CustomerFactory(phone="+84 900 000 002", phone_normalized="+84900000002")
    for term in ("lan@example.VN ", "+84900000001", "+84 900-000-001", "0900 000 001", "0084900000001"):
        assert list(customer_search(term)) == [lan], term
    for term in ("", "lan", "900", "0900 000 009"):
        assert list(customer_search(term)) == [], term


def test_an_app_may_register_another_identifier_for_the_search():
    lan = CustomerFactory(name="Lan")
    customer_lookup_register(
        "test number", lambda term: Q(pk=int(term[3:])) if term.startswith("TN-") else None
    )
    try:
        assert list(customer_search(f"TN-{lan.pk}")) == [lan]
    finally:
        from oms import customer_search as module

        module._lookups.pop("test number")


def test_the_admin_search_box_finds_by_phone_as_an_associate_types_it():
    history = customer_with_three_channels()
    ann = login("ann", "associate", (history.store.code,))
    page = ann.get("/admin/oms/customer/", {"q": "0900 000 001"}).content.decode()
    assert f"/admin/oms/customer/{history.customer.pk}/change/" in page
    assert "Name, or an exact e-mail, phone, loyalty number." in page  # the registered lookups, named


def test_pickups_waiting_here_show_their_state_and_a_code_hint_never_the_code(settings):
    history = customer_with_three_channels()
    settings.OMS_PICKUP_CODE_MAX_ATTEMPTS = 5
    ann = Actor(type="staff", name="ann", role="associate", location_ids=frozenset({history.store.pk}))
    waiting = pickups_waiting_for_customer(customer_id=history.customer.pk, actor=ann)
    assert [w.fulfillment_order.number for w in waiting] == [history.pickup.number]
    assert waiting[0].items == [("AO-DAI", 1)]
    assert waiting[0].collect_by == history.pickup.pickup_expires_at
    assert waiting[0].code_hint == "Ask for the 6-digit code from the ready message; 5 tries left."
    assert history.pickup.pickup_code not in waiting[0].code_hint
    elsewhere = Actor(type="staff", name="bao", role="associate", location_ids=frozenset({10**9}))
    assert pickups_waiting_for_customer(customer_id=history.customer.pk, actor=elsewhere) == []
    fo = history.pickup
    fo.pickup_code_attempts = 4
    assert pickup_code_hint(fo).endswith("1 try left.")
    with translation.override("vi"):
        assert pickup_code_hint(fo) == "Hỏi khách mã 6 chữ số trong tin báo sẵn sàng; còn 1 lần thử."


def suggested_scarf(history) -> None:
    """Another customer bought the ao dai with a silk scarf, which the store has."""
    scarf = ProductFactory(sku="KHAN-LUA", name="Silk scarf", price=Decimal("350000"), currency="VND")
    stock_put(scarf, history.store, 4)
    order_of(CustomerFactory(), history.web.lines.get().product, scarf)
    product_affinity_refresh()


def test_the_associates_customer_page_shows_what_waits_here_and_what_to_suggest(
    django_assert_max_num_queries,
):
    history = customer_with_three_channels()
    suggested_scarf(history)
    ann = login("ann", "associate", (history.store.code,))
    with django_assert_max_num_queries(50):
        response = ann.get(f"/admin/oms/customer/{history.customer.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "At the counter" in html
    assert 'id="customer-pickups_here"' in html
    assert html.index('id="customer-pickups_here"') < html.index('id="customer-suggestions"')
    assert history.pickup.number in html
    assert history.pickup.pickup_code not in html
    assert "tries left" in html
    assert "Silk scarf" in html
    assert "350.000\xa0₫" in html
    assert "4 available" in html
    assert f"/admin/oms/customer/{history.customer.pk}/reserve-in-store/?sku=KHAN-LUA" in html
    assert 'id="reserve-in-store"' in html
    assert_readable(html)


def test_a_section_is_a_loader_a_template_and_one_registration():
    history = customer_with_three_channels()
    customer_page_section_register(
        CustomerPageSection(
            name="test_points",
            title="Points",
            template="admin/orders/_customer_suggestions.html",
            load=lambda customer, actor: [] if customer.pk == history.customer.pk else None,
            position=99,
        )
    )
    try:
        html = login("boss", "manager").get(f"/admin/oms/customer/{history.customer.pk}/change/").content
        assert b'id="customer-test_points"' in html
        # a section whose loader answers None is left out
        html = login("boss2", "manager").get(f"/admin/oms/customer/{CustomerFactory().pk}/change/").content
        assert b'id="customer-test_points"' not in html
    finally:
        _sections.pop("test_points")


def test_the_customers_open_cart_is_on_their_page():
    from orders.models import Cart, CartLine

    history = customer_with_three_channels()
    cart = Cart.objects.create(
        token="t-cart",
        customer=history.customer,
        channel=history.web.channel,
        priced_for=history.app.channel,
        currency="VND",
    )
    CartLine.objects.create(
        cart=cart,
        product=history.web.lines.get().product,
        sku="AO-DAI",
        quantity=2,
        unit_price=Decimal("1600000"),
    )
    html = (
        login("ann", "associate", (history.store.code,))
        .get(f"/admin/oms/customer/{history.customer.pk}/change/")
        .content.decode()
    )
    assert 'id="customer-cart"' in html
    assert "Started on web, priced for app" in html
    assert "1.600.000\xa0₫" in html


def test_the_loyalty_number_finds_the_customer_and_the_points_are_on_their_page():
    from oms.loyalty.models import LoyaltyAccount

    history = customer_with_three_channels()
    LoyaltyAccount.objects.filter(customer=history.customer).delete()
    LoyaltyAccount.objects.create(customer=history.customer, loyalty_number="80012345", balance=120)
    assert list(customer_search("8001 2345")) == [history.customer]
    html = (
        login("ann", "associate", (history.store.code,))
        .get(f"/admin/oms/customer/{history.customer.pk}/change/")
        .content.decode()
    )
    assert 'id="customer-points"' in html
    assert "120 points" in html
    assert "80012345" in html
