"""The buttons of a fulfilment order's admin page: only those its status allows, only for the
store's staff, each calling the service; refusals (a wrong pickup code, an illegal step) as error
messages, never a 500; the printable pick list and packing slip."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from fulfillment import services
from fulfillment.models import FulfillmentOrder
from oms.actors import Actor
from orders.models import OrderEvent
from tests.conftest import stock_put
from tests.factories import ProductFactory

from .conftest import place, store, warehouse

SYSTEM = Actor.system("tests")


@pytest.fixture
def shops(db):
    a = store("st-a", "10.7770", "106.7010", timezone="Asia/Ho_Chi_Minh")
    b = store("st-b", "21.0285", "105.8540")
    depot = warehouse("wh-main", "10.9000", "106.8000")
    shirt = ProductFactory(sku="SHIRT", name="Shirt blue M")
    for location in (a, b, depot):
        stock_put(shirt, location, 5)
    return a, b, depot


def pickup(code: str) -> FulfillmentOrder:
    order = place(("SHIRT", 2), method="pickup", pickup=code)
    services.route_order(order_id=order.pk)
    return FulfillmentOrder.objects.get(order=order)


def parcel() -> FulfillmentOrder:
    order = place(("SHIRT", 1), at=("10.9001", "106.8001"))
    services.route_order(order_id=order.pk)
    return FulfillmentOrder.objects.get(order=order)


def login(client, username: str) -> None:
    client.force_login(get_user_model().objects.get(username=username))


def page_of(client, fo: FulfillmentOrder) -> str:
    response = client.get(f"/admin/fulfillment/fulfillmentorder/{fo.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def buttons(html: str) -> list[str]:
    return re.findall(r'data-button="([a-z-]+)"', html)


def press(client, fo: FulfillmentOrder, button: str, **data):
    return client.post(f"/admin/fulfillment/fulfillmentorder/{fo.pk}/do/{button}/", data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_only_the_buttons_the_status_allows(shops, make_associate, client):
    a, _, _ = shops
    fo = pickup("st-a")
    make_associate("ann", a)
    login(client, "ann")
    assert buttons(page_of(client, fo)) == ["accept", "reject"]
    press(client, fo, "accept")
    assert buttons(page_of(client, fo)) == ["pick", "ready", "reject"]
    press(client, fo, "ready")
    html = page_of(client, fo)
    assert buttons(html) == ["hand-over"]  # a manager's "new code" is not the associate's
    assert 'name="pickup_code"' in html
    fo.refresh_from_db()
    assert fo.pickup_code not in html  # the code is the customer's to show


def test_a_parcel_is_picked_packed_and_shipped_with_its_tracking(shops, manager, client):
    fo = parcel()
    login(client, "manager")
    for button in ("accept", "pick", "pack"):
        assert "shipped" not in buttons(page_of(client, fo))
        press(client, fo, button)
    assert buttons(page_of(client, fo)) == ["ship", "reject"]
    missing = press(client, fo, "ship", carrier="GHN")
    assert missing.status_code == 200
    assert "tracking_number" in missing.content.decode()  # the form again, with its error
    done = press(client, fo, "ship", carrier="GHN", tracking_number="GHN42")
    assert f"{fo.number}: shipped" in messages_of(done)
    fo.refresh_from_db()
    assert (fo.status, fo.tracking_number) == ("shipped", "GHN42")
    assert buttons(page_of(client, fo)) == []


def test_hand_over_needs_the_right_code(shops, make_associate, client):
    a, _, _ = shops
    fo = pickup("st-a")
    make_associate("ann", a)
    login(client, "ann")
    press(client, fo, "accept")
    press(client, fo, "ready")
    fo.refresh_from_db()
    assert press(client, fo, "hand-over").status_code == 200  # the form asks for the code
    wrong = f"{(int(fo.pickup_code) + 1) % 1_000_000:06d}"
    refused = press(client, fo, "hand-over", pickup_code=wrong)
    assert refused.status_code == 200
    assert any("not the pickup code: 4 attempt(s) left" in m for m in messages_of(refused))
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "ready_for_pickup"
    assert OrderEvent.objects.filter(order=fo.order, kind="pickup_code_refused").count() == 1
    done = press(client, fo, "hand-over", pickup_code=fo.pickup_code)
    assert f"{fo.number}: handed over to the customer." in messages_of(done)
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "picked_up"


def test_a_locked_code_shows_the_manager_a_new_code_button(shops, make_associate, manager, client, settings):
    settings.OMS_PICKUP_CODE_MAX_ATTEMPTS = 1
    a, _, _ = shops
    fo = pickup("st-a")
    for name in ("accept", "ready_for_pickup"):
        getattr(services, f"fulfillment_order_{name}")(fulfillment_order_id=fo.pk, actor=SYSTEM)
    make_associate("ann", a)
    login(client, "ann")
    locked = press(client, fo, "hand-over", pickup_code="000000" if fo.pickup_code != "000000" else "111111")
    assert any("Too many wrong pickup codes" in m for m in messages_of(locked))
    assert buttons(page_of(client, fo)) == []  # no hand-over while locked
    login(client, "manager")
    assert buttons(page_of(client, fo)) == ["resend-code"]
    sent = press(client, fo, "resend-code")
    assert any("new pickup code" in m for m in messages_of(sent))
    assert buttons(page_of(client, fo)) == ["hand-over", "resend-code"]


def test_another_stores_work_has_no_page_and_no_button(shops, make_associate, client):
    a, _, _ = shops
    theirs = pickup("st-b")
    make_associate("ann", a)
    login(client, "ann")
    assert client.get(f"/admin/fulfillment/fulfillmentorder/{theirs.pk}/change/").status_code == 302
    assert press(client, theirs, "accept").status_code == 404
    assert client.get(f"/admin/fulfillment/fulfillmentorder/{theirs.pk}/pick-list/").status_code == 404
    assert FulfillmentOrder.objects.get(pk=theirs.pk).status == "pending"


def test_a_button_its_status_no_longer_allows_is_an_error_message(shops, manager, client):
    fo = pickup("st-a")
    login(client, "manager")
    stale = press(client, fo, "ready")  # a page opened before; now not possible
    assert stale.status_code == 200
    assert any("is not possible now" in m for m in messages_of(stale))
    assert press(client, fo, "no-such-button").status_code == 404
    assert client.get(f"/admin/fulfillment/fulfillmentorder/{fo.pk}/do/accept/").status_code == 302
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "pending"


def test_a_blank_answer_is_asked_again(shops, manager, client):
    fo = pickup("st-a")
    login(client, "manager")
    services.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
    refused = press(client, fo, "reject", reason="   ")
    assert refused.status_code == 200
    assert FulfillmentOrder.objects.get(pk=fo.pk).status == "accepted"


def test_the_pick_list_and_the_packing_slip(shops, manager, client):
    fo = parcel()
    login(client, "manager")
    html = page_of(client, fo)
    assert f"/admin/fulfillment/fulfillmentorder/{fo.pk}/pick-list/" in html
    assert f"/admin/fulfillment/fulfillmentorder/{fo.pk}/packing-slip/" in html
    pick = client.get(f"/admin/fulfillment/fulfillmentorder/{fo.pk}/pick-list/").content.decode()
    assert f"Pick list {fo.number}" in pick
    assert "SHIRT" in pick
    assert "Shirt blue M" in pick
    assert "@media print" in pick
    slip = client.get(f"/admin/fulfillment/fulfillmentorder/{fo.pk}/packing-slip/").content.decode()
    assert "Ship to" in slip
    assert "1 Le Loi" in slip
    assert fo.order.number in slip
    pickup_fo = pickup("st-a")
    assert "packing-slip" not in page_of(client, pickup_fo)
    pick = client.get(f"/admin/fulfillment/fulfillmentorder/{pickup_fo.pk}/pick-list/").content.decode()
    assert "Pickup at the counter" in pick
    assert "(Asia/Ho_Chi_Minh)" in pick  # the store's time
