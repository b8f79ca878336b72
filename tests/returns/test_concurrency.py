"""Refunds and returns under real concurrency (PostgreSQL): threads, each with its own connection,
released together by a barrier. The order row lock serialises them, so refunds never add up to more
than was paid and no unit is returned twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from oms.staff import staff_create
from returns import services
from returns.errors import RefundExceedsPaid, ReturnExceedsReturnable
from returns.models import Refund, Return
from returns.services import ReturnLineInput

from .conftest import MANAGER, fulfil, line_of, place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
BARRIER_TIMEOUT = 60


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``count`` threads released at once; return each result or exception."""
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # reported by the test, never lost in a thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT * 3)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def open_return(order, location, *lines: tuple[str, int]) -> Return:  # type: ignore[no-untyped-def]
    return services.return_create(
        order_id=order.pk,
        method="in_store",
        location_code=location.code,
        lines=[
            ReturnLineInput(order_line_id=line_of(order, sku).pk, quantity=q, reason="other")
            for sku, q in lines
        ],
        actor=MANAGER,
    ).rma


def test_eight_concurrent_refunds_never_exceed_what_was_paid(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))  # 50.00 paid
    rma = open_return(order, net.store, ("SHIRT", 2), ("JEANS", 1))

    results = run_together(
        THREADS, lambda i: services.return_refund(return_id=rma.pk, amount=Decimal("15.00"), actor=MANAGER)
    )
    done = [r for r in results if isinstance(r, services.RefundCreated)]
    refused = [r for r in results if isinstance(r, RefundExceedsPaid)]
    assert len(done) + len(refused) == THREADS, [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 3  # 3 x 15.00 = 45.00; a fourth would make 60.00 > 50.00
    total = Refund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"]
    assert total == Decimal("45.00")
    assert {r.extra["refundable"] for r in refused} == {"5.00"}


def test_concurrent_refunds_on_two_returns_of_one_order_share_the_cap(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))
    first = open_return(order, net.store, ("SHIRT", 2))
    second = open_return(order, net.other_store, ("JEANS", 1))
    amounts = [Decimal("7.00"), Decimal("11.00"), Decimal("13.00"), Decimal("17.00")] * 2

    def work(i: int) -> object:
        rma = first if i % 2 else second
        return services.return_refund(return_id=rma.pk, amount=amounts[i], actor=MANAGER)

    results = run_together(THREADS, work)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, RefundExceedsPaid)]
    assert not unexpected, unexpected
    total = Refund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    assert total <= Decimal("50.00")
    assert total == sum(r.refund.amount for r in results if isinstance(r, services.RefundCreated))


def test_eight_concurrent_refunds_through_the_api(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00")))
    rma = open_return(order, net.store, ("SHIRT", 2), ("JEANS", 1))
    _, key = staff_create(username="boss", role="manager")

    def work(i: int) -> object:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = api.post(f"/api/v1/returns/{rma.pk}/refund", {"amount": "20.00"}, format="json")
        return response.status_code, response.json()

    results = run_together(THREADS, work)
    statuses = sorted(r[0] for r in results)  # type: ignore[index]
    assert statuses == [201, 201] + [409] * (THREADS - 2)
    assert {r[1]["code"] for r in results if r[0] == 409} == {"refund_exceeds_paid"}  # type: ignore[index]
    assert Refund.objects.aggregate(total=Sum("amount"))["total"] == Decimal("40.00")


def test_concurrent_returns_of_the_same_units_return_each_unit_once(net):
    order = fulfil(place(net.web, ("SHIRT", 2, "10.00")))

    results = run_together(THREADS, lambda i: open_return(order, net.store, ("SHIRT", 1)))
    created = [r for r in results if isinstance(r, Return)]
    refused = [r for r in results if isinstance(r, ReturnExceedsReturnable)]
    assert len(created) == 2
    assert len(refused) == THREADS - 2
    assert Return.objects.filter(order=order).count() == 2
    assert len({r.number for r in created}) == 2
