"""A property of the money side (issue 19): over random orders, shipments, refunds, cancellations and
order changes (a unit cancelled, a line added, a quantity raised),
``0 <= refunded <= captured <= authorized`` always holds, the amounts equal the sums of their
succeeded ledger rows, what was captured is the value of what was shipped, and a refund past
captured minus refunded is refused (409) without a trace.

Each example places a new order (two SKUs held at two warehouses, so it ships in up to two
shipments) on committed transactions: the payment tasks run after commit, eagerly."""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from oms.errors import DomainError
from oms.money import quantize
from orders.models import Order, Payment, PaymentTransaction
from orders.services import ChangeInput, ChangeOperation, order_cancel, order_change
from returns import services as returns
from returns.errors import RefundExceedsPaid
from returns.models import Return
from returns.services import ReturnLineInput
from tests.conftest import stock_put
from tests.factories import LocationFactory
from tests.returns.conftest import MANAGER, SYSTEM, Net, place

from .payment_helpers import ship

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ZERO = Decimal("0.00")


@pytest.fixture
def two_warehouses(transactional_db) -> Net:
    net = Net()
    other = LocationFactory(code="wh-other", latitude=Decimal("10.9"), longitude=Decimal("106.9"))
    stock_put(net.cap, other, 10_000)
    stock_put(net.shirt, net.warehouse, 10_000)
    return net


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("ship"), st.integers(min_value=0, max_value=2)),
        st.tuples(
            st.just("refund"), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("250"), places=2)
        ),
        st.tuples(st.just("cancel"), st.just(0)),
        st.tuples(st.just("change"), st.integers(min_value=0, max_value=2)),
    ),
    max_size=7,
)


def sum_of(order: Order, kind: str) -> Decimal:
    rows = PaymentTransaction.objects.filter(order=order, kind=kind, status="succeeded")
    return rows.aggregate(total=Sum("amount"))["total"] or ZERO


def shipped_value(order: Order) -> Decimal:
    lines = list(order.lines.all())
    value = sum((quantize(line.line_total * line.quantity_fulfilled / line.quantity) for line in lines), ZERO)
    return value + (order.shipping_total if any(line.quantity_fulfilled for line in lines) else ZERO)


def check(order: Order) -> Payment:
    payment = Payment.objects.get(pk=order.pk)
    assert ZERO <= payment.refunded <= payment.captured <= payment.authorized
    assert payment.authorized == sum_of(order, "authorize") - sum_of(order, "void")
    assert payment.captured == sum_of(order, "capture") == shipped_value(order)
    assert payment.refunded == sum_of(order, "refund")
    return payment


def refund(order: Order, amount: Decimal) -> None:
    """Refund ``amount`` against the order's one return (of one shipped unit), made at the first
    refund; refused past captured minus refunded, with nothing moved."""
    rma = Return.objects.filter(order=order).first()
    if rma is None:
        shipped = [line for line in order.lines.all() if line.quantity_fulfilled]
        if not shipped:
            return
        rma = returns.return_create(
            order_id=order.pk,
            method="in_store",
            location_code="st-district1",
            lines=[ReturnLineInput(order_line_id=shipped[0].pk, quantity=1, reason="wrong_size")],
            actor=MANAGER,
        ).rma
    before = check(order)
    room = before.captured - before.refunded
    try:
        returns.return_refund(return_id=rma.pk, amount=amount, actor=MANAGER)
    except RefundExceedsPaid:
        assert amount > room
        assert check(order).refunded == before.refunded  # refused: nothing moved
    else:
        assert amount <= room
        assert check(order).refunded == before.refunded + amount


def _change_of(order: Order, which: int) -> ChangeInput:
    """0: cancel one unit of the first line; 1: add a line of one cap; 2: one shirt more."""
    first = order.lines.order_by("line_number").first()
    assert first is not None
    operation = [
        ChangeOperation(kind="cancel_units", order_line=first.pk, quantity=1),
        ChangeOperation(kind="add_line", sku="CAP", quantity=1, unit_price=Decimal("5.00")),
        ChangeOperation(
            kind="change_quantity",
            order_line=first.pk,
            quantity=first.quantity - first.quantity_cancelled + 1,
        ),
    ][which]
    return ChangeInput(operations=[operation], reason="property")


@hypothesis_settings(
    max_examples=int(os.environ.get("OMS_PAYMENT_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shirts=st.integers(min_value=1, max_value=3),
    caps=st.integers(min_value=0, max_value=2),
    shirt_price=prices,
    cap_price=prices,
    actions=steps,
)
def test_refunded_never_exceeds_captured_nor_captured_authorized(
    two_warehouses, shirts, caps, shirt_price, cap_price, actions
):
    net = two_warehouses
    lines = [("SHIRT", shirts, str(shirt_price))] + ([("CAP", caps, str(cap_price))] if caps else [])
    order = place(net.web, *lines)
    fulfillment.route_order(order_id=order.pk)
    fos = list(FulfillmentOrder.objects.filter(order=order).order_by("pk"))
    check(order)
    for kind, arg in actions:
        if kind == "ship" and arg < len(fos):
            fo = FulfillmentOrder.objects.get(pk=fos[arg].pk)
            if fo.status != "shipped" and fo.status != "cancelled":
                ship(fo)
        elif kind == "refund":
            refund(Order.objects.get(pk=order.pk), arg)
        elif kind == "cancel":
            with contextlib.suppress(DomainError):  # some units shipped: not cancellable
                order_cancel(order_id=order.pk, reason="property", actor=SYSTEM)
        elif kind == "change":
            with contextlib.suppress(DomainError):  # a location works on the units, or none is open
                order_change(order_id=order.pk, data=_change_of(order, arg), actor=SYSTEM)
            fos = list(FulfillmentOrder.objects.filter(order=order).order_by("pk"))  # routed again
        check(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    payment = check(order)
    if order.status in ("completed", "cancelled", "partially_cancelled"):
        # nothing open: what no unit needs of the authorisation was voided
        assert payment.authorized == payment.captured
