"""The return services directly: status rules, what stays returnable, exchanges in a real (durable)
transaction, and a restock that fills a waiting backorder."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment.models import FulfillmentOrder
from oms.errors import InvalidTransition
from orders.models import Order, OrderEvent
from orders.services import order_cancel
from returns import services
from returns.errors import (
    LocationNotPermitted,
    OrderLineNotInOrder,
    ReceiveExceedsOutstanding,
    RefundExceedsPaid,
    ReturnExceedsReturnable,
    ReturnLineNotInReturn,
    ReturnWindowExpired,
)
from returns.models import Return
from returns.selectors import order_refund_summary, returnable_quantities
from returns.services import ExchangeLineInput, ReceiveLineInput, ReturnLineInput
from tests.conftest import stock_put

from .conftest import MANAGER, SYSTEM, associate_at, fulfil, line_of, place

pytestmark = pytest.mark.django_db


def open_return(order: Order, location, *lines: tuple[str, int], actor=MANAGER, **kw) -> Return:  # type: ignore[no-untyped-def]
    return services.return_create(
        order_id=order.pk,
        method=kw.pop("method", "in_store"),
        location_code=location.code,
        lines=[
            ReturnLineInput(order_line_id=line_of(order, sku).pk, quantity=q, reason="other")
            for sku, q in lines
        ],
        actor=actor,
        **kw,
    ).rma


def receive(rma: Return, quantity: int, disposition: str = "restock", actor=MANAGER) -> Return:  # type: ignore[no-untyped-def]
    line = rma.lines.get()
    return services.return_receive(
        return_id=rma.pk,
        lines=[ReceiveLineInput(return_line_id=line.pk, quantity=quantity, disposition=disposition)],
        actor=actor,
    )


def test_status_moves_requested_partially_received_received_then_closed(net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 2))
    assert rma.status == "requested"
    assert receive(rma, 1).status == "partially_received"
    rma = receive(rma, 1, "damaged")
    assert rma.status == "received"
    assert rma.received_at is not None
    with pytest.raises(InvalidTransition):
        receive(rma, 1)
    with pytest.raises(InvalidTransition):
        services.return_cancel(return_id=rma.pk, actor=MANAGER)
    rma = services.return_close(return_id=rma.pk, actor=MANAGER)
    assert rma.status == "closed"
    assert services.return_close(return_id=rma.pk, actor=MANAGER).status == "closed"  # twice: a no-op


def test_requested_return_cannot_be_closed_and_cancel_is_idempotent(net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 1))
    with pytest.raises(InvalidTransition):
        services.return_close(return_id=rma.pk, actor=MANAGER)
    assert services.return_cancel(return_id=rma.pk, actor=MANAGER).status == "cancelled"
    assert services.return_cancel(return_id=rma.pk, actor=MANAGER).status == "cancelled"
    assert OrderEvent.objects.filter(order=shipped, kind="return_cancelled").count() == 1
    with pytest.raises(InvalidTransition):
        receive(rma, 1)


def test_a_closed_return_frees_the_units_it_never_received(net, shipped):
    rma = open_return(shipped, net.warehouse, ("SHIRT", 2), method="mail")
    line = line_of(shipped, "SHIRT")
    assert returnable_quantities(lines=[line]) == {line.pk: 0}
    receive(rma, 1)
    services.return_close(return_id=rma.pk, actor=MANAGER)
    assert returnable_quantities(lines=[line]) == {line.pk: 1}
    with pytest.raises(ReturnExceedsReturnable):
        open_return(shipped, net.store, ("SHIRT", 2))
    assert open_return(shipped, net.store, ("SHIRT", 1)).status == "requested"


def test_cannot_receive_more_than_the_return_expects_or_lines_of_another_return(net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 1))
    other = open_return(shipped, net.store, ("JEANS", 1))
    with pytest.raises(ReceiveExceedsOutstanding) as excinfo:
        receive(rma, 2)
    assert excinfo.value.extra["lines"][0]["outstanding"] == 1
    with pytest.raises(ReturnLineNotInReturn):
        services.return_receive(
            return_id=rma.pk,
            lines=[ReceiveLineInput(return_line_id=other.lines.get().pk, quantity=1, disposition="restock")],
            actor=MANAGER,
        )
    # Two entries for one line add up.
    line = rma.lines.get()
    with pytest.raises(ReceiveExceedsOutstanding):
        services.return_receive(
            return_id=rma.pk,
            lines=[
                ReceiveLineInput(return_line_id=line.pk, quantity=1, disposition="restock"),
                ReceiveLineInput(return_line_id=line.pk, quantity=1, disposition="damaged"),
            ],
            actor=MANAGER,
        )
    assert net.on_hand(net.shirt, net.store) == 0


def test_a_line_of_another_order_is_422(net, shipped):
    other = fulfil(place(net.web, ("SHIRT", 1, "10.00"), email="bob@example.com"))
    with pytest.raises(OrderLineNotInOrder) as excinfo:
        services.return_create(
            order_id=shipped.pk,
            method="in_store",
            location_code=net.store.code,
            lines=[ReturnLineInput(order_line_id=line_of(other, "SHIRT").pk, quantity=1, reason="other")],
            actor=MANAGER,
        )
    assert excinfo.value.status_code == 422


def test_window_counts_from_fulfilment_and_falls_back_to_the_order(net, shipped):
    FulfillmentOrder.objects.filter(order=shipped).update(completed_at=timezone.now() - timedelta(days=29))
    assert open_return(shipped, net.store, ("SHIRT", 1), actor=SYSTEM).window_overridden is False
    FulfillmentOrder.objects.filter(order=shipped).update(completed_at=timezone.now() - timedelta(days=31))
    with pytest.raises(ReturnWindowExpired):
        open_return(shipped, net.store, ("JEANS", 1), actor=SYSTEM)
    # Without a fulfilment order's date, the order's completion counts.
    FulfillmentOrder.objects.filter(order=shipped).update(completed_at=None)
    Order.objects.filter(pk=shipped.pk).update(completed_at=timezone.now() - timedelta(days=40))
    shipped.refresh_from_db()
    with pytest.raises(ReturnWindowExpired):
        open_return(shipped, net.store, ("JEANS", 1), actor=SYSTEM)


def test_associate_receives_only_at_their_store(net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 2))
    with pytest.raises(LocationNotPermitted):
        receive(rma, 1, actor=associate_at(net.other_store))
    assert receive(rma, 1, actor=associate_at(net.store)).status == "partially_received"


def test_refund_summary_counts_refunds_and_standing_exchange_credit(net, shipped):
    rma = services.return_create(
        order_id=shipped.pk,
        method="in_store",
        location_code=net.store.code,
        lines=[ReturnLineInput(order_line_id=line_of(shipped, "JEANS").pk, quantity=1, reason="wrong_size")],
        exchange_lines=[ExchangeLineInput(sku="SHIRT", quantity=1, unit_price=Decimal("10.00"))],
        actor=MANAGER,
    ).rma
    assert (rma.exchange_credit, rma.exchange_balance) == (Decimal("10.00"), Decimal("-20.00"))
    summary = order_refund_summary(order=shipped)
    assert (summary.paid, summary.exchange_credit, summary.refundable) == (
        Decimal("50.00"),
        Decimal("10.00"),
        Decimal("40.00"),
    )
    services.return_refund(return_id=rma.pk, amount=Decimal("20.00"), actor=MANAGER)
    with pytest.raises(RefundExceedsPaid):
        services.return_refund(return_id=rma.pk, amount=Decimal("20.01"), actor=MANAGER)
    # Cancelling the exchange order releases its credit.
    order_cancel(order_id=rma.exchange_order_id, reason="changed mind", actor=MANAGER)
    assert order_refund_summary(order=shipped).refundable == Decimal("30.00")


def test_exchange_credit_is_capped_by_what_is_still_refundable(net, shipped):
    first = open_return(shipped, net.store, ("SHIRT", 1))
    services.return_refund(return_id=first.pk, amount=Decimal("45.00"), actor=MANAGER)
    rma = services.return_create(
        order_id=shipped.pk,
        method="in_store",
        location_code=net.store.code,
        lines=[ReturnLineInput(order_line_id=line_of(shipped, "JEANS").pk, quantity=1, reason="wrong_size")],
        exchange_lines=[ExchangeLineInput(sku="JEANS", quantity=1, unit_price=Decimal("30.00"))],
        actor=MANAGER,
    ).rma
    assert rma.exchange_credit == Decimal("5.00")
    assert rma.exchange_balance == Decimal("25.00")
    assert order_refund_summary(order=shipped).refundable == Decimal("0.00")


@pytest.mark.django_db(transaction=True)
def test_exchange_runs_in_the_returns_own_durable_transaction_and_cancel_undoes_it(net):
    order = fulfil(place(net.web, ("SHIRT", 1, "10.00")))
    stock_put(net.shirt, net.store, 1)
    result = services.return_create(
        order_id=order.pk,
        method="in_store",
        location_code=net.store.code,
        lines=[ReturnLineInput(order_line_id=line_of(order, "SHIRT").pk, quantity=1, reason="wrong_size")],
        exchange_lines=[ExchangeLineInput(sku="SHIRT", quantity=1, unit_price=Decimal("10.00"))],
        actor=MANAGER,
        channel_code="pos",
    )
    exchange = result.rma.exchange_order
    assert exchange is not None
    assert (exchange.method, exchange.channel.code) == ("pickup", "pos")
    # Routing ran after the commit (eager Celery): the store got the work.
    assert FulfillmentOrder.objects.filter(order=exchange, location=net.store).exists()
    rma = services.return_cancel(return_id=result.rma.pk, actor=MANAGER, reason="customer left")
    assert rma.status == "cancelled"
    exchange.refresh_from_db()
    assert exchange.status == "cancelled"
    assert not FulfillmentOrder.objects.filter(order=exchange).exclude(status="cancelled").exists()
    level = net.store.stock_levels.get(product=net.shirt)
    assert (level.on_hand, level.reserved) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_failed_exchange_in_a_real_transaction_writes_nothing(net):
    order = fulfil(place(net.web, ("SHIRT", 1, "10.00")))
    orders = Order.objects.count()
    with pytest.raises(Exception) as excinfo:
        services.return_create(
            order_id=order.pk,
            method="in_store",
            location_code=net.store.code,
            lines=[ReturnLineInput(order_line_id=line_of(order, "SHIRT").pk, quantity=1, reason="other")],
            exchange_lines=[ExchangeLineInput(sku="CAP", quantity=1, unit_price=Decimal("5.00"))],
            actor=MANAGER,
        )
    assert getattr(excinfo.value, "code", "") == "insufficient_stock"
    assert not Return.objects.exists()
    assert Order.objects.count() == orders


@pytest.mark.django_db(transaction=True)
def test_restock_fills_a_waiting_backorder_at_that_location(net):
    net.other_store.ship_from_store = True
    net.other_store.save(update_fields=["ship_from_store"])
    stock_put(net.cap, net.warehouse, 1)
    sold = fulfil(place(net.web, ("CAP", 1, "5.00")))
    waiting = place(net.web, ("CAP", 1, "5.00"), email="bob@example.com", allow_backorder=True)
    waiting.refresh_from_db()
    assert waiting.status == "backordered"
    rma = open_return(sold, net.other_store, ("CAP", 1))
    receive(rma, 1)  # restocked at the store; stock.changed retries the backorder there (eager Celery)
    waiting.refresh_from_db()
    assert waiting.lines.get().quantity_backordered == 0
    assert waiting.reservations.get(status="active").location == net.other_store
    assert FulfillmentOrder.objects.filter(order=waiting, location=net.other_store).exists()


def test_each_step_publishes_its_event(net, shipped, monkeypatch):
    from oms import events

    published: list[tuple[str, dict]] = []
    original = events.publish

    def record(*, topic: str, payload: dict) -> None:
        published.append((topic, payload))
        original(topic=topic, payload=payload)

    monkeypatch.setattr(events, "publish", record)
    rma = open_return(shipped, net.store, ("SHIRT", 2))
    receive(rma, 2)
    services.return_refund(return_id=rma.pk, amount=Decimal("20.00"), method="cash", actor=MANAGER)
    services.return_close(return_id=rma.pk, actor=MANAGER)
    mine = [(topic, payload) for topic, payload in published if topic.startswith(("return.", "refund."))]
    assert [topic for topic, _ in mine] == [
        "return.created",
        "return.received",
        "refund.created",
        "return.closed",
    ]
    assert all(payload["return_id"] == rma.pk for _, payload in mine)
    assert mine[1][1]["restocked"] == 2
    assert mine[2][1]["amount"] == "20.00"
    assert mine[2][1]["method"] == "cash"
