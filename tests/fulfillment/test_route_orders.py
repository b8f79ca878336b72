"""``route_orders``: a batch of orders (a drain of the routing inbox) is routed as routing each alone
would route it, on PostgreSQL in one transaction with the statements of one routing; orders that
need more than the usual path are routed alone after it."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfillment import services, subscribers
from fulfillment.tasks import ROUTING_INBOX
from inventory.models import LocationDailyLoad
from oms.actors import Actor
from oms.models import OutboxEvent
from orders.models import Order, OrderEvent
from orders.services import order_hold_place

from .conftest import fulfillment_orders, place, routed, status_of, warehouse
from .test_route_order_statements import ROUTING_READS
from .test_routing import stock

STAFF = Actor(type="staff", name="csr", role="manager")


@pytest.fixture
def unrouted(db, monkeypatch):
    """Orders placed without routing them at commit: the test routes them itself."""
    monkeypatch.setattr(subscribers, "route_soon", lambda order_ids: None)
    return place


@pytest.fixture
def two_depots():
    near = warehouse("wh-near", "10.7800", "106.7000")
    far = warehouse("wh-far", "10.9000", "106.8000")
    for sku in ("SHIRT", "JEANS", "CAP"):
        stock(sku, near, 50)
    stock("SOCKS", far, 50)
    return near, far


def _signature(order: Order) -> dict:
    """What routing made of an order, with its own number and ids taken out."""
    order.refresh_from_db()

    def plain(text: str) -> str:
        return re.sub(r"\d+", "#", text.replace(order.number, "N"))

    return {
        "status": order.status,
        "allocated": order.allocated_at is not None,
        "fulfillment_orders": [
            (
                fo.location.code,
                fo.number.replace(order.number, "N"),
                fo.status,
                sorted(
                    (line.order_line.sku, line.quantity) for line in fo.lines.select_related("order_line")
                ),
            )
            for fo in fulfillment_orders(order)
        ],
        "timeline": [
            (kind, plain(message))
            for kind, message in OrderEvent.objects.filter(order=order)
            .order_by("pk")
            .values_list("kind", "message")
        ],
        "outbox": sorted(
            topic
            for topic, payload in OutboxEvent.objects.values_list("topic", "payload")
            if payload.get("order_id") == order.pk
        ),
    }


def test_a_batch_routes_each_order_as_routing_it_alone_would(unrouted, two_depots):
    shapes = [(("SHIRT", 1),), (("JEANS", 2), ("CAP", 1)), (("SHIRT", 1), ("SOCKS", 3))]  # the last splits
    alone = [unrouted(*lines) for lines in shapes]
    batch = [unrouted(*lines) for lines in shapes]
    for order in alone:
        services.route_order(order_id=order.pk)
    results = services.route_orders(order_ids=[o.pk for o in batch])
    assert [r.order_id for r in results] == [o.pk for o in batch]
    assert [r.status for r in results] == ["allocated"] * 3
    for one, together, result in zip(alone, batch, results, strict=True):
        assert _signature(together) == _signature(one)
        assert result.created == [fo.pk for fo in fulfillment_orders(together)]
    near, far = two_depots
    loads = dict(
        LocationDailyLoad.objects.filter(day=timezone.localdate()).values_list(
            "location_id", "open_fulfillment_orders"
        )
    )
    assert loads == {near.pk: 6, far.pk: 2}


def test_a_batch_costs_the_statements_of_one_routing(unrouted, two_depots):
    if connection.vendor != "postgresql":
        pytest.skip("a batch is one transaction on PostgreSQL only; elsewhere each order is routed alone")
    orders = [unrouted(("SHIRT", 1)), unrouted(("JEANS", 1)), unrouted(("CAP", 2)), unrouted(("SOCKS", 1))]
    orders.append(unrouted(("SHIRT", 1), ("SOCKS", 1)))
    with CaptureQueriesContext(connection) as ctx:
        results = services.route_orders(order_ids=[o.pk for o in orders])
    sql = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    ]
    # the orders locked, their lines, fulfilment orders, unrouted reservations, the candidates;
    # the new fulfilment orders' ids; one write
    assert len(sql) == ROUTING_READS + 2, "\n".join(sql)
    assert [len(r.created) for r in results] == [1, 1, 1, 1, 2]
    assert all(status_of(o) == "allocated" for o in orders)


def test_the_fulfilment_orders_before_count_in_a_location_s_capacity(unrouted):
    near = warehouse("wh-near", "10.7800", "106.7000", daily_capacity=1)
    far = warehouse("wh-far", "10.9000", "106.8000")
    stock("SHIRT", near, 10)
    stock("SHIRT", far, 10)
    first, second = unrouted(("SHIRT", 1)), unrouted(("SHIRT", 1))  # both held at wh-near
    results = services.route_orders(order_ids=[first.pk, second.pk])
    assert [r.status for r in results] == ["allocated", "allocated"]
    assert [fo.location.code for fo in fulfillment_orders(first)] == ["wh-near"]
    # wh-near is full after the first: the second's units move, as routing it alone would move them
    assert [fo.location.code for fo in fulfillment_orders(second)] == ["wh-far"]
    assert OrderEvent.objects.filter(order=second, kind="rerouted").exists()


def test_orders_that_need_more_are_routed_alone_and_the_others_skipped(unrouted, two_depots):
    usual = unrouted(("SHIRT", 1))
    held = unrouted(("JEANS", 1))
    order_hold_place(order_id=held.pk, reason="fraud_review", note="", actor=STAFF)
    backordered = unrouted(("SOCKS", 60), allow_backorder=True)  # 50 in stock, 10 to wait for
    done = unrouted(("CAP", 1))
    services.route_order(order_id=done.pk)
    missing = Order.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    ids = [usual.pk, held.pk, backordered.pk, done.pk, missing]
    results = {r.order_id: r for r in services.route_orders(order_ids=ids)}
    assert list(results) == ids
    assert results[usual.pk].status == "allocated"
    assert len(results[usual.pk].created) == 1
    assert results[held.pk].skipped == "on_hold"
    assert not fulfillment_orders(held)
    assert results[backordered.pk].status == "backordered"
    assert [fo.lines.get().quantity for fo in fulfillment_orders(backordered)] == [50]
    assert results[done.pk].created == []
    assert results[done.pk].status == "allocated"
    assert results[missing].skipped == "not_found"


def test_routing_a_batch_again_changes_nothing(unrouted, two_depots):
    orders = [unrouted(("SHIRT", 1)), unrouted(("JEANS", 1), ("SOCKS", 1))]
    ids = [o.pk for o in orders]
    first = services.route_orders(order_ids=ids)
    events = OrderEvent.objects.count()
    again = services.route_orders(order_ids=ids + ids)  # a duplicate id is routed once
    assert [len(r.created) for r in first] == [1, 2]
    assert [r.created for r in again] == [[], []]
    assert [r.status for r in again] == ["allocated", "allocated"]
    assert OrderEvent.objects.count() == events


def test_a_burst_of_orders_is_routed_through_the_inbox(router, two_depots):
    """With a real worker (PostgreSQL + Redis) orders go through the routing inbox and its drains;
    eagerly (SQLite) each is its own task. Either way every order is routed, once."""
    orders = [place(("SHIRT", 1)) for _ in range(12)]
    for order in orders:
        routed(router, order)
    if router.real:
        router.wait_for(lambda: ROUTING_INBOX.waiting() == 0 and ROUTING_INBOX.running() == 0, what="drains")
    assert all(len(fulfillment_orders(o)) == 1 for o in orders)
    assert all(status_of(o) == "allocated" for o in orders)
