"""Changing a placed order (issue 19): add a line, change a quantity, cancel some units, change the
address, the method or the pickup store; each in one transaction that re-sources what it must,
gives back what it no longer needs and adjusts the fulfilment orders no location has accepted;
refused (409) where a location works on the units or they were shipped; previews keep nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.db.models import Sum

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder, FulfillmentOrderLine
from inventory.models import StockLevel, StockMovement
from oms.actors import Actor
from oms.models import OutboxEvent
from orders.models import Order, OrderChange, OrderEvent, OrderLine, Reservation
from tests.conftest import stock_put
from tests.factories import LocationFactory

from .conftest import new_key, pickup_body, post_order, ship_body

STAFF = Actor.system("tests")
HANOI_ADDRESS = {
    "line1": "1 Trang Tien",
    "city": "Hanoi",
    "country": "VN",
    "latitude": 21.0245,
    "longitude": 105.8412,
}


@pytest.fixture
def hanoi(network):
    """A warehouse in Hanoi with shirts: the nearest for a Hanoi address."""
    location = LocationFactory(
        code="wh-hanoi", latitude=Decimal("21.030000"), longitude=Decimal("105.800000"), priority=1
    )
    stock_put(network.shirt, location, 10)
    return location


# Delivered next to the warehouse: the engine holds the units there (not at the nearby store).
NEAR_WAREHOUSE = {
    "line1": "9 Cong Hoa",
    "city": "Ho Chi Minh City",
    "country": "VN",
    "latitude": 10.8,
    "longitude": 106.65,
}


def place(authed, *lines: tuple[str, int], **extra) -> dict:
    extra.setdefault("shipping_address", NEAR_WAREHOUSE)
    response = post_order(authed, ship_body(*lines, **extra))
    assert response.status_code == 201, response.json()
    return response.json()


def change(authed, order_id: int, *operations: dict, preview: bool = False, key: str | None = "auto", **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": new_key() if key == "auto" else key} if key else {}
    path = f"/api/v1/orders/{order_id}/changes" + ("?preview=true" if preview else "")
    return authed.api.post(path, {"operations": list(operations), **body}, format="json", **headers)


def held(order_id: int) -> dict[tuple[str, str], int]:
    """Active reservations of the order: (location code, sku) -> units."""
    out: dict[tuple[str, str], int] = {}
    for r in Reservation.objects.filter(order_id=order_id, status="active").select_related(
        "location", "product"
    ):
        key = (r.location.code, r.product.sku)
        out[key] = out.get(key, 0) + r.quantity
    return out


def reserved_at(location, product) -> int:
    return StockLevel.objects.get(location=location, product=product).reserved


def line_of(order: dict, sku: str) -> dict:
    return next(line for line in order["lines"] if line["sku"] == sku)


def ship_fo(fo: FulfillmentOrder) -> None:
    fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=STAFF)
    fulfillment.fulfillment_order_pick(fulfillment_order_id=fo.pk, actor=STAFF)
    fulfillment.fulfillment_order_pack(fulfillment_order_id=fo.pk, actor=STAFF)
    fulfillment.fulfillment_order_ship(
        fulfillment_order_id=fo.pk, carrier="VNPost", tracking_number="T1", actor=STAFF
    )


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code, body
    return body


def test_adding_a_line_holds_its_units_where_the_engine_says(network, web_client):
    order = place(web_client, ("SHIRT", 1))

    response = change(
        web_client, order["id"], {"op": "add_line", "sku": "JEANS", "quantity": 2, "unit_price": "30.00"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["preview"] is False
    assert body["revision"] == 1
    assert body["money_delta"] == "60.00"
    assert body["reserved_units"] == 2
    assert [c["kind"] for c in body["changes"]] == ["add_line"]
    jeans = line_of(body["order"], "JEANS")
    assert (jeans["line_number"], jeans["quantity"], jeans["line_total"]) == (2, 2, "60.00")
    assert body["order"]["total"] == "70.00"
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 1, ("wh-hcm", "JEANS"): 2}
    assert reserved_at(network.warehouse, network.jeans) == 2
    event = OrderEvent.objects.get(order_id=order["id"], kind="changed")
    assert event.data["revision"] == 1
    assert event.data["money_delta"] == "60.00"
    assert event.actor_type == "channel"
    outbox = OutboxEvent.objects.get(topic="order.changed")
    assert outbox.payload == {
        "order_id": order["id"],
        "number": order["number"],
        "revision": 1,
        "changes": ["add_line"],
        "money_delta": "60.00",
        "currency": "USD",
    }
    reservations = StockMovement.objects.filter(kind="reservation", product=network.jeans)
    assert [(m.reserved_delta, m.reference) for m in reservations] == [(2, f"order:{order['number']}")]


def test_adding_a_line_without_the_stock_is_409_and_changes_nothing(network, web_client):
    order = place(web_client, ("SHIRT", 1))
    before = (OrderLine.objects.count(), Reservation.objects.count(), StockMovement.objects.count())

    response = change(
        web_client, order["id"], {"op": "add_line", "sku": "JEANS", "quantity": 9, "unit_price": "30.00"}
    )

    body = assert_error(response, 409, "insufficient_stock")
    assert body["extra"]["shortages"] == [{"sku": "JEANS", "requested": 9, "missing": 4}]
    assert (OrderLine.objects.count(), Reservation.objects.count(), StockMovement.objects.count()) == before
    assert not OrderChange.objects.exists()
    assert Order.objects.get(pk=order["id"]).total == Decimal("10.00")


def test_reducing_a_quantity_releases_units_and_shrinks_the_fulfilment_line(network, web_client):
    order = place(web_client, ("SHIRT", 5))
    fulfillment.route_order(order_id=order["id"])
    fo = FulfillmentOrder.objects.get(order_id=order["id"])
    assert fo.status == "pending"
    shirt = line_of(order, "SHIRT")

    response = change(
        web_client, order["id"], {"op": "change_quantity", "order_line": shirt["id"], "quantity": 2}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["money_delta"] == "-30.00"
    assert body["released_units"] == 3
    line = line_of(body["order"], "SHIRT")
    assert (line["quantity"], line["quantity_cancelled"]) == (5, 3)
    assert body["order"]["total"] == "20.00"
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2}
    assert reserved_at(network.warehouse, network.shirt) == 2
    releases = StockMovement.objects.filter(kind="release", product=network.shirt)
    assert [m.reserved_delta for m in releases] == [-3]
    assert FulfillmentOrderLine.objects.get(fulfillment_order=fo).quantity == 2
    # the trail adds up: the kept reservation and a released row for the units given back
    rows = sorted(Reservation.objects.filter(order_id=order["id"]).values_list("status", "quantity"))
    assert rows == [("active", 2), ("released", 3)]
    assert Order.objects.get(pk=order["id"]).status == "allocated"


def test_cancelling_one_of_three_units_through_cancel_with_lines(network, web_client):
    order = place(web_client, ("SHIRT", 3), ("JEANS", 1))
    shirt = line_of(order, "SHIRT")

    response = web_client.api.post(
        f"/api/v1/orders/{order['id']}/cancel",
        {"reason": "one too many", "lines": [{"order_line": shirt["id"], "quantity": 1}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "received"
    assert (line_of(body, "SHIRT")["quantity_cancelled"], line_of(body, "JEANS")["quantity_cancelled"]) == (
        1,
        0,
    )
    assert body["total"] == "30.00"  # 4 units at 10.00, one cancelled
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2, ("wh-hcm", "JEANS"): 1}
    change_row = OrderChange.objects.get(order_id=order["id"])
    assert (change_row.kind, change_row.reason, change_row.money_delta) == (
        "cancel_units",
        "one too many",
        Decimal("-10.00"),
    )
    assert change_row.before["quantity_cancelled"] == 0
    assert change_row.after["quantity_cancelled"] == 1


def test_cancelling_every_unit_by_lines_cancels_the_order(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    shirt = line_of(order, "SHIRT")
    response = web_client.api.post(
        f"/api/v1/orders/{order['id']}/cancel",
        {"lines": [{"order_line": shirt["id"], "quantity": 2}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert held(order["id"]) == {}


def test_a_new_address_moves_the_reservation_to_the_nearest_warehouse_before_routing(
    network, web_client, hanoi
):
    order = place(web_client, ("SHIRT", 2))
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2}

    response = change(web_client, order["id"], {"op": "change_address", "shipping_address": HANOI_ADDRESS})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["money_delta"] == "0.00"
    assert held(order["id"]) == {("wh-hanoi", "SHIRT"): 2}
    assert reserved_at(network.warehouse, network.shirt) == 0
    assert reserved_at(hanoi, network.shirt) == 2
    db_order = Order.objects.get(pk=order["id"])
    assert db_order.shipping_address["city"] == "Hanoi"
    assert float(db_order.ship_latitude) == pytest.approx(21.0245)
    row = OrderChange.objects.get(order=db_order)
    assert row.kind == "change_address"
    assert row.before["shipping_address"]["line1"] == "9 Cong Hoa"
    assert row.after["shipping_address"]["city"] == "Hanoi"


def test_a_new_address_cancels_a_pending_fulfilment_order_and_routing_sends_it_again(
    network, web_client, hanoi
):
    order = place(web_client, ("SHIRT", 2))
    fulfillment.route_order(order_id=order["id"])
    first = FulfillmentOrder.objects.get(order_id=order["id"])

    response = change(web_client, order["id"], {"op": "change_address", "shipping_address": HANOI_ADDRESS})

    assert response.status_code == 201, response.json()
    first.refresh_from_db()
    assert first.status == "cancelled"
    assert Order.objects.get(pk=order["id"]).status == "received"  # held, waiting for routing
    fulfillment.route_order(order_id=order["id"])
    again = FulfillmentOrder.objects.filter(order_id=order["id"]).exclude(pk=first.pk).get()
    assert (again.location.code, again.status) == ("wh-hanoi", "pending")
    assert Order.objects.get(pk=order["id"]).status == "allocated"


def test_switching_ship_to_pickup_holds_the_units_at_the_store(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2}

    response = change(
        web_client,
        order["id"],
        {"op": "change_method", "method": "pickup", "pickup_location": "st-district1"},
    )

    assert response.status_code == 201, response.json()
    body = response.json()["order"]
    assert (body["method"], body["pickup_location"], body["shipping_address"]) == (
        "pickup",
        "st-district1",
        None,
    )
    assert held(order["id"]) == {("st-district1", "SHIRT"): 2}
    assert reserved_at(network.store, network.shirt) == 2
    assert reserved_at(network.warehouse, network.shirt) == 0


def test_switching_to_a_store_without_the_units_is_409_with_nearby_stores(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    response = change(
        web_client, order["id"], {"op": "change_method", "method": "pickup", "pickup_location": "st-hanoi"}
    )
    assert_error(response, 409, "insufficient_stock")
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 2}
    assert Order.objects.get(pk=order["id"]).method == "ship"


def test_changing_the_pickup_store(network, web_client):
    stock_put(network.shirt, network.far_store, 5)
    response = post_order(web_client, pickup_body("st-district1", ("SHIRT", 1)))
    assert response.status_code == 201, response.json()
    order = response.json()

    response = change(web_client, order["id"], {"op": "change_pickup_store", "pickup_location": "st-hanoi"})

    assert response.status_code == 201, response.json()
    assert response.json()["order"]["pickup_location"] == "st-hanoi"
    assert held(order["id"]) == {("st-hanoi", "SHIRT"): 1}


def test_a_change_on_shipped_units_is_409(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    fulfillment.route_order(order_id=order["id"])
    ship_fo(FulfillmentOrder.objects.get(order_id=order["id"]))
    shirt = line_of(order, "SHIRT")
    movements = StockMovement.objects.count()

    response = change(
        web_client, order["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}
    )

    assert_error(response, 409, "order_not_changeable")  # completed: every unit shipped
    assert StockMovement.objects.count() == movements


def test_a_change_on_shipped_units_of_an_open_order_is_409(network, web_client):
    order = place(web_client, ("SHIRT", 2), ("JEANS", 1))
    fulfillment.route_order(order_id=order["id"])
    ship_fo(FulfillmentOrder.objects.get(order_id=order["id"]))
    response = change(
        web_client, order["id"], {"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5.00"}
    )
    assert response.status_code == 409  # completed: nothing open, no more changes
    # an order still in fulfilment: its shipped units cannot be cancelled
    other = place(web_client, ("SHIRT", 1), ("CAP", 1))  # two locations: two shipments
    fulfillment.route_order(order_id=other["id"])
    fos = list(FulfillmentOrder.objects.filter(order_id=other["id"]).select_related("location"))
    ship_fo(next(fo for fo in fos if fo.location.code == "wh-hcm"))
    shirt = line_of(other, "SHIRT")
    response = change(
        web_client, other["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}
    )
    body = assert_error(response, 409, "units_already_fulfilled")
    assert body["extra"] == {"order_line": shirt["id"], "open": 0, "requested": 1}


def test_units_a_location_accepted_are_not_taken_409_fulfillment_in_progress(network, web_client):
    order = place(web_client, ("SHIRT", 3))
    fulfillment.route_order(order_id=order["id"])
    fo = FulfillmentOrder.objects.get(order_id=order["id"])
    fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=STAFF)
    shirt = line_of(order, "SHIRT")

    response = change(
        web_client, order["id"], {"op": "change_quantity", "order_line": shirt["id"], "quantity": 1}
    )
    assert_error(response, 409, "fulfillment_in_progress")
    response = change(web_client, order["id"], {"op": "change_address", "shipping_address": HANOI_ADDRESS})
    assert_error(response, 409, "fulfillment_in_progress")
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 3}
    assert FulfillmentOrderLine.objects.get(fulfillment_order=fo).quantity == 3
    # more units are fine: they are routed on their own
    response = change(
        web_client, order["id"], {"op": "change_quantity", "order_line": shirt["id"], "quantity": 4}
    )
    assert response.status_code == 201, response.json()
    assert held(order["id"]) == {("wh-hcm", "SHIRT"): 4}


def test_cancelling_backordered_units_first(network, web_client):
    order = place(web_client, ("JEANS", 8), allow_backorder=True)  # 5 held, 3 waiting
    jeans = line_of(order, "JEANS")
    response = change(
        web_client, order["id"], {"op": "cancel_units", "order_line": jeans["id"], "quantity": 3}
    )
    assert response.status_code == 201, response.json()
    line = line_of(response.json()["order"], "JEANS")
    assert (line["quantity_cancelled"], line["quantity_backordered"]) == (3, 0)
    assert held(order["id"]) == {("wh-hcm", "JEANS"): 5}
    assert response.json()["order"]["status"] == "received"


def test_a_preview_writes_nothing(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    shirt = line_of(order, "SHIRT")
    models = [
        m for m in apps.get_models() if m._meta.app_label in {"orders", "inventory", "fulfillment", "oms"}
    ]
    counts = {m: m.objects.count() for m in models}
    stock = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))

    response = change(
        web_client,
        order["id"],
        {"op": "add_line", "sku": "JEANS", "quantity": 1, "unit_price": "30.00"},
        {"op": "change_quantity", "order_line": shirt["id"], "quantity": 1},
        preview=True,
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["preview"] is True
    assert body["money_delta"] == "20.00"
    assert body["order"]["total"] == "40.00"
    assert sorted(r["sku"] for r in body["order"]["reservations"] if r["status"] == "active") == [
        "JEANS",
        "SHIRT",
    ]
    assert {m: m.objects.count() for m in models} == counts
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == stock
    assert Order.objects.get(pk=order["id"]).total == Decimal("20.00")


def test_the_preview_path_is_the_same(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    response = web_client.api.post(
        f"/api/v1/orders/{order['id']}/changes/preview",
        {"operations": [{"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5.00"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["preview"] is True
    assert not OrderChange.objects.exists()


def test_a_repeated_idempotency_key_answers_the_first_change(network, web_client):
    order = place(web_client, ("SHIRT", 5))
    shirt = line_of(order, "SHIRT")
    op = {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}
    first = change(web_client, order["id"], op, key="change-1")
    again = change(web_client, order["id"], op, key="change-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert OrderLine.objects.get(pk=shirt["id"]).quantity_cancelled == 1
    other = change(web_client, order["id"], {**op, "quantity": 2}, key="change-1")
    assert_error(other, 422, "idempotency_key_reused")


def test_channel_clients_need_an_idempotency_key(network, web_client):
    order = place(web_client, ("SHIRT", 1))
    response = change(
        web_client, order["id"], {"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5"}, key=None
    )
    assert_error(response, 400, "idempotency_key_required")


def test_the_changes_are_listed_in_order(network, web_client, manager):
    order = place(web_client, ("SHIRT", 3))
    shirt = line_of(order, "SHIRT")
    assert (
        change(
            web_client, order["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 1}
        ).status_code
        == 201
    )
    response = change(
        manager,
        order["id"],
        {"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5.00"},
        {"op": "change_quantity", "order_line": shirt["id"], "quantity": 1},
        reason="call centre",
    )
    assert response.status_code == 201, response.json()

    listed = web_client.api.get(f"/api/v1/orders/{order['id']}/changes").json()

    assert [(c["revision"], c["position"], c["kind"]) for c in listed] == [
        (1, 1, "cancel_units"),
        (2, 1, "add_line"),
        (2, 2, "change_quantity"),
    ]
    assert [c["money_delta"] for c in listed] == ["-10.00", "5.00", "-10.00"]
    assert listed[1]["actor_type"] == "staff"
    assert listed[1]["reason"] == "call centre"
    assert Order.objects.get(pk=order["id"]).total == Decimal("15.00")


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        ({"op": "cancel_units", "order_line": 999999, "quantity": 1}, 422, "unknown_order_line"),
        ({"op": "cancel_units", "quantity": 1}, 422, "invalid_input"),
        ({"op": "add_line", "sku": "NOPE", "quantity": 1, "unit_price": "1"}, 422, "unknown_sku"),
        ({"op": "change_pickup_store", "pickup_location": "st-district1"}, 422, "not_a_pickup_order"),
        ({"op": "change_method", "method": "pickup", "pickup_location": "wh-hcm"}, 422, "pickup_not_offered"),
        ({"op": "explode"}, 422, "invalid_input"),
    ],
)
def test_bad_operations_are_refused_clearly(network, web_client, operation, status, code):
    order = place(web_client, ("SHIRT", 1))
    response = change(web_client, order["id"], operation)
    assert response.status_code == status, response.json()
    assert set(response.json()) == {"code", "message", "extra"}
    assert response.json()["code"] == code
    assert not OrderChange.objects.exists()


def test_too_many_units_and_unchanged_quantities(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    shirt = line_of(order, "SHIRT")
    response = change(
        web_client, order["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 3}
    )
    assert_error(response, 422, "quantity_exceeds_open")
    response = change(
        web_client, order["id"], {"op": "change_quantity", "order_line": shirt["id"], "quantity": 2}
    )
    assert_error(response, 422, "quantity_unchanged")


def test_another_channel_cannot_change_the_order(network, web_client, make_channel_client):
    order = place(web_client, ("SHIRT", 1))
    app = make_channel_client("app")
    response = change(app, order["id"], {"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5"})
    assert response.status_code == 404


def test_a_cancelled_order_cannot_change(network, web_client):
    order = place(web_client, ("SHIRT", 1))
    assert web_client.api.post(f"/api/v1/orders/{order['id']}/cancel", {}, format="json").status_code == 200
    response = change(
        web_client, order["id"], {"op": "add_line", "sku": "CAP", "quantity": 1, "unit_price": "5"}
    )
    assert_error(response, 409, "order_not_changeable")


def test_the_ledger_stays_true_after_changes(network, web_client):
    order = place(web_client, ("SHIRT", 4), ("JEANS", 1))
    shirt = line_of(order, "SHIRT")
    change(web_client, order["id"], {"op": "change_quantity", "order_line": shirt["id"], "quantity": 6})
    change(web_client, order["id"], {"op": "cancel_units", "order_line": shirt["id"], "quantity": 3})
    change(
        web_client,
        order["id"],
        {"op": "change_method", "method": "pickup", "pickup_location": "st-district1"},
    )
    for level in StockLevel.objects.all():
        moved = StockMovement.objects.filter(location=level.location, product=level.product).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
        assert (level.on_hand, level.reserved) == (moved["on_hand"] or 0, moved["reserved"] or 0)
    active = Reservation.objects.filter(status="active").aggregate(n=Sum("quantity"))["n"] or 0
    assert active == StockLevel.objects.aggregate(n=Sum("reserved"))["n"]
    for line in OrderLine.objects.filter(order_id=order["id"]):
        units = Reservation.objects.filter(line=line, status="active").aggregate(n=Sum("quantity"))["n"] or 0
        assert (
            line.quantity
            == line.quantity_cancelled + line.quantity_fulfilled + line.quantity_backordered + units
        )
