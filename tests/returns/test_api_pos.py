"""A POS completes an in-store return: the in-person channel key receives and refunds for the associate
it names, who must be active staff working at the return's location; the associate is who the
receipt, the refund, the ledger and the order's timeline record. Other channel keys still may not."""

from __future__ import annotations

import pytest

from inventory.models import StockMovement
from oms.choices import ChannelKind
from orders.models import OrderEvent
from returns.models import Receipt, Refund, Return

from .conftest import return_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(make_channel_client):
    return make_channel_client("pos", ChannelKind.POS, name="pos-district1")


@pytest.fixture
def rma(net, shipped, pos) -> dict:
    response = pos.api.post("/api/v1/returns", return_body(shipped, net.store, ("SHIRT", 2)), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def receive(authed, rma: dict, associate: str | None, quantity: int = 2):  # type: ignore[no-untyped-def]
    body: dict = {
        "lines": [{"return_line": rma["lines"][0]["id"], "quantity": quantity, "disposition": "restock"}]
    }
    if associate is not None:
        body["associate"] = associate
    return authed.api.post(f"/api/v1/returns/{rma['id']}/receive", body, format="json")


def refund(authed, rma: dict, associate: str | None, amount: str = "20.00", **headers):  # type: ignore[no-untyped-def]
    body: dict = {"amount": amount, "method": "cash"}
    if associate is not None:
        body["associate"] = associate
    return authed.api.post(f"/api/v1/returns/{rma['id']}/refund", body, format="json", **headers)


def test_pos_receives_and_refunds_for_an_associate_of_the_store(net, shipped, pos, rma, make_associate):
    make_associate("clerk", net.store)
    received = receive(pos, rma, "clerk")
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "received"
    assert received.json()["receipts"][0]["received_by"] == "clerk"
    assert net.on_hand(net.shirt, net.store) == 2
    assert Receipt.objects.get().received_by_type == "staff"
    assert StockMovement.objects.get(kind="return_restock").actor_name == "clerk"

    refunded = refund(pos, rma, "clerk", HTTP_IDEMPOTENCY_KEY="till-7")
    assert refunded.status_code == 201, refunded.content
    assert refunded.json()["created_by"] == "clerk"
    assert refunded.json()["return_status"] == "refunded"
    again = refund(pos, rma, "clerk", HTTP_IDEMPOTENCY_KEY="till-7")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (Refund.objects.get().created_by, Refund.objects.get().created_by_type) == ("clerk", "staff")

    timeline = OrderEvent.objects.filter(order=shipped, kind__in=["return_received", "refund_created"])
    assert [(e.kind, e.actor_type, e.actor_name, e.data["via"]) for e in timeline.order_by("pk")] == [
        ("return_received", "staff", "clerk", "pos-district1"),
        ("refund_created", "staff", "clerk", "pos-district1"),
    ]
    events = pos.api.get(f"/api/v1/orders/{shipped.pk}").json()["events"]
    refunds = [e for e in events if e["kind"] == "refund_created"]
    assert [(e["actor_type"], e["actor_name"], e["data"]["via"]) for e in refunds] == [
        ("staff", "clerk", "pos-district1")
    ]


def test_a_manager_may_be_the_associate_anywhere(net, pos, rma, manager):
    assert receive(pos, rma, "manager").status_code == 200
    assert refund(pos, rma, "manager").status_code == 201


@pytest.mark.parametrize(
    ("associate", "code"),
    [(None, "associate_required"), ("", "associate_required"), ("nobody", "associate_unknown")],
)
def test_pos_must_name_an_active_staff_member(net, pos, rma, associate, code):
    for response in (receive(pos, rma, associate), refund(pos, rma, associate)):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == code
    assert Return.objects.get().status == "requested"
    assert not Refund.objects.exists()


def test_the_associate_must_work_at_the_returns_store(net, pos, rma, make_associate, manager):
    make_associate("elsewhere", net.other_store)
    for response in (receive(pos, rma, "elsewhere"), refund(pos, rma, "elsewhere")):
        assert response.status_code == 403
        assert response.json()["code"] == "location_not_permitted"
    # A deactivated associate of the store is no associate.
    clerk = make_associate("clerk", net.store)
    staff_id = manager.api.get("/api/v1/staff", {"username": "clerk"}).json()["results"][0]["id"]
    assert manager.api.post(f"/api/v1/staff/{staff_id}/deactivate", {}, format="json").status_code == 200
    assert receive(pos, rma, "clerk").json()["code"] == "associate_unknown"
    assert clerk.api.get("/api/v1/returns").status_code == 401
    assert net.on_hand(net.shirt, net.store) == 0


def test_web_keys_still_may_not_receive_or_refund_even_naming_an_associate(
    net, rma, web_client, make_channel_client, make_associate
):
    make_associate("clerk", net.store)
    app = make_channel_client("app", ChannelKind.APP)
    for client in (web_client, app):
        for response in (receive(client, rma, "clerk"), refund(client, rma, "clerk")):
            assert response.status_code == 403
            assert response.json()["code"] == "permission_denied"
    assert not Receipt.objects.exists()


def test_staff_act_as_themselves_and_name_no_associate(net, rma, make_associate):
    clerk = make_associate("clerk", net.store)
    make_associate("other", net.store)
    response = receive(clerk, rma, "other")
    assert response.status_code == 422
    assert response.json()["code"] == "associate_not_expected"
    assert receive(clerk, rma, "").status_code == 200
    assert Receipt.objects.get().received_by == "clerk"


def test_the_schema_says_what_a_pos_needs():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for component in ("ReturnReceiveInputRequest", "ReturnRefundInputRequest"):
        associate = schema["components"]["schemas"][component]["properties"]["associate"]
        assert "associate_required" in associate["description"]
    receive_op = schema["paths"]["/api/v1/returns/{id}/receive/"]["post"]
    assert "in-person channel key" in receive_op["description"]
