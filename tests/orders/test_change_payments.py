"""The money side of order changes (issue 19): the authorisation follows the changed total (an
increase authorised, a decrease voided before capture), once per change; captures and refunds
after changes add up to what the customer kept. Real commits: the payment tasks run after
commit, eagerly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from orders.choices import PaymentStatus
from orders.models import Order, OrderLine, Payment, PaymentTransaction
from orders.services import ChangeInput, ChangeOperation, order_change
from orders.services.payment_adjust import payment_adjust_for_change
from returns import services as returns
from returns.services import ReturnLineInput
from tests.conftest import stock_put
from tests.factories import LocationFactory
from tests.returns.conftest import MANAGER, SYSTEM, Net, fulfil

from .payment_helpers import place_paid, ship

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def net(transactional_db) -> Net:
    return Net()


def payment_of(order: Order) -> Payment:
    return Payment.objects.get(pk=order.pk)


def ledger(order: Order) -> list[tuple[str, Decimal, str]]:
    return [
        (t.kind, t.amount, t.status) for t in PaymentTransaction.objects.filter(order=order).order_by("pk")
    ]


def change(order: Order, *operations: ChangeOperation) -> None:
    order_change(order_id=order.pk, data=ChangeInput(operations=operations, reason="test"), actor=SYSTEM)


def line(order: Order, sku: str) -> OrderLine:
    return OrderLine.objects.get(order=order, sku=sku)


def test_an_increase_is_authorised_and_a_decrease_voided(net):
    order = place_paid(net, ("SHIRT", 2, "10.00"))
    assert payment_of(order).authorized == Decimal("20.00")

    change(order, ChangeOperation(kind="add_line", sku="JEANS", quantity=1, unit_price=Decimal("30.00")))

    assert Order.objects.get(pk=order.pk).total == Decimal("50.00")
    assert payment_of(order).authorized == Decimal("50.00")
    assert ledger(order)[-1] == ("authorize", Decimal("30.00"), "succeeded")

    change(order, ChangeOperation(kind="cancel_units", order_line=line(order, "SHIRT").pk, quantity=1))

    assert Order.objects.get(pk=order.pk).total == Decimal("40.00")
    payment = payment_of(order)
    assert payment.authorized == Decimal("40.00")
    assert payment.status == PaymentStatus.AUTHORIZED
    assert ledger(order)[-1] == ("void", Decimal("10.00"), "succeeded")


def test_the_adjustment_happens_once_per_change(net):
    order = place_paid(net, ("SHIRT", 2, "10.00"))
    change(order, ChangeOperation(kind="change_quantity", order_line=line(order, "SHIRT").pk, quantity=5))
    rows = ledger(order)
    assert payment_adjust_for_change(order_id=order.pk, revision=1) is None  # a repeated task
    assert ledger(order) == rows
    assert payment_of(order).authorized == Decimal("50.00")


def test_money_is_exact_after_changes_shipments_and_a_refund(net):
    stock_put(net.cap, net.warehouse, 5)
    order = place_paid(net, ("SHIRT", 3, "3.33"), ("JEANS", 1, "30.00"))
    change(
        order,
        ChangeOperation(kind="cancel_units", order_line=line(order, "SHIRT").pk, quantity=1),
        ChangeOperation(kind="add_line", sku="CAP", quantity=2, unit_price=Decimal("5.00")),
    )
    order.refresh_from_db()
    # what the customer keeps: 2 shirts, the jeans, 2 caps
    assert order.total == Decimal("2") * Decimal("3.33") + Decimal("30.00") + Decimal("10.00")
    fulfil(order)
    payment = payment_of(order)
    assert payment.captured == order.total
    assert payment.authorized == order.total
    assert Order.objects.get(pk=order.pk).status == "partially_cancelled"  # one shirt was cancelled
    rma = returns.return_create(
        order_id=order.pk,
        method="mail",
        location_code="wh-hcm",
        lines=[ReturnLineInput(order_line_id=line(order, "CAP").pk, quantity=1, reason="wrong_size")],
        actor=SYSTEM,
    ).rma
    # the refund is capped by what was captured, and the added line's units are in it
    returns.return_refund(return_id=rma.pk, amount=Decimal("5.00"), actor=MANAGER)
    payment = payment_of(order)
    assert (payment.captured, payment.refunded) == (order.total, Decimal("5.00"))
    assert payment.captured - payment.refunded == order.total - Decimal("5.00")  # what they kept
    assert Decimal("0") <= payment.refunded <= payment.captured <= payment.authorized


def test_a_decrease_after_a_partial_shipment_voids_only_what_is_not_captured(net):
    other = LocationFactory(code="wh-other", latitude=Decimal("10.9"), longitude=Decimal("106.9"))
    stock_put(net.cap, other, 5)  # caps only there: two shipments
    order = place_paid(net, ("SHIRT", 2, "10.00"), ("CAP", 3, "5.00"))
    fulfillment.route_order(order_id=order.pk)
    shirt_fo = FulfillmentOrder.objects.get(order=order, location__code="wh-hcm")
    ship(shirt_fo)
    assert payment_of(order).captured == Decimal("20.00")

    change(order, ChangeOperation(kind="cancel_units", order_line=line(order, "CAP").pk, quantity=2))

    payment = payment_of(order)
    assert Order.objects.get(pk=order.pk).total == Decimal("25.00")
    assert (payment.authorized, payment.captured) == (Decimal("25.00"), Decimal("20.00"))
    ship(FulfillmentOrder.objects.get(order=order, location=other, status="pending"))
    payment = payment_of(order)
    assert payment.captured == payment.authorized == Decimal("25.00")
