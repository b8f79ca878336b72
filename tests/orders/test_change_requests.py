"""Changes that wait for a location (issue 19, ``pending_location``): a change that needs units a
location has accepted is kept (202) when the caller asks to wait, and applied once the location
confirms, or dropped when it refuses; only the locations asked may answer."""

from __future__ import annotations

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder, FulfillmentOrderLine
from oms.actors import Actor
from orders.models import OrderChange, OrderChangeRequest, OrderEvent, OrderLine

from .test_changes import assert_error, change, held, line_of, place

STAFF = Actor.system("tests")


def accepted_order(web_client, *lines: tuple[str, int]) -> tuple[dict, FulfillmentOrder]:
    order = place(web_client, *lines)
    fulfillment.route_order(order_id=order["id"])
    fo = FulfillmentOrder.objects.get(order_id=order["id"])
    fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=STAFF)
    return order, fo


def ask(web_client, order: dict, *operations: dict):
    return change(web_client, order["id"], *operations, wait_for_location=True)


def test_a_change_on_accepted_units_waits_for_the_location(network, web_client):
    order, _fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")

    response = ask(web_client, order, {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1})

    assert response.status_code == 202, response.json()
    request = response.json()["request"]
    assert request["status"] == "pending_location"
    assert request["location_ids"] == [network.warehouse.pk]
    assert request["operations"] == [
        {"kind": "cancel_units", "order_line": shirt["id"], "quantity": 1, "tax": "0"}
    ]
    assert OrderLine.objects.get(pk=shirt["id"]).quantity_cancelled == 0  # nothing changed yet
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 3}
    assert OrderEvent.objects.filter(order_id=order["id"], kind="change_requested").count() == 1
    assert not OrderChange.objects.exists()
    listed = web_client.api.get("/api/v1/order-change-requests?status=pending_location").json()
    assert [r["id"] for r in listed["results"]] == [request["id"]]


def test_the_location_confirms_and_the_change_is_applied(network, web_client, make_associate):
    order, fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    request = ask(web_client, order, {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}).json()[
        "request"
    ]
    associate = make_associate("wh-ann", network.warehouse)

    response = associate.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["revision"], body["answered_by"]) == ("applied", 1, "wh-ann")
    assert OrderLine.objects.get(pk=shirt["id"]).quantity_cancelled == 1
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2}
    assert FulfillmentOrderLine.objects.get(fulfillment_order=fo).quantity == 2
    fo.refresh_from_db()
    assert fo.status == "accepted"  # the location goes on with the units left
    row = OrderChange.objects.get(order_id=order["id"])
    assert "confirmed by wh-ann" in row.actor_name
    again = associate.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")
    assert again.status_code == 200
    assert OrderChange.objects.count() == 1  # confirming twice applies once


def test_the_location_refuses(network, web_client, make_associate):
    order, _fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    request = ask(web_client, order, {"op": "remove_line", "order_line": shirt["id"]}).json()["request"]
    associate = make_associate("wh-bob", network.warehouse)
    url = f"/api/v1/order-change-requests/{request['id']}/refuse"

    assert_error(associate.api.post(url, {}, format="json"), 422, "invalid_input")
    response = associate.api.post(url, {"reason": "already in the parcel"}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["answer"]) == ("refused", "already in the parcel")
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 3}
    assert OrderEvent.objects.filter(order_id=order["id"], kind="change_refused").count() == 1
    confirm = associate.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")
    assert_error(confirm, 409, "change_request_closed")


def test_only_the_locations_asked_may_answer(network, web_client, make_associate):
    order, _fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    request = ask(web_client, order, {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}).json()[
        "request"
    ]
    elsewhere = make_associate("st-carl", network.store)

    response = elsewhere.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")

    assert response.status_code == 403, response.json()
    channel = web_client.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")
    assert channel.status_code == 403
    assert OrderChangeRequest.objects.get(pk=request["id"]).status == "pending_location"


def test_a_change_that_can_no_longer_be_made_is_refused_saying_why(network, web_client, manager):
    order, _fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    request = ask(
        web_client,
        order,
        {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1},
        {"op": "add_line", "sku": "JEANS", "quantity": 2, "unit_price": "30.00"},
    ).json()["request"]
    place(web_client, ("JEANS", 5))  # every pair sold meanwhile

    response = manager.api.post(f"/api/v1/order-change-requests/{request['id']}/confirm", {}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "refused"
    assert body["answer"].startswith("could not be applied: Not enough stock for: JEANS")
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 3}
    assert not OrderChange.objects.exists()


def test_without_asking_to_wait_it_is_still_409(network, web_client):
    order, _fo = accepted_order(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    response = change(
        web_client, order["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}
    )
    assert_error(response, 409, "fulfillment_in_progress")
    assert not OrderChangeRequest.objects.exists()
