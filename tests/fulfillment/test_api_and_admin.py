"""The fulfilment-order API and the store work queue in the admin: who may see and act, the
lifecycle steps, illegal steps (409), and what each step does to stock and the order."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from fulfillment import services
from fulfillment.models import FulfillmentOrder
from inventory.errors import InsufficientStock
from inventory.models import StockLevel, StockMovement
from oms.choices import ChannelKind
from orders.models import Order
from tests.conftest import stock_put
from tests.factories import ProductFactory

from .conftest import place, store, warehouse


@pytest.fixture
def two_stores(db):
    a = store("st-a", "10.7770", "106.7010")
    b = store("st-b", "21.0285", "105.8540")
    depot = warehouse("wh-main", "10.9000", "106.8000")
    shirt = ProductFactory(sku="SHIRT")
    for location in (a, b, depot):
        stock_put(shirt, location, 5)
    return a, b, depot


def routed_fo(order: Order) -> FulfillmentOrder:
    services.route_order(order_id=order.pk)
    return FulfillmentOrder.objects.filter(order=order).latest("pk")


def pickup_at(code: str, quantity: int = 1) -> FulfillmentOrder:
    return routed_fo(place(("SHIRT", quantity), method="pickup", pickup=code))


def post(authed, fo: FulfillmentOrder, step: str, body: dict | None = None):
    return authed.api.post(f"/api/v1/fulfillment-orders/{fo.pk}/{step}", body or {}, format="json")


def test_an_associate_sees_and_acts_only_at_their_store(two_stores, make_associate):
    a, _, _ = two_stores
    mine, theirs = pickup_at("st-a"), pickup_at("st-b")
    ann = make_associate("ann", a)
    listed = ann.api.get("/api/v1/fulfillment-orders").json()["results"]
    assert [fo["id"] for fo in listed] == [mine.pk]
    assert ann.api.get(f"/api/v1/fulfillment-orders/{theirs.pk}").status_code == 404
    refused = post(ann, theirs, "accept")
    assert refused.status_code == 404
    assert refused.json()["code"] == "fulfillment_order_not_found"
    assert FulfillmentOrder.objects.get(pk=theirs.pk).status == "pending"
    assert post(ann, mine, "accept").status_code == 200


def test_channels_cannot_touch_fulfilment_work(two_stores, web_client, anon):
    fo = pickup_at("st-a")
    assert web_client.api.get("/api/v1/fulfillment-orders").status_code == 403
    assert post(web_client, fo, "accept").status_code == 403
    assert anon.get("/api/v1/fulfillment-orders").status_code == 401


def test_a_manager_sees_every_location_and_filters(two_stores, manager):
    pickup_at("st-a")
    other = pickup_at("st-b")
    everything = manager.api.get("/api/v1/fulfillment-orders").json()["results"]
    assert len(everything) == 2
    at_b = manager.api.get("/api/v1/fulfillment-orders", {"location": "st-b", "status": "pending"}).json()
    assert [fo["id"] for fo in at_b["results"]] == [other.pk]
    bad = manager.api.get("/api/v1/fulfillment-orders", {"status": "lost"})
    assert bad.status_code in (400, 422)


def test_ship_from_a_warehouse_through_the_api(two_stores, manager):
    _, _, depot = two_stores
    order = place(("SHIRT", 2), at=("10.9001", "106.8001"))
    fo = routed_fo(order)
    assert fo.location == depot
    for step in ("accept", "pick", "pack"):
        assert post(manager, fo, step).status_code == 200, step
    missing = post(manager, fo, "ship", {"carrier": "GHN"})
    assert missing.status_code == 422
    shipped = post(manager, fo, "ship", {"carrier": "GHN", "tracking_number": "GHN123"})
    assert shipped.status_code == 200, shipped.json()
    assert shipped.json()["status"] == "shipped"
    assert shipped.json()["tracking_number"] == "GHN123"
    row = StockLevel.objects.get(product__sku="SHIRT", location=depot)
    assert (row.on_hand, row.reserved) == (3, 0)
    assert StockMovement.objects.filter(kind="shipment", location=depot, on_hand_delta=-2).exists()
    assert Order.objects.get(pk=order.pk).status == "completed"
    detail = manager.api.get(f"/api/v1/orders/{order.pk}").json()
    assert detail["fulfillment_orders"][0]["status"] == "shipped"
    assert "shipped" in [event["kind"] for event in detail["events"]]


def test_illegal_steps_are_409_and_change_nothing(two_stores, manager):
    ship_fo = routed_fo(place(("SHIRT", 1), at=("10.9001", "106.8001")))
    pickup_fo = pickup_at("st-a")
    early = post(manager, ship_fo, "ship", {"carrier": "GHN", "tracking_number": "1"})
    assert early.status_code == 409
    assert early.json()["code"] == "invalid_transition"
    assert post(manager, ship_fo, "ready-for-pickup").status_code == 409
    assert post(manager, pickup_fo, "picked-up").status_code == 409
    post(manager, pickup_fo, "accept")
    assert post(manager, pickup_fo, "pack").status_code == 409  # pickups are not packed to ship
    assert FulfillmentOrder.objects.get(pk=ship_fo.pk).status == "pending"
    assert StockMovement.objects.filter(kind="shipment").count() == 0


def test_repeating_a_step_is_harmless(two_stores, manager):
    fo = pickup_at("st-a")
    assert post(manager, fo, "accept").status_code == 200
    assert post(manager, fo, "accept").status_code == 200
    assert post(manager, fo, "ready-for-pickup").status_code == 200
    assert post(manager, fo, "picked-up").status_code == 200
    assert post(manager, fo, "picked-up").status_code == 200
    row = StockLevel.objects.get(product__sku="SHIRT", location__code="st-a")
    assert (row.on_hand, row.reserved) == (4, 0)


def test_reject_needs_a_reason_and_reroutes(two_stores, make_associate, django_capture_on_commit_callbacks):
    a, _, _ = two_stores
    order = place(("SHIRT", 1))
    fo = routed_fo(order)
    assert fo.location == a
    ann = make_associate("ann", a)
    assert post(ann, fo, "reject").status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        response = post(ann, fo, "reject", {"reason": "shelf empty"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    again = FulfillmentOrder.objects.filter(order=order).exclude(pk=fo.pk).get()
    assert again.location != a
    assert StockLevel.objects.get(product__sku="SHIRT", location=a).reserved == 0


def test_capacity_is_counted_per_fulfilment_order(two_stores):
    a, _, _ = two_stores
    a.daily_capacity = 1
    a.save()
    pickup_at("st-a")
    # the store made its one fulfilment order today: a second pickup there is refused
    with pytest.raises(InsufficientStock):
        place(("SHIRT", 1), method="pickup", pickup="st-a")


# --- The admin work queue --------------------------------------------------------------------------


def admin_login(client, username: str) -> None:
    client.force_login(get_user_model().objects.get(username=username))


def test_the_admin_queue_shows_an_associate_only_their_store(two_stores, make_associate, client):
    a, _, _ = two_stores
    mine, theirs = pickup_at("st-a"), pickup_at("st-b")
    make_associate("ann", a)
    admin_login(client, "ann")
    page = client.get("/admin/fulfillment/fulfillmentorder/")
    assert page.status_code == 200
    content = page.content.decode()
    assert mine.number in content
    assert theirs.number not in content
    assert client.get(f"/admin/fulfillment/fulfillmentorder/{theirs.pk}/change/").status_code == 302


def test_admin_actions_run_the_pickup_flow(two_stores, make_associate, client):
    a, _, _ = two_stores
    fo = pickup_at("st-a", 2)
    make_associate("ann", a)
    admin_login(client, "ann")
    url = "/admin/fulfillment/fulfillmentorder/"
    for action in ("accept", "ready_for_pickup"):
        response = client.post(url, {"action": action, "_selected_action": [fo.pk]}, follow=True)
        assert response.status_code == 200
    fo.refresh_from_db()
    # handing over is one customer's, with their code: the button on the page, not a bulk action
    client.post(f"{url}{fo.pk}/do/hand-over/", {"pickup_code": fo.pickup_code})
    fo.refresh_from_db()
    assert fo.status == "picked_up"
    row = StockLevel.objects.get(product__sku="SHIRT", location=a)
    assert (row.on_hand, row.reserved) == (3, 0)


def test_admin_ship_and_reject_ask_for_their_details(two_stores, manager, client):
    fo = routed_fo(place(("SHIRT", 1), at=("10.9001", "106.8001")))
    admin_login(client, "manager")
    url = "/admin/fulfillment/fulfillmentorder/"
    for action in ("accept", "mark_picked", "mark_packed"):
        client.post(url, {"action": action, "_selected_action": [fo.pk]})
    form = client.post(url, {"action": "ship", "_selected_action": [fo.pk]})
    assert form.status_code == 200
    assert b"tracking_number" in form.content
    done = client.post(
        url,
        {
            "action": "ship",
            "_selected_action": [fo.pk],
            "apply": "1",
            "carrier": "VNPost",
            "tracking_number": "VN1",
        },
        follow=True,
    )
    assert done.status_code == 200
    fo.refresh_from_db()
    assert (fo.status, fo.carrier) == ("shipped", "VNPost")
    # an illegal step from the admin is a message, not a 500
    refused = client.post(f"{url}?queue=all", {"action": "accept", "_selected_action": [fo.pk]}, follow=True)
    assert refused.status_code == 200
    assert b"cannot move" in refused.content


def test_in_person_channel_orders_are_routed_like_any(two_stores, make_channel_client):
    make_channel_client("pos", ChannelKind.POS)
    order = place(("SHIRT", 1), method="pickup", pickup="st-a", channel="pos")
    assert routed_fo(order).location.code == "st-a"
