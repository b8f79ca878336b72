"""The transactional outbox: every event is a row written in the caller's transaction, dispatched
after commit (one UPDATE), and re-dispatched by the relay when a dead process or a lost broker
left it undispatched. Also the beat schedule and the idempotency purge task."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery_app import app
from fulfillment.models import FulfillmentOrder
from oms import events
from oms.errors import Conflict
from oms.models import OutboxEvent
from oms.outbox import outbox_purge, outbox_relay, outbox_relay_batch
from oms.tasks import outbox_relay as outbox_relay_task
from orders.models import IdempotencyRecord, Order
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from orders.tasks import purge_idempotency_records
from tests.conftest import SYSTEM, stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory

TOPIC = "test.outbox"


@pytest.fixture
def heard(monkeypatch):
    """Subscribe a recorder to TOPIC (after commit); restored after the test."""
    seen: list[tuple[str, dict, int | None]] = []

    def record(topic: str, payload: dict) -> None:
        event = events.current_event()
        seen.append((topic, payload, event.id if event else None))

    monkeypatch.setitem(events._subscribers, TOPIC, [record])
    return seen


@pytest.fixture
def failing_once(monkeypatch):
    """A TOPIC subscriber that fails (a broker restarting) until told to work."""
    state = {"fail": True, "calls": 0}

    def handler(topic: str, payload: dict) -> None:
        state["calls"] += 1
        if state["fail"]:
            raise ConnectionError("broker restarting")

    monkeypatch.setitem(events._subscribers, TOPIC, [handler])
    return state


def relay_now(**kwargs):
    """Run the relay as if OMS_OUTBOX_RELAY_AFTER_SECONDS had passed."""
    return outbox_relay(now=timezone.now() + timedelta(seconds=31), **kwargs)


# --- publish -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_row_is_written_in_the_callers_transaction_and_dispatched_after_commit(heard):
    with transaction.atomic():
        events.publish(topic=TOPIC, payload={"order_id": 7})
        row = OutboxEvent.objects.get()
        assert (row.topic, row.payload, row.dispatched_at) == (TOPIC, {"order_id": 7}, None)
        assert heard == []  # nothing announced before the commit
    row.refresh_from_db()
    assert heard == [(TOPIC, {"order_id": 7}, row.pk)]
    assert row.dispatched_at is not None
    assert row.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_publish_many_writes_every_row_in_one_insert_and_announces_each_after_commit(monkeypatch, heard):
    other = "test.outbox.other"
    in_transaction: list[tuple[str, dict]] = []
    monkeypatch.setitem(events._in_transaction, other, [lambda t, p: in_transaction.append((t, p))])
    monkeypatch.setitem(events._subscribers, other, [lambda t, p: heard.append((t, p, None))])
    with transaction.atomic():
        with CaptureQueriesContext(connection) as ctx:
            events.publish_many([(TOPIC, {"n": 1}), (other, {"n": 2}), (TOPIC, {"n": 3})])
        assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["INSERT"]
        assert in_transaction == [(other, {"n": 2})]  # at once, inside the transaction
        rows = list(OutboxEvent.objects.order_by("pk"))
        assert [(r.topic, r.payload) for r in rows] == [
            (TOPIC, {"n": 1}),
            (other, {"n": 2}),
            (TOPIC, {"n": 3}),
        ]
        assert heard == []
    assert heard == [
        (TOPIC, {"n": 1}, rows[0].pk),
        (other, {"n": 2}, None),
        (TOPIC, {"n": 3}, rows[2].pk),
    ]
    assert all(r.dispatched_at is not None for r in OutboxEvent.objects.all())
    events.publish_many([])  # nothing to announce: no statement, no error


@pytest.mark.django_db(transaction=True)
def test_outbox_rows_and_announce_split_publish_many_for_a_caller_that_writes_the_rows(monkeypatch, heard):
    """Routing on PostgreSQL writes its outbox rows with its other rows in one statement: the
    in-transaction handlers run when the rows are made, the announcement waits for COMMIT."""
    in_transaction: list[tuple[str, dict]] = []
    monkeypatch.setitem(events._in_transaction, TOPIC, [lambda t, p: in_transaction.append((t, p))])
    with transaction.atomic():
        rows = events.outbox_rows([(TOPIC, {"n": 1}), (TOPIC, {"n": 2})])
        assert in_transaction == [(TOPIC, {"n": 1}), (TOPIC, {"n": 2})]
        assert all(r.pk is None for r in rows)
        assert not OutboxEvent.objects.exists()
        with pytest.raises(ValueError, match="written"):
            events.outbox_announce(rows)
        for row in rows:
            row.save()
        events.outbox_announce(rows)
        assert heard == []
    assert heard == [(TOPIC, {"n": 1}, rows[0].pk), (TOPIC, {"n": 2}, rows[1].pk)]


@pytest.mark.django_db(transaction=True)
def test_publish_many_with_writes_the_callers_rows_and_the_outbox_in_one_statement(heard):
    """PostgreSQL: placement and routing write their rows and their outbox rows in one statement;
    with no event the writes alone make it."""
    if connection.vendor != "postgresql":
        pytest.skip("one statement of several writes is PostgreSQL's (data-modifying CTEs)")
    from oms.sql import insert_sql

    with transaction.atomic():
        row = OutboxEvent(topic="other.topic", payload={"n": 0})
        with CaptureQueriesContext(connection) as ctx:
            events.publish_many_with([insert_sql(OutboxEvent, [row])], [(TOPIC, {"n": 1})])
            events.publish_many_with([insert_sql(OutboxEvent, [row])], [])
        assert len(ctx.captured_queries) == 2
        assert OutboxEvent.objects.filter(topic="other.topic").count() == 2
        (published,) = OutboxEvent.objects.filter(topic=TOPIC)
        assert heard == []
        events.publish_many_with([], [])  # nothing to write: no statement
    assert heard == [(TOPIC, {"n": 1}, published.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_row_and_announces_nothing(heard):
    def change() -> None:
        with transaction.atomic():
            events.publish(topic=TOPIC, payload={"order_id": 7})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change()
    assert OutboxEvent.objects.count() == 0
    assert heard == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_takes_its_event_with_it(heard):
    def inner_change() -> None:
        with transaction.atomic():
            events.publish(topic=TOPIC, payload={"n": 2})
            raise RuntimeError

    with transaction.atomic():
        events.publish(topic=TOPIC, payload={"n": 1})
        with pytest.raises(RuntimeError):
            inner_change()
    assert list(OutboxEvent.objects.values_list("payload", flat=True)) == [{"n": 1}]
    assert [payload for _, payload, _ in heard] == [{"n": 1}]


@pytest.mark.django_db(transaction=True)
def test_an_in_transaction_refusal_writes_no_row(monkeypatch, heard):
    def refuse(topic: str, payload: dict) -> None:
        raise Conflict("not now")

    monkeypatch.setitem(events._in_transaction, TOPIC, [refuse])
    with pytest.raises(Conflict), transaction.atomic():
        events.publish(topic=TOPIC, payload={})
    assert OutboxEvent.objects.count() == 0
    assert heard == []


@pytest.mark.django_db(transaction=True)
def test_publish_costs_one_insert_and_after_commit_one_update(monkeypatch):
    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        events.publish(topic=TOPIC, payload={"order_id": 1})
    outbox = [q["sql"].split()[0] for q in ctx.captured_queries if "oms_outboxevent" in q["sql"]]
    assert outbox == ["INSERT", "UPDATE"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_leaves_the_event_for_the_relay(failing_once):
    with transaction.atomic():
        events.publish(topic=TOPIC, payload={"order_id": 9})
    row = OutboxEvent.objects.get()
    assert row.dispatched_at is None
    assert "broker restarting" in row.last_error
    assert failing_once["calls"] == 1

    assert outbox_relay().relayed == 0  # too recent: the relay waits OMS_OUTBOX_RELAY_AFTER_SECONDS
    failed = relay_now()  # still failing: kept, and it backs off
    assert (failed.relayed, failed.failed) == (0, 1)
    row.refresh_from_db()
    assert row.dispatched_at is None
    assert row.retry_after > timezone.now()
    assert relay_now().relayed == 0  # backing off

    failing_once["fail"] = False
    later = outbox_relay(now=row.retry_after + timedelta(seconds=1))
    assert later.relayed == 1
    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert row.attempts == 3
    assert failing_once["calls"] == 3


# --- relay ---------------------------------------------------------------------------------------------


def lost_event(payload: dict, *, age: int = 60, topic: str = TOPIC) -> OutboxEvent:
    """A row whose transaction committed but whose process died before the dispatch."""
    return OutboxEvent.objects.create(
        topic=topic, payload=payload, created_at=timezone.now() - timedelta(seconds=age)
    )


@pytest.mark.django_db
def test_the_relay_redispatches_undispatched_rows_in_created_order(heard):
    second = lost_event({"n": 2}, age=40)
    first = lost_event({"n": 1}, age=90)
    recent = lost_event({"n": 3}, age=5)  # its own dispatch may still be under way

    result = outbox_relay()

    assert result.relayed == 2
    assert heard == [(TOPIC, {"n": 1}, first.pk), (TOPIC, {"n": 2}, second.pk)]
    assert set(OutboxEvent.objects.filter(dispatched_at__isnull=False).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    recent.refresh_from_db()
    assert recent.dispatched_at is None
    assert outbox_relay().relayed == 0  # nothing twice


@pytest.mark.django_db
def test_the_relay_task_is_callable_and_reports(heard):
    lost_event({"n": 1})
    assert outbox_relay_task.delay().get() == {"relayed": 1, "failed": 0, "purged": 0}


@pytest.mark.django_db
def test_the_relay_routes_an_order_whose_dispatch_was_lost():
    """A 201 order whose process died after the commit (on_commit never ran) is still routed."""
    ProductFactory(sku="SHIRT")
    warehouse = LocationFactory(code="wh-1")
    stock_put(ProductFactory(sku="SHIRT"), warehouse, 5)
    order = order_place(
        data=OrderInput(
            channel=ChannelFactory(code="web"),
            method="ship",
            currency="USD",
            lines=[LineInput(sku="SHIRT", quantity=2, unit_price=Decimal("10"))],
            customer=CustomerInput(email="ann@example.com"),
            shipping_address={"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
            latitude=Decimal("10.77"),
            longitude=Decimal("106.70"),
        ),
        actor=SYSTEM,
    ).order
    # the test transaction never commits: exactly what a process killed after COMMIT leaves behind
    row = OutboxEvent.objects.get(topic="order.created")
    assert row.payload["order_id"] == order.pk
    assert row.dispatched_at is None
    assert not FulfillmentOrder.objects.filter(order=order).exists()

    relay_now()
    relay_now()  # a second relay finds nothing left; the consumers are idempotent anyway

    assert FulfillmentOrder.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == "allocated"
    row.refresh_from_db()
    assert row.dispatched_at is not None


@pytest.mark.django_db
def test_purge_forgets_dispatched_rows_older_than_seven_days_only():
    now = timezone.now()
    old_done = OutboxEvent.objects.create(
        topic=TOPIC, created_at=now - timedelta(days=8), dispatched_at=now - timedelta(days=8)
    )
    old_pending = OutboxEvent.objects.create(topic=TOPIC, created_at=now - timedelta(days=8))
    fresh_done = OutboxEvent.objects.create(
        topic=TOPIC, created_at=now - timedelta(days=6), dispatched_at=now
    )

    assert outbox_purge(now=now) == 1

    remaining = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert old_done.pk not in remaining
    assert {old_pending.pk, fresh_done.pk} <= remaining


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_skip_rows_another_relay_holds(heard):
    """SELECT ... FOR UPDATE SKIP LOCKED: a second relay neither waits for nor repeats the first."""
    rows = [lost_event({"n": n}) for n in range(3)]
    locked, release = threading.Event(), threading.Event()

    def first_relay() -> None:
        try:
            with transaction.atomic():
                list(OutboxEvent.objects.select_for_update().filter(pk__in=[r.pk for r in rows[:2]]))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=first_relay)
    thread.start()
    try:
        assert locked.wait(10)
        relayed, failed = outbox_relay_batch()  # does not block on the two locked rows
        assert (relayed, failed) == (1, 0)
        assert [payload for _, payload, _ in heard] == [{"n": 2}]
    finally:
        release.set()
        thread.join(10)


# --- beat and the idempotency purge ---------------------------------------------------------------------


def test_beat_runs_the_relay_the_sweeper_expiries_and_purges():
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule == {
        "oms.tasks.outbox_relay": 30.0,
        "fulfillment.tasks.sweep": 60.0,
        "fulfillment.tasks.expire_pickups": 300.0,
        "orders.tasks.purge_idempotency_records": 3600.0,
        "orders.tasks.refresh_product_affinity": 3600.0,  # the customer page's suggestions
        "orders.tasks.release_expired_cart_holds": 60.0,  # carts' expired holds (docs/carts.md)
        "oms.tasks.loyalty_expire": 3600.0,
        "oms.tasks.loyalty_accounts_repair": 86400.0,
    }
    app.loader.import_default_modules()
    assert set(schedule) <= set(app.tasks)


def test_tasks_run_on_their_queues():
    router = app.amqp.router
    assert router.route({}, "oms.tasks.webhook_deliver")["queue"].name == "webhooks"
    assert router.route({}, "oms.tasks.notification_send")["queue"].name == "notifications"
    assert router.route({}, "oms.tasks.notification_send_many")["queue"].name == "notifications"
    assert router.route({}, "orders.tasks.purge_idempotency_records")["queue"].name == "routing"


@pytest.mark.django_db
def test_purge_idempotency_records_task_forgets_expired_keys():
    now = timezone.now()
    for key, expires in (("old", now - timedelta(minutes=1)), ("new", now + timedelta(hours=1))):
        IdempotencyRecord.objects.create(
            scope="client:1", key=key, request_hash="x", status_code=201, response={}, expires_at=expires
        )
    assert purge_idempotency_records.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
