"""``oms.sql.insert_sql``: the ORM's own INSERT as text, so a hot path can write several tables in
one statement. The rows must be exactly those ``save()`` / ``bulk_create()`` would write."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from oms.sql import insert_sql, mark_saved
from orders.models import OrderEvent
from tests.factories import ChannelFactory

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
