"""Payments (issue 19): the fake gateway's rules; an order authorised after placement (or arriving
authorised); capture per shipment and per handover, once; a decline or a failed capture puts the
order on a payment hold; refunds capped by captured minus refunded and sent through the gateway; a
cancelled order's authorisation voided. Real commits (``transactional_db``): the payment tasks run
after commit, eagerly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from oms.models import OutboxEvent
from oms.services import api_client_create
from oms.webhooks import WEBHOOK_EVENTS
from orders.choices import HoldReason, OrderStatus, PaymentStatus
from orders.models import Order, OrderEvent, Payment, PaymentTransaction
from orders.payments import GatewayDeclined, GatewayTransient, PaymentRequest
from orders.payments.fake import FakeGateway
from orders.services import PaymentInput, order_cancel, payment_capture_shipment
from orders.services import payments as payment_services
from orders.tasks import payment_capture
from returns import services as returns
from returns.errors import RefundExceedsPaid
from returns.services import ReturnLineInput
from tests.conftest import Authed
from tests.returns.conftest import MANAGER, SYSTEM, Net, fulfil, place

from .payment_helpers import place_paid, ship

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def net(transactional_db) -> Net:
    return Net()


@pytest.fixture
def web_client_for_net(net) -> Authed:
    _, key = api_client_create(name="web-shop", channel_code="web")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return Authed(api=api, key=key, channel=net.web)


def payment_of(order: Order) -> Payment:
    return Payment.objects.get(pk=order.pk)


def ledger(order: Order, **filters) -> list[tuple[str, Decimal, str]]:
    rows = PaymentTransaction.objects.filter(order=order, **filters).order_by("pk")
    return [(t.kind, t.amount, t.status) for t in rows]


def topics(order: Order, prefix: str = "payment.") -> list[str]:
    return [
        e.topic
        for e in OutboxEvent.objects.filter(topic__startswith=prefix).order_by("pk")
        if e.payload.get("order_id") == order.pk
    ]


def assert_amounts_ordered(payment: Payment) -> None:
    payment.refresh_from_db()
    assert Decimal("0") <= payment.refunded <= payment.captured <= payment.authorized


# --- The fake gateway ------------------------------------------------------------------------------


def test_fake_gateway_approves_declines_above_the_limit_and_is_flaky_once(settings):
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "100.00"
    gateway = FakeGateway()
    ok = gateway.authorize(PaymentRequest(amount=Decimal("100.00"), currency="USD", idempotency_key="a"))
    assert ok.provider_reference.startswith("fake_auth_")
    # the same key answers the first answer (a provider's idempotency)
    assert gateway.authorize(PaymentRequest(Decimal("100.00"), "USD", "a")) == ok
    with pytest.raises(GatewayDeclined):
        gateway.capture(PaymentRequest(Decimal("100.01"), "USD", "b"))
    # refunds and voids are not limited
    assert gateway.refund(PaymentRequest(Decimal("500.00"), "USD", "c")).provider_reference
    flaky = PaymentRequest(Decimal("5.00"), "USD", "d", token="tok_flaky_1")
    with pytest.raises(GatewayTransient):
        gateway.capture(flaky)
    assert gateway.capture(flaky).provider_reference.startswith("fake_cap_")
    # once per key: another key of the same token fails once too
    with pytest.raises(GatewayTransient):
        gateway.capture(PaymentRequest(Decimal("5.00"), "USD", "e", token="tok_flaky_1"))


# --- Authorisation ---------------------------------------------------------------------------------


def test_an_order_without_payment_is_authorised_for_its_total_after_commit(net):
    order = place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00"))
    payment = payment_of(order)
    assert (payment.authorized, payment.captured, payment.status) == (
        Decimal("50.00"),
        Decimal("0.00"),
        PaymentStatus.AUTHORIZED,
    )
    assert payment.provider == "fake"
    assert payment.provider_reference.startswith("fake_auth_")
    assert ledger(order) == [("authorize", Decimal("50.00"), "succeeded")]
    assert OrderEvent.objects.filter(order=order, kind="payment_authorized").count() == 1
    # authorising again is a no-op
    payment_services.payment_authorize(order_id=order.pk)
    assert len(ledger(order)) == 1


def test_an_order_may_arrive_authorised_by_the_storefront(net, web_client_for_net):
    body = {
        "customer": {"email": "ann@example.com"},
        "currency": "USD",
        "method": "ship",
        "shipping_address": {"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
        "lines": [{"sku": "SHIRT", "quantity": 1, "unit_price": "10.00"}],
        "payment": {"method": "card", "provider_reference": "psp_123", "authorized_amount": "12.00"},
    }
    response = web_client_for_net.api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    payment = payment_of(order)
    assert (payment.authorized, payment.provider_reference, payment.status) == (
        Decimal("12.00"),
        "psp_123",
        PaymentStatus.AUTHORIZED,
    )
    # the storefront's authorisation is the ledger's; the OMS did not authorise again
    assert ledger(order) == [("authorize", Decimal("12.00"), "succeeded")]
    detail = web_client_for_net.api.get(f"/api/v1/orders/{order.pk}").json()
    assert detail["payments"][0]["authorized"] == "12.00"
    assert detail["payments"][0]["transactions"][0]["kind"] == "authorize"
    assert "token" not in detail["payments"][0]
    listed = web_client_for_net.api.get(f"/api/v1/orders/{order.pk}/payments")
    assert listed.status_code == 200
    assert [p["status"] for p in listed.json()] == ["authorized"]


def test_a_storefront_authorisation_below_the_total_is_refused(net, web_client_for_net):
    body = {
        "currency": "USD",
        "method": "ship",
        "shipping_address": {"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
        "lines": [{"sku": "SHIRT", "quantity": 2, "unit_price": "10.00"}],
        "payment": {"provider_reference": "psp_1", "authorized_amount": "19.99"},
    }
    response = web_client_for_net.api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert response.status_code == 422
    assert response.json()["code"] == "payment_below_total"
    assert not Order.objects.exists()
    assert not Payment.objects.exists()


def test_a_declined_authorisation_holds_the_order_and_announces_payment_failed(net, settings):
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "40.00"
    order = place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00"))
    order.refresh_from_db()
    assert payment_of(order).status == PaymentStatus.DECLINED
    assert ledger(order) == [("authorize", Decimal("50.00"), "failed")]
    assert order.status == OrderStatus.ON_HOLD
    assert list(order.holds.values_list("reason", flat=True)) == [HoldReason.PAYMENT]
    assert topics(order) == ["payment.failed"]


# --- Capture per shipment --------------------------------------------------------------------------


def test_shipping_captures_the_order_value_once(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))
    payment = payment_of(order)
    assert (payment.captured, payment.status) == (Decimal("50.00"), PaymentStatus.CAPTURED)
    assert ledger(order, kind="capture") == [("capture", Decimal("50.00"), "succeeded")]
    assert topics(order) == ["payment.captured"]
    # the task again (a redelivery), and the service again: nothing more is captured
    fo = FulfillmentOrder.objects.get(order=order)
    line_units = {str(line.pk): line.quantity for line in order.lines.all()}
    payment_capture.delay(order_id=order.pk, fulfillment_order_id=fo.pk, lines=line_units)
    payment_capture_shipment(
        order_id=order.pk, fulfillment_order_id=fo.pk, lines={int(k): v for k, v in line_units.items()}
    )
    assert len(ledger(order, kind="capture")) == 1
    assert payment_of(order).captured == Decimal("50.00")


def test_a_pickup_handover_captures_its_value(net):
    from tests.conftest import stock_put

    stock_put(net.shirt, net.store, 3)
    order = fulfil(place(net.web, ("SHIRT", 1, "10.00"), method="pickup", pickup=net.store.code))
    assert FulfillmentOrder.objects.get(order=order).status == "picked_up"
    assert payment_of(order).captured == Decimal("10.00")
    assert ledger(order, kind="capture") == [("capture", Decimal("10.00"), "succeeded")]


def test_each_shipment_captures_its_share_and_the_shares_add_up_to_the_total(net):
    from tests.conftest import stock_put
    from tests.factories import LocationFactory

    other = LocationFactory(code="wh-other", latitude=Decimal("10.9"), longitude=Decimal("106.9"))
    stock_put(net.cap, other, 5)  # caps only there: the order splits in two shipments
    order = place(net.web, ("SHIRT", 3, "3.33"), ("CAP", 1, "5.00"))
    fulfillment.route_order(order_id=order.pk)
    fos = list(FulfillmentOrder.objects.filter(order=order).order_by("pk"))
    assert len(fos) == 2
    ship(fos[0])
    first = payment_of(order).captured
    assert Decimal("0") < first < order.total
    assert payment_of(order).status == PaymentStatus.PARTIALLY_CAPTURED
    ship(fos[1])
    payment = payment_of(order)
    assert payment.captured == order.total == Decimal("14.99")
    assert payment.status == PaymentStatus.CAPTURED
    assert len(ledger(order, kind="capture", status="succeeded")) == 2


def test_a_capture_interrupted_after_the_gateway_call_is_settled_once_when_retried(net, monkeypatch):
    order = place(net.web, ("SHIRT", 1, "10.00"))
    fulfillment.route_order(order_id=order.pk)
    fo = FulfillmentOrder.objects.get(order=order)
    line = order.lines.get()
    real_settle = payment_services._settle

    def die_after_the_call(*args, **kwargs):  # the worker dies between the call and the settlement
        raise SystemExit("killed")

    monkeypatch.setattr(payment_services, "_settle", die_after_the_call)
    with pytest.raises(SystemExit):
        payment_capture_shipment(order_id=order.pk, fulfillment_order_id=fo.pk, lines={line.pk: 1})
    assert ledger(order, kind="capture") == [("capture", Decimal("10.00"), "pending")]
    monkeypatch.setattr(payment_services, "_settle", real_settle)
    # the redelivered task finds the pending row and sends it again under the same key
    payment_capture_shipment(order_id=order.pk, fulfillment_order_id=fo.pk, lines={line.pk: 1})
    payment_capture_shipment(order_id=order.pk, fulfillment_order_id=fo.pk, lines={line.pk: 1})
    assert ledger(order, kind="capture") == [("capture", Decimal("10.00"), "succeeded")]
    assert payment_of(order).captured == Decimal("10.00")


def test_a_transient_gateway_failure_is_retried_and_captured_once(net):
    order = place_paid(net, ("SHIRT", 2, "10.00"), payment=PaymentInput(token="tok_flaky"))
    authorize = PaymentTransaction.objects.get(order=order, kind="authorize")
    assert (authorize.status, authorize.attempts) == ("succeeded", 1)  # failed once, then retried
    fulfil(order)
    capture = PaymentTransaction.objects.get(order=order, kind="capture")
    assert (capture.status, capture.attempts, capture.amount) == ("succeeded", 1, Decimal("20.00"))
    assert payment_of(order).captured == Decimal("20.00")


def test_a_capture_that_fails_for_good_holds_the_order_and_announces_payment_failed(net, settings):
    # the storefront authorised 50.00; the gateway then declines any capture above 40.00
    order = place_paid(
        net,
        ("SHIRT", 2, "10.00"),
        ("JEANS", 1, "30.00"),
        payment=PaymentInput(provider_reference="psp_9", authorized_amount=Decimal("50.00")),
    )
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "40.00"
    fulfil(order)
    order.refresh_from_db()
    payment = payment_of(order)
    assert (payment.captured, payment.status) == (Decimal("0.00"), PaymentStatus.FAILED)
    assert ledger(order, kind="capture") == [("capture", Decimal("50.00"), "failed")]
    # the units are gone: the order keeps its status and carries the payment hold all the same
    assert order.status == OrderStatus.COMPLETED
    assert list(order.holds.filter(released_at__isnull=True).values_list("reason", flat=True)) == ["payment"]
    assert topics(order) == ["payment.failed"]
    assert OrderEvent.objects.filter(order=order, kind="payment_failed").exists()


# --- Refunds and voids -----------------------------------------------------------------------------


def _return_of(order: Order, sku: str, quantity: int):
    line = order.lines.get(sku=sku)
    return returns.return_create(
        order_id=order.pk,
        method="in_store",
        location_code="st-district1",
        lines=[ReturnLineInput(order_line_id=line.pk, quantity=quantity, reason="wrong_size")],
        actor=MANAGER,
    ).rma


def test_a_refund_goes_through_the_gateway_and_is_capped_by_captured_minus_refunded(net):
    from tests.conftest import stock_put
    from tests.factories import LocationFactory

    other = LocationFactory(code="wh-other", latitude=Decimal("10.9"), longitude=Decimal("106.9"))
    stock_put(net.cap, other, 5)
    order = place(net.web, ("SHIRT", 2, "10.00"), ("CAP", 1, "5.00"))
    fulfillment.route_order(order_id=order.pk)
    shirts = FulfillmentOrder.objects.get(order=order, location=net.warehouse)
    ship(shirts)  # 20.00 captured; the cap (5.00) is still authorised only
    rma = _return_of(order, "SHIRT", 2)
    # the order's total (25.00) was paid under the old rule; only 20.00 was captured
    with pytest.raises(RefundExceedsPaid) as refused:
        returns.return_refund(return_id=rma.pk, amount=Decimal("20.01"), actor=MANAGER)
    assert refused.value.extra["refundable"] == "20.00"
    assert (refused.value.extra["captured"], refused.value.extra["refunded"]) == ("20.00", "0.00")
    returns.return_refund(return_id=rma.pk, amount=Decimal("15.00"), actor=MANAGER)
    payment = payment_of(order)
    assert (payment.captured, payment.refunded, payment.status) == (
        Decimal("20.00"),
        Decimal("15.00"),
        PaymentStatus.PARTIALLY_REFUNDED,
    )
    assert ledger(order, kind="refund") == [("refund", Decimal("15.00"), "succeeded")]
    assert OutboxEvent.objects.filter(topic="refund.created", payload__order_id=order.pk).count() == 1
    with pytest.raises(RefundExceedsPaid) as again:
        returns.return_refund(return_id=rma.pk, amount=Decimal("5.01"), actor=MANAGER)
    assert (again.value.extra["refundable"], again.value.extra["refunded"]) == ("5.00", "15.00")
    assert_amounts_ordered(payment)


def test_the_refund_endpoint_answers_409_with_the_amounts(net, manager):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00")))
    rma = _return_of(order, "SHIRT", 1)
    response = manager.api.post(f"/api/v1/returns/{rma.pk}/refund", {"amount": "20.01"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "refund_exceeds_paid"
    assert (body["extra"]["captured"], body["extra"]["refunded"], body["extra"]["refundable"]) == (
        "20.00",
        "0.00",
        "20.00",
    )


def test_an_order_without_a_payment_keeps_the_old_refund_rule(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00")))
    Payment.objects.filter(pk=order.pk).delete()  # an order from before payments
    rma = _return_of(order, "SHIRT", 1)
    returns.return_refund(return_id=rma.pk, amount=Decimal("20.00"), actor=MANAGER)
    assert not PaymentTransaction.objects.filter(order=order).exists()
    with pytest.raises(RefundExceedsPaid) as refused:
        returns.return_refund(return_id=rma.pk, amount=Decimal("0.01"), actor=MANAGER)
    assert refused.value.extra["paid"] == "20.00"


def test_cancelling_before_shipping_voids_the_authorisation(net):
    order = place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00"))
    order_cancel(order_id=order.pk, reason="changed my mind", actor=SYSTEM)
    payment = payment_of(order)
    assert (payment.authorized, payment.captured, payment.refunded, payment.status) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        PaymentStatus.VOIDED,
    )
    assert ledger(order) == [
        ("authorize", Decimal("50.00"), "succeeded"),
        ("void", Decimal("50.00"), "succeeded"),
    ]
    assert not ledger(order, kind="refund")


def test_an_expired_pickup_voids_what_no_unit_needs(net):
    from tests.conftest import stock_put

    stock_put(net.shirt, net.store, 3)
    order = place(net.web, ("SHIRT", 2, "10.00"), method="pickup", pickup=net.store.code)
    fulfillment.route_order(order_id=order.pk)
    fo = FulfillmentOrder.objects.get(order=order)
    fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
    fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    FulfillmentOrder.objects.filter(pk=fo.pk).update(pickup_expires_at="2000-01-01T00:00:00Z")
    fulfillment.fulfillment_order_expire(fulfillment_order_id=fo.pk, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    payment = payment_of(order)
    assert (payment.authorized, payment.status) == (Decimal("0.00"), PaymentStatus.VOIDED)


# --- Topics, admin ---------------------------------------------------------------------------------


def test_payment_topics_are_webhook_topics():
    assert {"payment.captured", "payment.failed"} <= set(WEBHOOK_EVENTS)


def test_admin_shows_the_payment_inline_and_filters_by_payment_status(net, admin_client):
    captured = fulfil(place(net.web, ("SHIRT", 1, "10.00")))
    authorised = place(net.web, ("SHIRT", 1, "10.00"))
    page = admin_client.get(f"/admin/orders/order/{captured.pk}/change/")
    assert page.status_code == 200
    assert b"fake_cap_" in page.content
    listed = admin_client.get("/admin/orders/order/?payment_status=captured")
    assert listed.status_code == 200
    numbers = {o.number for o in listed.context["cl"].result_list}
    assert numbers == {captured.number}
    assert authorised.number not in numbers


def test_a_storefront_payment_costs_placement_no_statement(net, web_client_for_net, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])  # the request alone

    def statements(key: str, **extra) -> int:
        body = {
            "customer": {"email": "ann@example.com"},
            "currency": "USD",
            "method": "ship",
            "shipping_address": {"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
            "lines": [{"sku": "SHIRT", "quantity": 1, "unit_price": "10.00"}],
            **extra,
        }
        with CaptureQueriesContext(connection) as ctx:
            response = web_client_for_net.api.post(
                "/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
        assert response.status_code == 201, response.json()
        return len(ctx.captured_queries)

    statements("warm-up")
    plain = statements("plain")
    paid = statements("paid", payment={"provider_reference": "psp_7"})
    tokened = statements("token", payment={"token": "tok_1"})
    if connection.vendor == "postgresql":  # the payment rows are CTEs of the placement's one statement
        assert plain == paid == tokened
    assert Payment.objects.filter(status="authorized").count() == 1
    assert Payment.objects.filter(status="pending", token="tok_1").count() == 1


def test_an_exchange_is_paid_by_store_credit_and_never_charges_the_card_again(net):
    from returns.services import ExchangeLineInput

    order = fulfil(place(net.web, ("SHIRT", 2, "10.00")))
    line = order.lines.get(sku="SHIRT")
    created = returns.return_create(
        order_id=order.pk,
        method="mail",
        location_code="wh-hcm",
        lines=[ReturnLineInput(order_line_id=line.pk, quantity=1, reason="wrong_size")],
        exchange_lines=[ExchangeLineInput(sku="JEANS", quantity=1, unit_price=Decimal("10.00"))],
        actor=MANAGER,
    )
    exchange = created.rma.exchange_order
    assert exchange is not None
    credit = payment_of(exchange)
    assert (credit.provider, credit.method) == ("store_credit", "exchange_credit")
    assert credit.status == PaymentStatus.AUTHORIZED
    assert credit.authorized == exchange.total
    assert ledger(exchange) == [("authorize", exchange.total, "succeeded")]  # written with the order
    # shipped: the credit is captured through the store-credit gateway, whatever OMS_PAYMENT_GATEWAY is
    fulfil(exchange)
    credit.refresh_from_db()
    assert (credit.captured, credit.status) == (exchange.total, PaymentStatus.CAPTURED)
    (capture,) = PaymentTransaction.objects.filter(order=exchange, kind="capture")
    assert capture.provider_reference.startswith("credit:")
    # the original order's card payment was captured once, for the original order only
    assert ledger(order, kind="capture") == [("capture", Decimal("20.00"), "succeeded")]
    assert_amounts_ordered(credit)
