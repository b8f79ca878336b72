"""Reserve-in-store from the customer page (issue 22): an associate places a pickup order for the
customer at their own store through order_place; a store without the units answers the pickup 409
with the nearby stores that have them; an associate of another store may not reserve here."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from inventory.errors import InsufficientStock
from inventory.models import StockLevel
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.errors import InvalidInput, PermissionDenied
from oms.staff import staff_create
from orders.models import Order
from orders.services import ReserveItem, reserve_in_store_place
from tests.conftest import stock_put
from tests.factories import ChannelFactory, CustomerFactory, LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def counter():
    """Two Hanoi stores 2 km apart: st-hn-1 has 1 ao dai, st-hn-2 has 5; a POS channel; Lan."""
    pos = ChannelFactory(code="pos", name="Store POS", kind=ChannelKind.POS, currency="VND")
    ChannelFactory(code="web", kind=ChannelKind.WEB, currency="VND")
    here = StoreFactory(
        code="st-hn-1", name="Hoan Kiem", latitude=Decimal("21.03"), longitude=Decimal("105.85")
    )
    there = StoreFactory(
        code="st-hn-2", name="Ba Dinh", latitude=Decimal("21.04"), longitude=Decimal("105.83")
    )
    ao_dai = ProductFactory(sku="AO-DAI", name="Ao dai", price=Decimal("1600000"), currency="VND")
    stock_put(ao_dai, here, 1)
    stock_put(ao_dai, there, 5)
    lan = CustomerFactory(
        email="lan@example.vn", name="Lan Nguyen", phone="+84900000001", phone_normalized="+84900000001"
    )
    staff_create(username="ann", role="associate", location_codes=[here.code])
    staff_create(username="bao", role="associate", location_codes=[there.code])
    return {"pos": pos, "here": here, "there": there, "lan": lan}


def actor(username: str) -> Actor:
    return Actor.for_user(get_user_model().objects.get(username=username))


def reserve(counter, username: str, store: str, sku: str, quantity: int):
    return reserve_in_store_place(
        customer_id=counter["lan"].pk,
        location_code=store,
        items=[ReserveItem(sku, quantity)],
        actor=actor(username),
    )


def test_an_associate_reserves_at_their_store_for_the_customer(counter):
    result = reserve(counter, "ann", "st-hn-1", "AO-DAI", 1)
    order = Order.objects.get(pk=result.order.pk)
    assert (order.method, order.pickup_location.code, order.channel.code) == ("pickup", "st-hn-1", "pos")
    assert order.customer_id == counter["lan"].pk  # the same person, not a new customer
    assert (order.placed_by_type, order.placed_by_name) == ("staff", "ann")
    assert order.total == Decimal("1600000.00")  # the product's price
    assert [(r.location.code, r.quantity) for r in order.reservations.all()] == [("st-hn-1", 1)]
    assert StockLevel.objects.get(location=counter["here"]).reserved == 1


def test_a_store_without_the_units_answers_the_pickup_409_with_the_nearby_stores(counter):
    with pytest.raises(InsufficientStock) as refused:
        reserve(counter, "ann", "st-hn-1", "AO-DAI", 2)
    assert refused.value.status_code == 409
    assert [s["location"] for s in refused.value.extra["nearby_stores"]] == ["st-hn-2"]
    assert "st-hn-2" in refused.value.message
    assert not Order.objects.exists()


def test_an_associate_of_another_store_may_not_reserve_here(counter):
    with pytest.raises(PermissionDenied) as refused:
        reserve(counter, "bao", "st-hn-1", "AO-DAI", 1)
    assert refused.value.code == "not_your_location"
    assert not Order.objects.exists()


def test_without_an_in_person_channel_or_at_the_wrong_price_nothing_is_placed(counter):
    ProductFactory(sku="CAP", price=Decimal("8.50"), currency="USD")
    with pytest.raises(InvalidInput) as refused:
        reserve(counter, "ann", "st-hn-1", "CAP", 1)
    assert refused.value.code == "price_unavailable"
    counter["pos"].active = False
    counter["pos"].save(update_fields=["active"])
    with pytest.raises(InvalidInput) as refused:
        reserve(counter, "ann", "st-hn-1", "AO-DAI", 1)
    assert refused.value.code == "no_in_person_channel"
    assert not Order.objects.exists()


# --- The admin form ---------------------------------------------------------------------------


def logged_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def url(counter) -> str:
    return f"/admin/oms/customer/{counter['lan'].pk}/reserve-in-store/"


def form(location: str, sku: str, quantity: int, submission: str = "t-1") -> dict[str, str]:
    return {
        "location": location,
        "sku_1": sku,
        "quantity_1": str(quantity),
        "submission": submission,
        "reserve": "1",
    }


def test_the_form_places_the_pickup_and_goes_back_to_the_customer_page(counter):
    ann = logged_in("ann")
    page = ann.get(url(counter) + "?sku=AO-DAI")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="AO-DAI"' in html  # prefilled from the suggestion's link
    assert "st-hn-2" not in html  # only her store to choose
    response = ann.post(url(counter), form("st-hn-1", "AO-DAI", 1), follow=True)
    order = Order.objects.get()
    assert response.redirect_chain[-1][0] == f"/admin/oms/customer/{counter['lan'].pk}/change/"
    html = response.content.decode()
    assert f"Reserved for pickup at st-hn-1: order {order.number}." in html
    assert f"/admin/orders/order/{order.pk}/change/" in html
    assert 'id="reserve-in-store"' in html  # the button on the customer page


def test_the_form_shows_the_409_readably_with_the_nearby_stores(counter):
    response = logged_in("ann").post(url(counter), form("st-hn-1", "AO-DAI", 3))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not reserved: The pickup store cannot supply: AO-DAI." in html
    assert "Stores nearby that have every unit" in html
    assert "<td>st-hn-2</td>" in html
    assert 'value="AO-DAI"' in html  # the form keeps what was typed
    assert not Order.objects.exists()


def test_the_form_offers_and_accepts_only_the_associates_stores(counter):
    bao = logged_in("bao")
    response = bao.post(url(counter), form("st-hn-1", "AO-DAI", 1))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Order.objects.exists()
    LocationFactory(code="wh-hn")
    staff_create(username="kho", role="associate", location_codes=["wh-hn"])  # a warehouse: no pickups
    response = logged_in("kho").get(url(counter), follow=True)
    assert "You have no store to reserve at" in response.content.decode()
    assert 'id="reserve-in-store"' not in response.content.decode()


def test_submitting_the_same_form_twice_places_one_order(counter):
    ann = logged_in("ann")
    page = ann.get(url(counter)).content.decode()
    assert 'name="submission"' in page
    for _ in range(2):  # a double click
        response = ann.post(url(counter), form("st-hn-1", "AO-DAI", 1, submission="same"), follow=True)
        assert "Reserved for pickup at st-hn-1" in response.content.decode()
    assert Order.objects.count() == 1
    ann.post(url(counter), form("st-hn-2", "AO-DAI", 1, submission="next"))  # another form: not her store
    assert Order.objects.count() == 1
