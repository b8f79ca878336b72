"""The statements of ``route_order`` are pinned (routing lag, issue 8): a query added in a loop, or
a second read of what routing already holds, fails here. Counted inside the routing transaction
(without BEGIN/COMMIT, which the test's own transaction turns into a savepoint); the after-commit
outbox marks come on top (one per event)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfillment import services, subscribers
from inventory.capacity import location_load_change, location_loads_add
from inventory.models import LocationDailyLoad
from orders.models import Order, OrderEvent

from .conftest import fulfillment_orders, place, warehouse
from .test_routing import stock

# lock the order, its lines, its fulfilment orders, its unrouted reservations, the candidates;
# then, on PostgreSQL, the new fulfilment orders' ids from their sequence and ONE statement that
# writes everything (``_write_routing``: the fulfilment order(s) and their lines, the order's
# status, the `routed` and `status_changed` events, the locations' load for the day, and the
# outbox rows, `fulfillment.created` per fulfilment order and `order.allocated`). Elsewhere each
# table has its own statement: INSERT the fulfilment order(s), their lines; UPDATE the order;
# INSERT the events; INSERT the outbox rows; last the locations' load (one upsert). The same
# count for a split order.
ROUTING_READS = 5


def routing_statements() -> int:
    return ROUTING_READS + (2 if connection.vendor == "postgresql" else 6)


@pytest.fixture
def unrouted(db, monkeypatch):
    # the test routes the order itself, not the order's commit
    monkeypatch.setattr(subscribers, "route_soon", lambda order_ids: None)

    def make(*lines: tuple[str, int]) -> Order:
        order = place(*lines)
        assert not fulfillment_orders(order)
        return order

    return make


@pytest.fixture
def depot():
    location = warehouse("wh-main", "10.8000", "106.7000")
    for sku in ("SHIRT", "JEANS", "CAP"):
        stock(sku, location, 5)
    return location


def _statements(order: Order) -> tuple[services.RoutingResult, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        result = services.route_order(order_id=order.pk)
    sql = [q["sql"] for q in ctx.captured_queries]
    if connection.in_atomic_block and sql and sql[0].startswith("SAVEPOINT"):
        sql = sql[1:-1]  # the durable transaction, nested in the test's: BEGIN/COMMIT elsewhere
    return result, [s for s in sql if s.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT")]


def test_routing_a_one_line_order(unrouted, depot):
    order = unrouted(("SHIRT", 1))
    result, sql = _statements(order)
    assert result.status == "allocated"
    assert len(result.created) == 1
    assert len(sql) == routing_statements(), "\n".join(sql)
    assert Order.objects.get(pk=order.pk).allocated_at is not None


def test_routing_a_three_line_order(unrouted, depot):
    order = unrouted(("SHIRT", 1), ("JEANS", 2), ("CAP", 1))
    result, sql = _statements(order)
    assert result.status == "allocated"
    (fo,) = fulfillment_orders(order)
    assert fo.lines.count() == 3
    assert len(sql) == routing_statements(), "\n".join(sql)
    kinds = list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == ["routed", "status_changed"]


def test_a_split_costs_only_one_outbox_row_more(unrouted):
    a = warehouse("wh-a", "10.7800", "106.7000")
    b = warehouse("wh-b", "10.9000", "106.8000")
    stock("SHIRT", a, 5)
    stock("JEANS", b, 5)
    stock("CAP", b, 5)
    order = unrouted(("SHIRT", 1), ("JEANS", 2), ("CAP", 1))
    result, sql = _statements(order)
    fos = fulfillment_orders(order)
    assert {fo.location.code for fo in fos} == {"wh-a", "wh-b"}
    assert sorted(fo.number for fo in fos) == [f"{order.number}-1", f"{order.number}-2"]
    assert sorted(result.created) == [fo.pk for fo in fos]
    assert len(sql) == routing_statements(), "\n".join(sql)  # both `fulfillment.created` in one INSERT
    today = timezone.localdate()
    loads = dict(
        LocationDailyLoad.objects.filter(day=today).values_list("location_id", "open_fulfillment_orders")
    )
    assert loads == {a.pk: 1, b.pk: 1}


def test_routing_again_reads_four_rows_and_writes_nothing(unrouted, depot):
    order = unrouted(("SHIRT", 1))
    services.route_order(order_id=order.pk)
    result, sql = _statements(order)
    assert result.created == []
    assert result.status == "allocated"
    # the order, its lines, its fulfilment orders, its unrouted reservations (none)
    assert len(sql) == 4, "\n".join(sql)
    assert all(s.startswith("SELECT") for s in sql)


def test_location_loads_add_creates_and_adds_in_one_statement(db, django_assert_num_queries):
    first = warehouse("wh-1", "10.8000", "106.7000")
    second = warehouse("wh-2", "10.9000", "106.8000")
    today = timezone.localdate()
    location_load_change(location_id=first.pk, day=today, delta=2)
    with django_assert_num_queries(1):
        location_loads_add(day=today, added={second.pk: 1, first.pk: 3})
    with django_assert_num_queries(0):
        location_loads_add(day=today, added={first.pk: 0})
    loads = dict(
        LocationDailyLoad.objects.filter(day=today).values_list("location_id", "open_fulfillment_orders")
    )
    assert loads == {first.pk: 5, second.pk: 1}
    location_load_change(location_id=second.pk, day=today, delta=-3)  # clamped at zero
    assert LocationDailyLoad.objects.get(location=second, day=today).open_fulfillment_orders == 0
    with pytest.raises(ValueError, match="only adds"):
        location_loads_add(day=today, added={first.pk: -1})
