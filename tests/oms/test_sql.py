"""``oms.sql.insert_sql`` / ``update_sql``: the ORM's own INSERT and UPDATE as text, so a hot path
can write several tables in one statement. The rows must be exactly those ``save()`` /
``bulk_create()`` would write. ``next_ids``: keys drawn from a table's sequence.
``oms.sql.Prepared``: a queryset compiled once and run with other ids must give exactly the
instances the queryset gives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from oms.sql import Prepared, insert_sql, mark_saved, next_ids, update_sql
from orders.models import OrderEvent
from tests.factories import ChannelFactory, CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    from orders.choices import FulfillmentMethod
    from orders.models import Order

    channel = ChannelFactory(code="web")
    return Order.objects.create(
        channel=channel, number="WEB-1", method=FulfillmentMethod.SHIP, currency="USD", total=Decimal("1")
    )


def _event(order, n: int) -> OrderEvent:
    return OrderEvent(
        order=order,
        kind="note",
        message=f"event {n}",
        data={"n": n, "nested": [1, "two"]},
        actor_type="system",
        actor_name="t",
    )


def test_rows_are_those_the_orm_writes(order):
    events = [_event(order, 1), _event(order, 2)]
    sql, params = insert_sql(OrderEvent, events, returning=("id",))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
    mark_saved(events)
    assert all(not e._state.adding and e._state.db == "default" for e in events)
    stored = {e.pk: e for e in OrderEvent.objects.filter(pk__in=ids)}
    for event in events:
        row = stored[event.pk]
        assert row.data == event.data
        assert row.created_at == event.created_at  # the auto_now_add stamp set on the instance
        assert (row.kind, row.message, row.actor_name, row.order_id) == ("note", event.message, "t", order.pk)
        assert row.actor_type == "system"


def test_a_primary_key_set_on_every_object_is_written(order):
    event = _event(order, 3)
    event.pk = 987654
    sql, params = insert_sql(OrderEvent, [event])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert OrderEvent.objects.get(pk=987654).message == "event 3"


def test_nothing_to_insert_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        insert_sql(OrderEvent, [])


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_a_shape_compiled_once_gives_what_the_compiler_gives(order, monkeypatch, rows):
    """The second INSERT of a shape is not compiled: same SQL, same values in the same layout
    (rows one after another, or PostgreSQL's UNNEST arrays), as the compiler would give."""
    import re
    from datetime import datetime

    from oms import sql as oms_sql

    STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    from oms.models import NotificationLog

    monkeypatch.setattr(oms_sql, "_INSERT_SHAPES", {})

    def stamps_out(params):  # auto_now_add stamps differ between two calls: compare the rest
        def one(value):
            if isinstance(value, list):
                return [one(v) for v in value]
            if isinstance(value, datetime) or (isinstance(value, str) and STAMP.match(value)):
                return "<stamp>"  # a datetime, or SQLite's text for one
            return ("json", value.obj) if type(value).__name__ == "Jsonb" else value  # adapters compare by id

        return [one(p) for p in params]

    def logs():
        return [
            NotificationLog(
                topic="t", event_id=n, recipient=f"r{n}@example.com", template="x", status="sending"
            )
            for n in range(rows)
        ]

    for objs, options in (
        (lambda: [_event(order, n) for n in range(rows)], {"returning": ("id",)}),
        (logs, {"returning": ("id",), "ignore_conflicts": True}),
    ):
        first = insert_sql(type(objs()[0]), objs(), **options)
        assert len(oms_sql._INSERT_SHAPES) >= 1
        monkeypatch.setattr(oms_sql, "InsertQuery", None)  # a second compile would fail
        second = insert_sql(type(objs()[0]), objs(), **options)
        monkeypatch.undo()
        monkeypatch.setattr(oms_sql, "_INSERT_SHAPES", dict(oms_sql._INSERT_SHAPES))
        assert second[0] == first[0]
        assert stamps_out(second[1]) == stamps_out(first[1])
    # and the rows it writes are the ORM's
    events = [_event(order, n) for n in range(rows)]
    sql, params = insert_sql(OrderEvent, events, returning=("id",))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert len(cursor.fetchall()) == rows
    stored = list(OrderEvent.objects.filter(message__startswith="event ").order_by("pk"))
    assert [(e.message, e.data, e.created_at) for e in stored[-rows:]] == [
        (e.message, e.data, e.created_at) for e in events
    ]


def test_update_sql_writes_what_save_with_update_fields_writes(order):
    from django.utils import timezone

    from orders.models import Order

    twin = Order.objects.get(pk=order.pk)
    stamp = timezone.now()
    before = order.updated_at
    order.status, order.allocated_at, order.number = "allocated", stamp, "NOT-WRITTEN"
    sql, params = update_sql(order, ["status", "allocated_at", "updated_at"])
    assert sql.startswith("UPDATE")
    assert "number" not in sql
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert order.updated_at > before  # auto_now stamped on the instance, as save() does
    row = Order.objects.get(pk=order.pk)
    assert (row.status, row.allocated_at, row.updated_at, row.number) == (
        "allocated",
        stamp,
        order.updated_at,
        "WEB-1",
    )
    # the same change through save(update_fields=...) leaves the same row
    twin.status, twin.allocated_at = "allocated", stamp
    twin.save(update_fields=["status", "allocated_at"])
    again = Order.objects.get(pk=order.pk)
    assert (again.status, again.allocated_at) == (row.status, row.allocated_at)


def test_update_sql_refuses_nothing_and_the_primary_key(order):
    with pytest.raises(ValueError, match="at least one"):
        update_sql(order, [])
    with pytest.raises(ValueError, match="cannot write"):
        update_sql(order, ["id"])


def test_next_ids_draws_increasing_unused_keys(order):
    if connection.vendor != "postgresql":
        with pytest.raises(NotImplementedError):
            next_ids(OrderEvent, 2)
        return
    assert next_ids(OrderEvent, 0) == []
    first, second, third = next_ids(OrderEvent, 3)
    assert first < second < third
    event = _event(order, 4)
    event.pk = second
    sql, params = insert_sql(OrderEvent, [event])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert OrderEvent.objects.get(pk=second).message == "event 4"
    assert _event(order, 5).save() is None  # the sequence has moved past them: no clash


# --- Prepared: a queryset compiled once, run with other ids -----------------------------------------


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.fixture
def two_orders(order):
    from orders.models import Order, OrderLine

    customer = CustomerFactory(email="ann@example.com", name="Ann")
    store = StoreFactory()
    second = Order.objects.create(
        channel=order.channel,
        customer=customer,
        pickup_location=store,
        number="WEB-2",
        method="pickup",
        currency="USD",
        total=Decimal("12.50"),
        shipping_address={"city": "Hanoi", "lines": ["1", "2"]},
    )
    for n, o in enumerate((order, second, second), start=1):
        OrderLine.objects.create(
            order=o,
            line_number=n,
            product=ProductFactory(),
            sku=f"S{n}",
            quantity=n,
            unit_price=Decimal("2.50"),
            line_total=Decimal("2.50") * n,
        )
    return order, second


def test_prepared_gives_what_the_queryset_gives(two_orders):
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order, OrderLine

    lines_of = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("line_number"))
    by_pk = Prepared(
        lambda order_id: (
            Order.objects.select_related("channel", "customer", "pickup_location")
            .filter(pk=order_id)
            .order_by("pk")[:1]
        )
    )
    for o in two_orders:  # the second call reuses the SQL compiled by the first
        expected = list(OrderLine.objects.filter(order_id=o.pk).order_by("line_number"))
        got = lines_of(order_id=o.pk)
        assert [_fields(x) for x in got] == [_fields(x) for x in expected]
        assert all(not x._state.adding and x._state.db == "default" for x in got)

        found = by_pk.first(order_id=o.pk)
        assert _fields(found) == _fields(Order.objects.get(pk=o.pk))  # JSON, Decimal, aware datetimes
        with CaptureQueriesContext(connection) as ctx:
            assert found.channel.code == "web"  # select_related objects come with it
            assert (found.customer and found.customer.email) == (o.customer and o.customer.email)
            assert (found.pickup_location and found.pickup_location.pk) == o.pickup_location_id
        assert ctx.captured_queries == []
    assert by_pk.first(order_id=-1) is None
    assert lines_of(order_id=-1) == []


