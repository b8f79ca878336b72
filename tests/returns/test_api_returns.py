"""Cross-channel returns through the REST API: bought anywhere, returned anywhere, restocked where
received, refunds never above what was paid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import StockMovement
from oms.choices import ChannelKind
from orders.models import Order, OrderEvent
from returns.models import Receipt, Refund, Return, ReturnLine

from .conftest import fulfil, line_of, place, return_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(make_channel_client):
    return make_channel_client("pos", ChannelKind.POS)


def create(authed, body, **headers):  # type: ignore[no-untyped-def]
    return authed.api.post("/api/v1/returns", body, format="json", **headers)


def receive(authed, rma_id: int, *lines: tuple[int, int, str]):  # type: ignore[no-untyped-def]
    body = {"lines": [{"return_line": rl, "quantity": q, "disposition": d} for rl, q, d in lines]}
    return authed.api.post(f"/api/v1/returns/{rma_id}/receive", body, format="json")


def refund(authed, rma_id: int, amount: str, method: str = "original_payment", **headers):  # type: ignore[no-untyped-def]
    body = {"amount": amount, "method": method}
    return authed.api.post(f"/api/v1/returns/{rma_id}/refund", body, format="json", **headers)


def kinds(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("kind", flat=True))


def test_online_order_returned_in_another_store_restocks_there_and_refunds(net, shipped, pos, make_associate):
    warehouse_before = net.on_hand(net.shirt, net.warehouse)
    response = create(pos, return_body(shipped, net.store, ("SHIRT", 2)))
    assert response.status_code == 201, response.content
    rma = response.json()
    assert rma["status"] == "requested"
    assert rma["channel"] == "pos"
    assert rma["location"] == "st-district1"
    assert rma["exchange_order"] is None
    assert rma["value"] == "20.00"
    (line,) = rma["lines"]
    assert line["id"]
    assert line["order_line"] == line_of(shipped, "SHIRT").pk

    clerk = make_associate("clerk", net.store)
    received = receive(clerk, rma["id"], (line["id"], 2, "restock"))
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "received"
    assert received.json()["lines"][0]["quantity_restocked"] == 2
    # Restocked where received, not at the warehouse that shipped them.
    assert net.on_hand(net.shirt, net.store) == 2
    assert net.on_hand(net.shirt, net.warehouse) == warehouse_before
    movement = StockMovement.objects.get(kind="return_restock")
    assert movement.location == net.store
    assert movement.on_hand_delta == 2
    assert movement.reference == f"return:{rma['number']}"

    refunded = refund(clerk, rma["id"], "20.00")
    assert refunded.status_code == 201, refunded.content
    body = refunded.json()
    assert body["amount"] == "20.00"
    assert body["method"] == "original_payment"
    assert body["return_status"] == "refunded"
    assert body["refundable"] == "30.00"
    assert Refund.objects.get().amount == Decimal("20.00")
    assert kinds(shipped)[-3:] == ["return_requested", "return_received", "refund_created"]


def test_damaged_units_are_recorded_not_restocked(net, shipped, manager):
    rma = create(manager, return_body(shipped, net.store, ("SHIRT", 2))).json()
    line_id = rma["lines"][0]["id"]
    response = receive(manager, rma["id"], (line_id, 1, "damaged"))
    assert response.status_code == 200
    assert response.json()["status"] == "partially_received"
    assert net.on_hand(net.shirt, net.store) == 0
    assert not StockMovement.objects.filter(kind="return_restock").exists()
    response = receive(manager, rma["id"], (line_id, 1, "restock"))
    assert response.json()["status"] == "received"
    line = ReturnLine.objects.get()
    assert (line.quantity_received, line.quantity_restocked, line.quantity_damaged) == (2, 1, 1)
    assert net.on_hand(net.shirt, net.store) == 1
    assert sorted(Receipt.objects.values_list("disposition", flat=True)) == ["damaged", "restock"]
    assert [r["disposition"] for r in response.json()["receipts"]] == ["damaged", "restock"]


def test_more_than_bought_is_refused_with_what_is_returnable(net, shipped, manager):
    response = create(manager, return_body(shipped, net.store, ("SHIRT", 3)))
    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "return_exceeds_returnable"
    assert error["extra"]["lines"] == [
        {"order_line": line_of(shipped, "SHIRT").pk, "sku": "SHIRT", "requested": 3, "returnable": 2}
    ]
    assert not Return.objects.exists()


def test_units_not_yet_shipped_cannot_be_returned(net, manager):
    order = place(net.web, ("SHIRT", 2, "10.00"))
    response = create(manager, return_body(order, net.store, ("SHIRT", 1)))
    assert response.status_code == 409
    assert response.json()["code"] == "return_exceeds_returnable"
    assert response.json()["extra"]["lines"][0]["returnable"] == 0


def test_a_second_return_of_the_same_units_is_refused(net, shipped, manager, pos):
    first = create(pos, return_body(shipped, net.store, ("SHIRT", 2)))
    assert first.status_code == 201
    again = create(manager, return_body(shipped, net.other_store, ("SHIRT", 1)))
    assert again.status_code == 409
    assert again.json()["code"] == "return_exceeds_returnable"
    # The jeans are still returnable.
    assert create(manager, return_body(shipped, net.other_store, ("JEANS", 1))).status_code == 201
    # Cancelling the first return frees its units.
    cancelled = pos.api.post(f"/api/v1/returns/{first.json()['id']}/cancel", {}, format="json")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert create(manager, return_body(shipped, net.other_store, ("SHIRT", 2))).status_code == 201


def test_a_store_that_does_not_accept_returns_is_refused(net, shipped, manager):
    response = create(manager, return_body(shipped, net.no_returns, ("SHIRT", 1)))
    assert response.status_code == 422
    assert response.json()["code"] == "location_not_accepting_returns"
    net.store.active = False
    net.store.save(update_fields=["active"])
    response = create(manager, return_body(shipped, net.store, ("SHIRT", 1)))
    assert response.json()["code"] == "location_not_accepting_returns"
    assert not Return.objects.exists()


def test_mail_return_to_a_warehouse(net, shipped, web_client, manager):
    before = net.on_hand(net.jeans, net.warehouse)
    body = return_body(shipped, net.warehouse, ("JEANS", 1), method="mail")
    body["lines"][0]["reason"] = "not_as_described"
    response = create(web_client, body)
    assert response.status_code == 201, response.content
    rma = response.json()
    assert (rma["method"], rma["location"], rma["channel"]) == ("mail", "wh-hcm", "web")
    receive(manager, rma["id"], (rma["lines"][0]["id"], 1, "restock"))
    assert net.on_hand(net.jeans, net.warehouse) == before + 1
    # An in-store return is taken at a store, not at a warehouse.
    wrong = create(manager, return_body(shipped, net.warehouse, ("SHIRT", 1)))
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "location_not_a_store"


def test_exchange_at_the_counter_creates_a_pickup_order_at_that_store(net, shipped, pos):
    from tests.conftest import stock_put

    stock_put(net.shirt, net.store, 3)
    body = return_body(shipped, net.store, ("SHIRT", 1))
    body["exchange_lines"] = [{"sku": "SHIRT", "quantity": 1, "unit_price": "12.00"}]
    response = create(pos, body)
    assert response.status_code == 201, response.content
    rma = response.json()
    exchange = Order.objects.get(pk=rma["exchange_order"]["id"])
    assert rma["exchange_order"]["number"] == exchange.number
    assert (exchange.method, exchange.pickup_location, exchange.channel.code) == ("pickup", net.store, "pos")
    assert exchange.customer == shipped.customer
    assert exchange.reservations.get().location == net.store
    # The return is worth 10.00, the new shirt costs 12.00: the customer pays 2.00.
    assert rma["exchange_balance"] == "2.00"
    assert rma["exchange_credit"] == "10.00"
    assert "exchange_created" in kinds(shipped)


def test_exchange_ships_when_the_store_lacks_the_units_and_a_refund_is_due(net, shipped, manager):
    body = return_body(shipped, net.store, ("JEANS", 1))
    body["exchange_lines"] = [{"sku": "SHIRT", "quantity": 2, "unit_price": "10.00"}]
    response = create(manager, body)
    assert response.status_code == 201, response.content
    rma = response.json()
    exchange = Order.objects.get(pk=rma["exchange_order"]["id"])
    assert exchange.method == "ship"
    assert exchange.shipping_address == shipped.shipping_address
    assert exchange.channel == shipped.channel  # staff return through the order's channel by default
    assert rma["exchange_balance"] == "-10.00"
    # 50.00 paid, 20.00 applied to the exchange: 30.00 may still be refunded.
    over = refund(manager, rma["id"], "30.01")
    assert over.status_code == 409
    assert over.json()["code"] == "refund_exceeds_paid"
    assert over.json()["extra"]["refundable"] == "30.00"
    assert refund(manager, rma["id"], "10.00").status_code == 201


def test_an_exchange_that_cannot_be_sourced_fails_the_whole_return(net, shipped, manager):
    orders_before = Order.objects.count()
    body = return_body(shipped, net.store, ("SHIRT", 1))
    body["exchange_lines"] = [{"sku": "CAP", "quantity": 1, "unit_price": "5.00"}]
    response = create(manager, body)
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert not Return.objects.exists()
    assert Order.objects.count() == orders_before
    assert not OrderEvent.objects.filter(kind__in=["return_requested", "exchange_created"]).exists()


def test_refund_never_exceeds_what_was_paid(net, shipped, manager):
    rma = create(manager, return_body(shipped, net.store, ("SHIRT", 2))).json()
    assert refund(manager, rma["id"], "45.00").status_code == 201
    over = refund(manager, rma["id"], "5.01")
    assert over.status_code == 409
    error = over.json()
    assert error["code"] == "refund_exceeds_paid"
    assert error["extra"]["refundable"] == "5.00"
    assert error["extra"]["paid"] == "50.00"
    assert refund(manager, rma["id"], "5.00", method="store_credit").status_code == 201
    assert sum(Refund.objects.values_list("amount", flat=True)) == Decimal("50.00")
    # A second return of the same order shares the cap.
    other = create(manager, return_body(shipped, net.store, ("JEANS", 1))).json()
    assert refund(manager, other["id"], "0.01").json()["code"] == "refund_exceeds_paid"


def test_a_retried_refund_with_the_same_key_refunds_once(net, shipped, manager):
    rma = create(manager, return_body(shipped, net.store, ("SHIRT", 1))).json()
    first = refund(manager, rma["id"], "10.00", HTTP_IDEMPOTENCY_KEY="refund-1")
    again = refund(manager, rma["id"], "10.00", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert Refund.objects.count() == 1
    other = refund(manager, rma["id"], "9.00", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_a_retried_return_with_the_same_key_creates_one(net, shipped, pos):
    body = return_body(shipped, net.store, ("SHIRT", 1))
    first = create(pos, body, HTTP_IDEMPOTENCY_KEY="rma-1")
    again = create(pos, body, HTTP_IDEMPOTENCY_KEY="rma-1")
    assert first.json()["id"] == again.json()["id"]
    assert Return.objects.count() == 1
    assert create(pos, {**body, "method": "mail"}, HTTP_IDEMPOTENCY_KEY="rma-1").status_code == 422


def test_associate_of_another_store_cannot_receive_or_refund(net, shipped, manager, make_associate):
    rma = create(manager, return_body(shipped, net.store, ("SHIRT", 2))).json()
    stranger = make_associate("stranger", net.other_store)
    # Staff see every return (to serve any customer), but act only at their own locations: 403.
    assert stranger.api.get(f"/api/v1/returns/{rma['id']}").status_code == 200
    response = receive(stranger, rma["id"], (rma["lines"][0]["id"], 2, "restock"))
    assert response.status_code == 403
    assert response.json()["code"] == "location_not_permitted"
    assert refund(stranger, rma["id"], "1.00").status_code == 403
    assert stranger.api.post(f"/api/v1/returns/{rma['id']}/close", {}, format="json").status_code == 403
    assert net.on_hand(net.shirt, net.store) == 0
    assert Return.objects.get().status == "requested"
    assert not Refund.objects.exists()
    # Nor open a return at a store they do not work at.
    other = create(stranger, return_body(shipped, net.store, ("JEANS", 1)))
    assert other.status_code == 403


def test_channels_cannot_receive_or_refund_and_do_not_see_other_channels_returns(
    net, shipped, web_client, make_channel_client
):
    rma = create(web_client, return_body(shipped, net.warehouse, ("SHIRT", 1), method="mail")).json()
    assert receive(web_client, rma["id"], (rma["lines"][0]["id"], 1, "restock")).status_code == 403
    assert refund(web_client, rma["id"], "1.00").status_code == 403
    social = make_channel_client("social", ChannelKind.SOCIAL)
    assert social.api.get(f"/api/v1/returns/{rma['id']}").status_code == 404
    assert social.api.get("/api/v1/returns").json()["results"] == []
    assert social.api.post(f"/api/v1/returns/{rma['id']}/cancel", {}, format="json").status_code == 404
    # Nor open a return for another channel's order.
    response = create(social, return_body(shipped, net.warehouse, ("SHIRT", 1), method="mail"))
    assert response.status_code == 404
    assert web_client.api.get("/api/v1/returns").json()["results"][0]["id"] == rma["id"]


def test_in_person_channel_may_return_any_order_and_list_filters(net, shipped, pos, manager):
    rma = create(pos, return_body(shipped, net.store, ("SHIRT", 1))).json()
    create(manager, return_body(shipped, net.other_store, ("JEANS", 1)))
    assert pos.api.get(f"/api/v1/returns/{rma['id']}").status_code == 200
    listing = manager.api.get("/api/v1/returns", {"location": "st-district1"}).json()["results"]
    assert [r["id"] for r in listing] == [rma["id"]]
    assert len(manager.api.get("/api/v1/returns", {"order": shipped.pk}).json()["results"]) == 2
    assert manager.api.get("/api/v1/returns", {"reason": "damaged"}).json()["results"] == []
    assert len(manager.api.get("/api/v1/returns", {"status": "requested"}).json()["results"]) == 2
    assert manager.api.get("/api/v1/returns/999999").status_code == 404
    assert manager.api.get("/api/v1/returns/abc").status_code == 404
    assert manager.api.get("/api/v1/returns", {"customer": "1e200"}).status_code == 422
    assert manager.api.get("/api/v1/returns", {"order": "1.5"}).status_code == 422
    mine = manager.api.get("/api/v1/returns", {"customer": shipped.customer_id}).json()["results"]
    assert len(mine) == 2


def test_returns_appear_in_the_order_and_the_customers_unified_history(net, shipped, pos, manager):
    rma = create(pos, return_body(shipped, net.store, ("SHIRT", 1))).json()
    refund(manager, rma["id"], "10.00")
    detail = manager.api.get(f"/api/v1/orders/{shipped.pk}").json()
    (section,) = detail["returns"]
    assert (section["id"], section["status"], section["refunded"]) == (rma["id"], "refunded", "10.00")
    assert section["lines"][0]["sku"] == "SHIRT"
    assert {"return_requested", "refund_created"} <= {e["kind"] for e in detail["events"]}
    history = manager.api.get(f"/api/v1/customers/{shipped.customer_id}/orders").json()["results"]
    assert history[0]["returns"][0]["number"] == rma["number"]
    # The channel that sold it sees it in its customer's history too.
    web = pos.api.get(f"/api/v1/orders/{shipped.pk}").json()
    assert web["returns"][0]["id"] == rma["id"]


def test_exchange_order_shows_what_it_was_for(net, shipped, manager):
    body = return_body(shipped, net.store, ("JEANS", 1))
    body["exchange_lines"] = [{"sku": "JEANS", "quantity": 1, "unit_price": "30.00"}]
    rma = create(manager, body).json()
    exchange = manager.api.get(f"/api/v1/orders/{rma['exchange_order']['id']}").json()
    assert exchange["exchange_for"]["return"] == rma["id"]
    assert exchange["exchange_for"]["order"] == shipped.pk
    assert exchange["returns"] == []
    assert rma["exchange_balance"] == "0.00"


def test_late_return_is_refused_unless_a_manager_overrides(net, shipped, pos, manager, settings):
    from datetime import timedelta

    from django.utils import timezone

    from fulfillment.models import FulfillmentOrder

    FulfillmentOrder.objects.filter(order=shipped).update(completed_at=timezone.now() - timedelta(days=31))
    late = create(pos, return_body(shipped, net.store, ("SHIRT", 1)))
    assert late.status_code == 409
    assert late.json()["code"] == "return_window_expired"
    assert late.json()["extra"]["window_days"] == 30
    not_allowed = create(pos, return_body(shipped, net.store, ("SHIRT", 1), override_window=True))
    assert not_allowed.status_code == 403
    assert not Return.objects.exists()
    overridden = create(manager, return_body(shipped, net.store, ("SHIRT", 1), override_window=True))
    assert overridden.status_code == 201
    assert overridden.json()["window_overridden"] is True
    # A longer window (setting) lets it in without an override.
    settings.OMS_RETURN_WINDOW_DAYS = 60
    assert create(pos, return_body(shipped, net.store, ("JEANS", 1))).json()["window_overridden"] is False


def test_collected_pickup_order_bought_in_store_returned_by_mail(net, manager, web_client):
    from tests.conftest import stock_put

    stock_put(net.cap, net.store, 2)
    order = fulfil(place(net.pos, ("CAP", 2, "5.00"), method="pickup", pickup="st-district1"))
    assert order.status == "completed"
    body = return_body(order, net.warehouse, ("CAP", 2), method="mail")
    response = create(manager, body)
    assert response.status_code == 201, response.content
    # The web channel cannot see the POS order, so it cannot return it.
    assert create(web_client, body).status_code == 404


def test_a_refunded_return_still_receives_and_then_closes(net, shipped, manager):
    rma = create(manager, return_body(shipped, net.warehouse, ("SHIRT", 2), method="mail")).json()
    assert refund(manager, rma["id"], "20.00").json()["return_status"] == "refunded"
    response = receive(manager, rma["id"], (rma["lines"][0]["id"], 2, "restock"))
    assert response.status_code == 200
    assert response.json()["status"] == "refunded"
    assert response.json()["received_at"] is not None
    closed = manager.api.post(f"/api/v1/returns/{rma['id']}/close", {}, format="json")
    assert closed.json()["status"] == "closed"
    again = receive(manager, rma["id"], (rma["lines"][0]["id"], 1, "restock"))
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert refund(manager, rma["id"], "1.00").json()["code"] == "invalid_transition"
    cancel = manager.api.post(f"/api/v1/returns/{rma['id']}/cancel", {}, format="json")
    assert cancel.json()["code"] == "invalid_transition"
