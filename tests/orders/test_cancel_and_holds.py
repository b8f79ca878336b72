"""Cancel (releases every held unit; refused once a unit is delivered) and holds (a manager stops
an order from being routed, then releases it)."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from inventory.models import StockLevel, StockMovement
from oms import events
from oms.choices import ChannelKind
from orders.models import Order, OrderEvent, OrderHold, OrderLine, Reservation

from .conftest import post_order, ship_body


def place(authed, *lines: tuple[str, int], **extra) -> dict:
    response = post_order(authed, ship_body(*lines, **extra))
    assert response.status_code == 201, response.json()
    return response.json()


def cancel(authed, order_id: int, reason: str = "customer changed their mind"):
    return authed.api.post(f"/api/v1/orders/{order_id}/cancel", {"reason": reason}, format="json")


def hold(authed, order_id: int, reason: str = "fraud_review", note: str = ""):
    return authed.api.post(
        f"/api/v1/orders/{order_id}/holds", {"reason": reason, "note": note}, format="json"
    )


def release(authed, order_id: int, **body):
    return authed.api.post(f"/api/v1/orders/{order_id}/release-hold", body, format="json")


def total_reserved() -> int:
    return StockLevel.objects.aggregate(total=Sum("reserved"))["total"] or 0


def event_kinds(order_id: int) -> list[str]:
    return list(OrderEvent.objects.filter(order_id=order_id).values_list("kind", flat=True))


def assert_house_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code


@pytest.fixture
def recorded(monkeypatch):
    """Record what oms.events announces (after commit) for the topics the test subscribes to."""
    seen: list[tuple[str, dict]] = []

    def record(topic: str, payload: dict) -> None:
        seen.append((topic, payload))

    def subscribe(topic: str) -> None:
        # a copy of the topic's subscribers, restored after the test: nothing leaks into others
        monkeypatch.setitem(events._subscribers, topic, list(events._subscribers.get(topic, [])))
        events.subscribe(topic, record)

    return seen, subscribe


# --- Cancel -----------------------------------------------------------------------------------------


def test_cancel_releases_every_reservation(network, web_client):
    order = place(web_client, ("SHIRT", 22), ("JEANS", 2))  # split: warehouse and store
    assert total_reserved() == 24
    held = {(r["location"], r["sku"]): r["quantity"] for r in order["reservations"]}

    response = cancel(web_client, order["id"])

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled"
    assert {r["status"] for r in body["reservations"]} == {"released"}
    assert [(line["quantity"], line["quantity_cancelled"]) for line in body["lines"]] == [(22, 22), (2, 2)]
    assert total_reserved() == 0
    assert not Reservation.objects.filter(order_id=order["id"], status="active").exists()
    releases = StockMovement.objects.filter(kind="release").select_related("product", "location")
    released = {(m.location.code, m.product.sku): -m.reserved_delta for m in releases}
    assert released == held
    assert all(m.on_hand_delta == 0 for m in releases)
    db_order = Order.objects.get(pk=order["id"])
    assert db_order.status == "cancelled"
    assert db_order.cancelled_at is not None
    assert list(OrderLine.objects.filter(order=db_order).values_list("quantity_cancelled", flat=True)) == [
        22,
        2,
    ]
    event = OrderEvent.objects.get(order=db_order, kind="cancelled")
    assert event.data["reason"] == "customer changed their mind"
    assert event.data["released_units"] == 24
    assert event.actor_type == "channel"


def test_the_ledger_rows_of_one_order_share_its_reference(network, web_client):
    order = place(web_client, ("SHIRT", 1))
    assert cancel(web_client, order["id"]).status_code == 200
    references = set(
        StockMovement.objects.filter(kind__in=["reservation", "release"]).values_list("reference", flat=True)
    )
    assert references == {f"order:{order['number']}"}


def test_cancel_of_a_backordered_order_drops_the_backorder(network, web_client):
    order = place(web_client, ("JEANS", 8), allow_backorder=True)
    assert order["status"] == "backordered"
    response = cancel(web_client, order["id"])
    assert response.status_code == 200, response.json()
    line = response.json()["lines"][0]
    assert (line["quantity_cancelled"], line["quantity_backordered"]) == (8, 0)
    assert total_reserved() == 0


def test_a_manager_may_cancel_any_order(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    response = cancel(manager, order["id"])
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert OrderEvent.objects.get(order_id=order["id"], kind="cancelled").actor_name == "manager"


def test_cancelling_twice_is_a_no_op(network, web_client):
    order = place(web_client, ("SHIRT", 2))
    assert cancel(web_client, order["id"]).status_code == 200
    movements = StockMovement.objects.count()

    again = cancel(web_client, order["id"])

    assert again.status_code == 200, again.json()
    assert again.json()["status"] == "cancelled"
    assert StockMovement.objects.count() == movements
    assert event_kinds(order["id"]).count("cancelled") == 1
    assert total_reserved() == 0


def test_cancel_once_a_unit_is_fulfilled_is_409(network, web_client):
    order = place(web_client, ("SHIRT", 2), ("JEANS", 1))
    # the first unit has left the building (shipment is simulated on the line)
    OrderLine.objects.filter(pk=order["lines"][0]["id"]).update(quantity_fulfilled=1)

    response = cancel(web_client, order["id"])

    assert_house_error(response, 409, "order_not_cancellable")
    assert Order.objects.get(pk=order["id"]).status == "received"
    assert total_reserved() == 3
    assert not StockMovement.objects.filter(kind="release").exists()
    assert "cancelled" not in event_kinds(order["id"])


def test_another_channel_cannot_cancel_the_order(network, make_channel_client):
    web = make_channel_client("web", ChannelKind.WEB)
    app = make_channel_client("app", ChannelKind.APP)
    order = place(web, ("SHIRT", 1))

    response = cancel(app, order["id"])

    assert_house_error(response, 404, "order_not_found")
    assert Order.objects.get(pk=order["id"]).status == "received"
    assert total_reserved() == 1


def test_an_in_person_channel_sees_but_cannot_cancel_another_channels_order(network, make_channel_client):
    web = make_channel_client("web", ChannelKind.WEB)
    pos = make_channel_client("pos", ChannelKind.POS)
    order = place(web, ("SHIRT", 1))
    assert pos.api.get(f"/api/v1/orders/{order['id']}").status_code == 200

    response = cancel(pos, order["id"])

    assert_house_error(response, 403, "permission_denied")
    assert total_reserved() == 1


def test_an_associate_cannot_cancel(network, web_client, make_associate):
    associate = make_associate("alice", network.warehouse)
    order = place(web_client, ("SHIRT", 1))

    response = cancel(associate, order["id"])

    assert_house_error(response, 403, "permission_denied")
    assert Order.objects.get(pk=order["id"]).status == "received"
    assert total_reserved() == 1


def test_anonymous_cannot_cancel(network, web_client, anon):
    order = place(web_client, ("SHIRT", 1))
    response = anon.post(f"/api/v1/orders/{order['id']}/cancel", {}, format="json")
    assert response.status_code == 401
    assert total_reserved() == 1


def test_cancel_of_an_unknown_order_is_404(network, web_client):
    assert_house_error(cancel(web_client, 987654), 404, "order_not_found")


# --- Holds ----------------------------------------------------------------------------------------------


def test_a_manager_places_a_hold_and_the_units_stay_held(network, web_client, manager):
    order = place(web_client, ("SHIRT", 2))

    response = hold(manager, order["id"], "fraud_review", note="card used in two countries")

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["reason"] == "fraud_review"
    assert created["note"] == "card used in two countries"
    assert created["released_at"] is None
    db_order = Order.objects.get(pk=order["id"])
    assert db_order.status == "on_hold"
    assert db_order.status_before_hold == "received"
    assert OrderHold.objects.get(pk=created["id"]).order_id == order["id"]
    assert total_reserved() == 2
    assert set(Reservation.objects.filter(order=db_order).values_list("status", flat=True)) == {"active"}
    assert event_kinds(order["id"])[-1] == "hold_placed"
    detail = manager.api.get(f"/api/v1/orders/{order['id']}").json()
    assert detail["status"] == "on_hold"
    assert [h["reason"] for h in detail["holds"]] == ["fraud_review"]


@pytest.mark.parametrize("reason", ["vibes", "", None, 3])
def test_a_hold_needs_a_known_reason(network, web_client, manager, reason):
    order = place(web_client, ("SHIRT", 1))
    response = manager.api.post(f"/api/v1/orders/{order['id']}/holds", {"reason": reason}, format="json")
    assert response.status_code == 422, response.json()
    assert set(response.json()) == {"code", "message", "extra"}
    assert Order.objects.get(pk=order["id"]).status == "received"
    assert not OrderHold.objects.exists()


def test_a_hold_without_a_body_is_422(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    response = manager.api.post(f"/api/v1/orders/{order['id']}/holds")
    assert response.status_code == 422, response.json()
    assert not OrderHold.objects.exists()


def test_only_managers_place_and_release_holds(network, web_client, make_associate, manager):
    associate = make_associate("alice", network.warehouse, network.store)
    order = place(web_client, ("SHIRT", 1))
    for who in (web_client, associate):
        assert_house_error(hold(who, order["id"]), 403, "permission_denied")
    assert not OrderHold.objects.exists()
    assert hold(manager, order["id"]).status_code == 201
    for who in (web_client, associate):
        assert_house_error(release(who, order["id"]), 403, "permission_denied")
    assert Order.objects.get(pk=order["id"]).status == "on_hold"


def test_release_goes_back_to_the_previous_status(network, web_client, manager):
    order = place(web_client, ("JEANS", 7), allow_backorder=True)
    assert order["status"] == "backordered"
    assert hold(manager, order["id"], "payment").status_code == 201

    response = release(manager, order["id"])

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "backordered"
    assert body["holds"][0]["released_at"] is not None
    db_order = Order.objects.get(pk=order["id"])
    assert db_order.status == "backordered"
    assert db_order.status_before_hold == ""
    released = OrderEvent.objects.filter(order=db_order, kind="hold_released").get()
    assert released.data["status"] == "backordered"
    assert released.actor_name == "manager"
    assert OrderHold.objects.get().released_by == "manager"
    assert total_reserved() == 5


def test_with_two_holds_the_order_stays_held_until_both_are_released(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    first = hold(manager, order["id"], "fraud_review").json()
    second = hold(manager, order["id"], "address").json()
    assert Order.objects.get(pk=order["id"]).status == "on_hold"

    assert release(manager, order["id"], hold=first["id"]).json()["status"] == "on_hold"
    assert OrderHold.objects.get(pk=first["id"]).released_at is not None
    assert OrderHold.objects.get(pk=second["id"]).released_at is None

    assert release(manager, order["id"], hold=second["id"]).json()["status"] == "received"


def test_release_without_an_active_hold_is_409(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    assert_house_error(release(manager, order["id"]), 409, "no_active_hold")
    assert hold(manager, order["id"]).status_code == 201
    assert release(manager, order["id"]).status_code == 200
    assert_house_error(release(manager, order["id"]), 409, "no_active_hold")
    assert Order.objects.get(pk=order["id"]).status == "received"


def test_a_hold_on_a_cancelled_order_is_an_invalid_transition(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    assert cancel(web_client, order["id"]).status_code == 200

    response = hold(manager, order["id"], "manual")

    assert_house_error(response, 409, "invalid_transition")
    assert response.json()["extra"] == {"entity": "order", "current": "cancelled", "target": "on_hold"}
    assert not OrderHold.objects.exists()
    assert Order.objects.get(pk=order["id"]).status == "cancelled"


def test_a_held_order_can_be_cancelled_and_its_units_released(network, web_client, manager):
    order = place(web_client, ("SHIRT", 3))
    assert hold(manager, order["id"]).status_code == 201
    response = cancel(manager, order["id"])
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert total_reserved() == 0


def test_releasing_the_hold_of_a_cancelled_order_does_not_revive_it(network, web_client, manager):
    order = place(web_client, ("SHIRT", 1))
    assert hold(manager, order["id"]).status_code == 201
    assert cancel(manager, order["id"]).status_code == 200

    response = release(manager, order["id"])

    assert Order.objects.get(pk=order["id"]).status == "cancelled"
    assert response.status_code == 409


def test_hold_on_an_unknown_order_is_404(network, manager):
    assert_house_error(hold(manager, 987654), 404, "order_not_found")
    assert_house_error(release(manager, 987654), 404, "order_not_found")


# --- Events -------------------------------------------------------------------------------------------


def test_placement_announces_order_created_after_commit(
    network, web_client, recorded, django_capture_on_commit_callbacks
):
    seen, subscribe = recorded
    subscribe("order.created")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(web_client, ("SHIRT", 1))
    assert seen == [("order.created", {"order_id": order["id"], "number": order["number"], "channel": "web"})]


def test_a_refused_order_announces_nothing(network, web_client, recorded, django_capture_on_commit_callbacks):
    seen, subscribe = recorded
    subscribe("order.created")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_order(web_client, ship_body(("JEANS", 99))).status_code == 409
    assert seen == []


def test_release_announces_order_hold_released_after_commit(
    network, web_client, manager, recorded, django_capture_on_commit_callbacks
):
    seen, subscribe = recorded
    subscribe("order.hold_released")
    order = place(web_client, ("SHIRT", 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert hold(manager, order["id"]).status_code == 201
    assert seen == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert release(manager, order["id"]).status_code == 200
    assert callbacks
    assert seen == [("order.hold_released", {"order_id": order["id"]})]