def test_prepared_runs_one_statement_per_call_and_locks_in_a_transaction(two_orders):
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order

    locked = Prepared(lambda order_id: Order.objects.select_for_update(of=("self",)).filter(pk=order_id))
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        first = locked(order_id=two_orders[0].pk)
        second = locked(order_id=two_orders[1].pk)
    assert [o.number for o in (*first, *second)] == ["WEB-1", "WEB-2"]
    assert len(ctx.captured_queries) == 2
    if connection.features.has_select_for_update:
        assert all("FOR UPDATE" in q["sql"] for q in ctx.captured_queries)


def test_prepared_refuses_what_it_cannot_replay(order):
    from django.db.models import Count

    from orders.models import Order

    with pytest.raises(TypeError):
        Prepared(lambda order_id: Order.objects.filter(pk=order_id).values("number"))(order_id=order.pk)
    with pytest.raises(TypeError):
        Prepared(lambda order_id: Order.objects.annotate(n=Count("lines")).filter(pk=order_id))(
            order_id=order.pk
        )
    with pytest.raises(TypeError):  # the id does not reach the SQL
        Prepared(lambda order_id: Order.objects.filter(number="WEB-1"))(order_id=order.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_prepared_compiles_per_thread(two_orders):
    """Django's connections are per thread, and so is a compiled query (its compiler keeps the
    connection it was compiled for)."""
    import threading

    from django.db import connections

    from orders.models import OrderLine

    lines_of = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("line_number"))
    here = [line.sku for line in lines_of(order_id=two_orders[1].pk)]
    seen: dict[str, object] = {}

    def other() -> None:
        try:
            seen["skus"] = [line.sku for line in lines_of(order_id=two_orders[1].pk)]
            seen["compiled"] = lines_of._local.compiled[""]
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert here == seen["skus"] == ["S2", "S3"]
    assert seen["compiled"] is not lines_of._local.compiled[""]


def test_with_writes_puts_each_write_in_a_cte_before_the_last():
    from oms.sql import with_writes

    assert with_writes([], ("INSERT c", (3,))) == ("INSERT c", [3])
    assert with_writes([("INSERT a", (1,)), ("UPDATE b", (2,))], ("INSERT c RETURNING id", (3,))) == (
        "WITH w0 AS (INSERT a), w1 AS (UPDATE b) INSERT c RETURNING id",
        [1, 2, 3],
    )
