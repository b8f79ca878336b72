"""Payments on a real Celery worker (PostgreSQL + Redis): a shipment's capture that fails
transiently is retried by the worker and captured once, even when its task is delivered twice; a
worker SIGKILLed in the middle of the gateway call leaves the row pending, and the task run again
on a new worker captures once."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

import pytest

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from orders.models import Order, Payment, PaymentTransaction
from orders.services import PaymentInput, payment_authorize
from orders.tasks import payment_capture
from tests.returns.conftest import Net
from tests.worker import WorkerProcess, wait_idle

from .payment_helpers import place_paid, ship

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker]

QUEUE = "payments-kill-test"


def wait_for(condition: Callable[[], object], *, timeout: float = 40.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


def place(net: Net, token: str) -> Order:
    return place_paid(net, ("SHIRT", 2, "10.00"), payment=PaymentInput(token=token))


def routed_and_authorised(order: Order) -> FulfillmentOrder:
    wait_for(
        lambda: Payment.objects.filter(pk=order.pk, status="authorized").exists(),
        what=f"the authorisation of {order.number}",
    )
    return wait_for(  # type: ignore[return-value]
        lambda: FulfillmentOrder.objects.filter(order=order).first(), what=f"the routing of {order.number}"
    )


def captures(order: Order) -> list[tuple[str, Decimal]]:
    return list(
        PaymentTransaction.objects.filter(order=order, kind="capture").values_list("status", "amount")
    )


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_is_retried_by_the_worker_and_captured_once(request):
    request.getfixturevalue("celery_broker")
    worker = request.getfixturevalue("session_worker")
    net = Net()
    order = place(net, token="tok_flaky")
    fo = routed_and_authorised(order)
    lines = ship(fo)
    # the same capture delivered twice
    payment_capture.delay(order_id=order.pk, fulfillment_order_id=fo.pk, lines=lines)
    wait_for(lambda: captures(order) == [("succeeded", Decimal("20.00"))], what="the capture")
    wait_idle(worker)
    assert captures(order) == [("succeeded", Decimal("20.00"))]
    capture = PaymentTransaction.objects.get(order=order, kind="capture")
    assert capture.attempts == 1  # failed once, transiently, then retried
    payment = Payment.objects.get(pk=order.pk)
    assert (payment.authorized, payment.captured, payment.status) == (
        Decimal("20.00"),
        Decimal("20.00"),
        "captured",
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_capture_then_run_again_captures_once(request, monkeypatch, settings):
    """Workers of their own, on a queue of their own (a session worker may be running on the
    usual ones): the first is SIGKILLed while the gateway has not answered."""
    request.getfixturevalue("celery_broker")
    settings.OMS_FAKE_GATEWAY_SLOW_SECONDS = 0  # in this process: authorise at once
    net = Net()
    order = place(net, token="tok_slow")
    payment_authorize(order_id=order.pk)
    fulfillment.route_order(order_id=order.pk)
    fo = FulfillmentOrder.objects.get(order=order)
    real_capture = payment_capture
    monkeypatch.setattr("orders.tasks.payment_capture", SimpleNamespace(delay=lambda **kwargs: None))
    lines = ship(fo)  # the shipment's own capture task is the test's to send, below
    monkeypatch.setattr("tests.worker.QUEUES", QUEUE)
    kwargs = {"order_id": order.pk, "fulfillment_order_id": fo.pk, "lines": lines}
    first = WorkerProcess(name="pay-kill-1", extra_env={"OMS_FAKE_GATEWAY_SLOW_SECONDS": "30"}).start()
    try:
        real_capture.apply_async(kwargs=kwargs, queue=QUEUE)
        # the worker wrote the pending row and waits for the gateway's answer: kill it
        wait_for(lambda: captures(order) == [("pending", Decimal("20.00"))], what="the pending capture")
        first.kill()
    finally:
        first.stop()
    assert captures(order) == [("pending", Decimal("20.00"))]
    second = WorkerProcess(name="pay-kill-2", extra_env={"OMS_FAKE_GATEWAY_SLOW_SECONDS": "0"}).start()
    try:
        # the lost task again (as the broker redelivers an unacknowledged one), twice
        real_capture.apply_async(kwargs=kwargs, queue=QUEUE)
        real_capture.apply_async(kwargs=kwargs, queue=QUEUE)
        wait_for(lambda: captures(order) == [("succeeded", Decimal("20.00"))], what="the capture")
        wait_idle(second)
    finally:
        second.stop()
    assert captures(order) == [("succeeded", Decimal("20.00"))]
    assert Payment.objects.get(pk=order.pk).captured == Decimal("20.00")
