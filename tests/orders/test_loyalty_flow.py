"""Loyalty through the order flow (issue 22): points earned on capture once even when the capture is
retried, on completion for a channel whose rule says so, taken back when a return is refunded (a
debt when they were spent, settled on the next earn), and paid with on an order (its card pays the
rest); the API on every channel that may see the customer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.models import FulfillmentOrder
from oms.loyalty.errors import InsufficientPoints
from oms.loyalty.rules import loyalty_rule_set
from oms.loyalty.services import loyalty_burn
from oms.models import LoyaltyAccount, LoyaltyEntry, OutboxEvent
from orders.models import Order, Payment, PaymentTransaction, Reservation
from orders.services import (
    order_points_burn,
    payment_capture_shipment,
)
from orders.tasks import payment_capture
from returns import services as returns
from returns.services import ExchangeLineInput, ReturnLineInput
from tests.conftest import Authed
from tests.returns.conftest import MANAGER, SYSTEM, Net, fulfil, place

from .payment_helpers import place_paid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def net(transactional_db) -> Net:
    net = Net()
    loyalty_rule_set(
        channel=net.web,
        points_per_unit=Decimal("1"),
        point_value=Decimal("0.10"),
        expiry_days=365,
        actor=SYSTEM,
    )
    return net


def account(order) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(customer_id=order.customer_id)


def test_a_capture_earns_once_even_when_retried(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))
    assert account(order).balance == 50
    fo = FulfillmentOrder.objects.get(order=order)
    units = {str(line.pk): line.quantity for line in order.lines.all()}
    payment_capture.delay(order_id=order.pk, fulfillment_order_id=fo.pk, lines=units)  # a redelivery
    payment_capture_shipment(
        order_id=order.pk, fulfillment_order_id=fo.pk, lines={int(k): v for k, v in units.items()}
    )
    earns = LoyaltyEntry.objects.filter(kind="earn", order_id=order.pk)
    capture = PaymentTransaction.objects.get(order=order, kind="capture")
    assert list(earns.values_list("points", "reference")) == [(50, f"capture:{capture.pk}")]
    assert account(order).balance == 50
    assert OutboxEvent.objects.filter(topic="loyalty.earned").count() == 1


def test_completion_earns_for_a_channel_whose_rule_says_so(net):
    loyalty_rule_set(
        channel=net.web,
        points_per_unit=Decimal("2"),
        point_value=Decimal("0.10"),
        trigger="completion",
        actor=SYSTEM,
    )
    order = fulfil(place(net.web, ("SHIRT", 1, "10.00")))
    assert order.status == "completed"
    entry = LoyaltyEntry.objects.get(kind="earn", order_id=order.pk)
    assert (entry.points, entry.reference) == (20, f"order:{order.pk}:completion")


def test_a_refunded_return_takes_back_the_points_of_its_units_as_debt_once_spent(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))  # 50 points
    loyalty_burn(customer_id=order.customer_id, points=45, channel_id=net.web.pk, actor=SYSTEM)
    jeans = order.lines.get(sku="JEANS")
    rma = returns.return_create(
        order_id=order.pk,
        method="in_store",
        location_code=net.store.code,
        lines=[ReturnLineInput(order_line_id=jeans.pk, quantity=1, reason="wrong_size")],
        actor=MANAGER,
    ).rma
    returns.return_refund(return_id=rma.pk, amount=Decimal("30.00"), actor=MANAGER)
    acc = account(order)
    assert (acc.balance, acc.debt) == (0, 25)  # 30 points back: 5 were there, 25 had been spent
    reverse = LoyaltyEntry.objects.get(kind="reverse")
    assert (reverse.points, reverse.debt_delta, reverse.reference) == (-5, 25, f"return:{rma.pk}")
    fulfil(place(net.web, ("SHIRT", 4, "10.00")))  # the next earn: 40 points, 25 settle the debt
    acc.refresh_from_db()
    assert (acc.balance, acc.debt) == (15, 0)
    assert acc.balance == sum(LoyaltyEntry.objects.filter(account=acc).values_list("points", flat=True))


def test_points_paying_for_an_order_lower_what_the_card_pays(net):
    seed = fulfil(place(net.web, ("SHIRT", 5, "10.00")))  # 50 points
    order = place(net.web, ("JEANS", 1, "30.00"))  # authorised at once (eager): 30.00
    assert Payment.objects.get(pk=order.pk).authorized == Decimal("30.00")
    burn = order_points_burn(customer_id=seed.customer_id, points=50, actor=SYSTEM, order_id=order.pk)
    assert (burn.entry.amount, burn.entry.order_id) == (Decimal("5.00"), order.pk)
    payment = Payment.objects.get(pk=order.pk)
    assert payment.authorized == Decimal("25.00")  # the points' value voided from the authorisation
    assert order.events.filter(kind="loyalty_redeemed").exists()
    fulfil(order)
    payment.refresh_from_db()
    assert (payment.captured, payment.authorized) == (Decimal("25.00"), Decimal("25.00"))
    # the card's 25.00 earns 25 points; the points' 5.00 earns none
    assert LoyaltyEntry.objects.get(kind="earn", order_id=order.pk).points == 25


def test_the_api_on_every_channel_that_may_see_the_customer(net, make_channel_client, manager: Authed):
    order = fulfil(place(net.web, ("SHIRT", 3, "10.00")))
    web = make_channel_client("web")
    pos = make_channel_client("pos", "pos")
    stranger = make_channel_client("social", "social")
    path = f"/api/v1/customers/{order.customer_id}/loyalty"
    first = web.api.get(path).json()
    assert (first["balance"], first["debt"], len(first["loyalty_number"])) == (30, 0, 12)
    assert [e["kind"] for e in first["entries"]] == ["earn"]
    assert stranger.api.get(path).status_code == 404  # has never served the customer
    assert pos.api.get(path).status_code == 404
    # the store learns the customer: their loyalty at once, the same number
    order.customer.channel_refs.create(channel=pos.channel, external_id="pos-1")
    assert pos.api.get(path).json()["loyalty_number"] == first["loyalty_number"]
    refused = pos.api.post(f"{path}/burn", {"points": 10}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "loyalty_not_offered")
    burnt = web.api.post(f"{path}/burn", {"points": 10}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert burnt.status_code == 201, burnt.json()
    assert (burnt.json()["balance"], burnt.json()["value"]) == (20, "1.00")
    again = web.api.post(f"{path}/burn", {"points": 10}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (again.status_code, again.json()["balance"]) == (200, 20)
    other = web.api.post(f"{path}/burn", {"points": 11}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    short = web.api.post(f"{path}/burn", {"points": 21}, format="json")
    assert (short.status_code, short.json()["code"]) == (409, "insufficient_points")
    entries = web.api.get(f"{path}/entries?page_size=1").json()
    assert [e["points"] for e in entries["results"]] == [-10]
    assert entries["next"]
    assert manager.api.get(f"/api/v1/customers/{order.customer_id}/loyalty").json()["balance"] == 20
    rules = manager.api.post(
        "/api/v1/loyalty-rules",
        {"channel": "pos", "points_per_unit": "0.5", "point_value": "0.10"},
        format="json",
    )
    assert rules.status_code == 201, rules.json()
    assert web.api.get("/api/v1/loyalty-rules").status_code == 403
    assert {r["channel"] for r in manager.api.get("/api/v1/loyalty-rules").json()} == {"web", "pos"}
    assert pos.api.post(f"{path}/burn", {"points": 10}, format="json").status_code == 201


def test_placing_an_order_with_points_authorises_the_card_for_the_rest(net):
    fulfil(place(net.web, ("SHIRT", 5, "10.00")))  # 50 points
    order = place_paid(net, ("JEANS", 1, "30.00"), loyalty_points=40)
    assert Payment.objects.get(pk=order.pk).authorized == Decimal("26.00")  # 30.00 less 40 x 0.10
    assert order.events.filter(kind="loyalty_redeemed").count() == 1
    burn = LoyaltyEntry.objects.get(kind="burn", order_id=order.pk)
    assert (burn.points, burn.amount, burn.reference) == (-40, Decimal("4.00"), f"order:{order.pk}:placement")
    assert account(order).balance == 10
    stock_before = net.on_hand(net.jeans, net.warehouse)
    with pytest.raises(InsufficientPoints):  # 11 points short: nothing is placed, nothing held
        place_paid(net, ("JEANS", 1, "30.00"), loyalty_points=11)
    assert Order.objects.count() == 2
    assert net.on_hand(net.jeans, net.warehouse) == stock_before
    assert Reservation.objects.filter(order__in=Order.objects.all()).count() == 2
    assert account(order).balance == 10


def test_an_exchange_paid_by_the_returns_value_earns_nothing_more(net):
    order = fulfil(place(net.web, ("JEANS", 1, "30.00")))  # 30 points
    rma = returns.return_create(
        order_id=order.pk,
        method="in_store",
        location_code=net.store.code,
        lines=[ReturnLineInput(order_line_id=order.lines.get().pk, quantity=1, reason="wrong_size")],
        exchange_lines=[ExchangeLineInput(sku="SHIRT", quantity=3, unit_price=Decimal("10.00"))],
        actor=MANAGER,
    ).rma
    exchange = fulfil(Order.objects.get(pk=rma.exchange_order_id))
    assert Payment.objects.get(pk=exchange.pk).captured == Decimal("30.00")  # store credit
    assert not LoyaltyEntry.objects.filter(order_id=exchange.pk).exists()
    assert account(order).balance == 30  # the points of the money paid once
