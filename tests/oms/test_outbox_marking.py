"""Batched marking of dispatched outbox rows (``OMS_OUTBOX_MARK_DELAY_SECONDS`` > 0, production).

The request path writes nothing after its COMMIT: the dispatched ids wait in the process and a
background thread marks them with one UPDATE per batch. Marks are never lost silently: a failed
UPDATE keeps them for the next round, and a mark lost with its process only makes the relay
announce the event once more (at least once, as subscribers expect)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oms import events
from oms.models import OutboxEvent
from oms.outbox import outbox_relay

TOPIC = "test.marking"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def marker(monkeypatch, settings):
    """A fresh marker (its own thread) with a delay long enough that only flush() marks."""
    settings.OMS_OUTBOX_MARK_DELAY_SECONDS = 60.0
    fresh = events._Marker()
    monkeypatch.setattr(events, "_marker", fresh)
    return fresh


@pytest.fixture
def heard(monkeypatch):
    seen: list[dict] = []
    monkeypatch.setitem(events._subscribers, TOPIC, [lambda topic, payload: seen.append(payload)])
    return seen


def publish(payload: dict) -> OutboxEvent:
    with transaction.atomic():
        events.publish(topic=TOPIC, payload=payload)
    return OutboxEvent.objects.order_by("-pk").first()


def test_after_commit_the_request_writes_nothing_and_the_mark_waits(marker, heard):
    with CaptureQueriesContext(connection) as ctx:
        row = publish({"n": 1})
    outbox = [q["sql"].split()[0] for q in ctx.captured_queries if "oms_outboxevent" in q["sql"]]
    assert outbox[:1] == ["INSERT"]
    assert "UPDATE" not in outbox  # no write after the COMMIT
    assert heard == [{"n": 1}]  # announced at once all the same
    assert row.dispatched_at is None
    assert marker.pending() == [row.pk]

    assert events.outbox_marks_flush() == 1
    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert row.attempts == 1
    assert marker.pending() == []


def test_one_update_marks_a_whole_batch(marker, heard):
    rows = [publish({"n": n}) for n in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        assert events.outbox_marks_flush() == 5
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["UPDATE"]
    assert OutboxEvent.objects.filter(pk__in=[r.pk for r in rows], dispatched_at__isnull=True).count() == 0


def test_a_failing_subscriber_is_recorded_at_once_not_batched(marker, monkeypatch):
    def fail(topic: str, payload: dict) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setitem(events._subscribers, TOPIC, [fail])
    row = publish({"n": 1})
    row.refresh_from_db()
    assert row.dispatched_at is None
    assert "broker down" in row.last_error
    assert marker.pending() == []


def test_a_refused_mark_is_kept_for_the_next_round(marker, heard, monkeypatch):
    row = publish({"n": 1})
    real_filter = OutboxEvent.objects.filter
    calls = {"n": 0}

    def flaky_filter(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise DatabaseError("connection lost")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(OutboxEvent.objects, "filter", flaky_filter)
    assert events.outbox_marks_flush() == 0
    assert marker.pending() == [row.pk]
    assert events.outbox_marks_flush() == 1
    row.refresh_from_db()
    assert row.dispatched_at is not None


def test_a_mark_lost_with_its_process_means_one_more_announcement(marker, heard):
    row = publish({"n": 1})
    marker._ids.clear()  # the process died before its marker ran
    result = outbox_relay(now=timezone.now() + timedelta(seconds=31))
    assert result.relayed == 1
    assert heard == [{"n": 1}, {"n": 1}]  # at least once: subscribers are idempotent
    row.refresh_from_db()
    assert row.dispatched_at is not None


@pytest.mark.postgres
def test_the_background_thread_marks_within_the_delay(monkeypatch, settings, heard):
    settings.OMS_OUTBOX_MARK_DELAY_SECONDS = 0.05
    monkeypatch.setattr(events, "_marker", events._Marker())
    row = publish({"n": 1})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if row.dispatched_at is not None:
            break
        time.sleep(0.02)
    assert row.dispatched_at is not None
    assert heard == [{"n": 1}]


def test_a_worker_child_keeping_its_connections_marks_in_batches_with_the_thread(marker, heard, settings):
    """CELERY_DB_REUSE_MAX set (the default): the child marks as a web process does, so a task
    ends without a marking statement of its own."""
    from celery.signals import task_postrun

    from config.celery_app import _mark_events_after_each_task

    settings.CELERY_DB_REUSE_MAX = 1000
    _mark_events_after_each_task()  # worker_process_init, in a new child
    assert marker.threaded
    row = publish({"n": 1})
    assert marker.pending() == [row.pk]

    with CaptureQueriesContext(connection) as ctx:
        task_postrun.send(sender=None)  # the end of the task that published it
    assert [q["sql"] for q in ctx.captured_queries if "oms_outboxevent" in q["sql"]] == []
    assert marker.pending() == [row.pk]  # the thread's next batch takes it

    assert events.outbox_marks_flush() == 1
    row.refresh_from_db()
    assert row.dispatched_at is not None


def test_a_worker_child_whose_connections_close_marks_after_each_task(marker, heard, settings):
    from celery.signals import task_postrun

    from config.celery_app import _mark_events_after_each_task

    settings.CELERY_DB_REUSE_MAX = 0  # Celery closes the connections (and a pool) after each task
    _mark_events_after_each_task()
    assert not marker.threaded
    row = publish({"n": 1})
    assert marker._pid is None  # no thread was started
    assert marker.pending() == [row.pk]

    task_postrun.send(sender=None)  # the end of the task that published it

    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert marker.pending() == []


# --- Work deferred to the marking round (events.defer_to_mark) -------------------------------------


@pytest.fixture
def deferring(monkeypatch):
    """A subscriber of TOPIC that defers its payload to the marking round; ``sent`` holds each call
    of the send (a list of items); ``fail`` makes the next sends raise."""
    sent: list[list[dict]] = []
    state = {"fail": False}

    def send(items: list[dict]) -> None:
        if state["fail"]:
            raise ConnectionError("broker down")
        sent.append(list(items))

    def subscriber(topic: str, payload: dict) -> None:
        events.defer_to_mark(send, {"event_id": events.current_event().id, **payload})

    monkeypatch.setitem(events._subscribers, TOPIC, [subscriber])
    return sent, state


def test_deferred_items_wait_for_the_round_and_go_in_one_call_before_the_marks(marker, deferring):
    sent, _ = deferring
    rows = [publish({"n": n}) for n in range(3)]
    assert sent == []  # nothing sent after the COMMITs
    assert marker.pending_items() == [{"event_id": row.pk, "n": n} for n, row in enumerate(rows)]

    with CaptureQueriesContext(connection) as ctx:
        assert events.outbox_marks_flush() == 3
    assert sent == [[{"event_id": row.pk, "n": n} for n, row in enumerate(rows)]]  # one call for all
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["UPDATE"]  # and one mark
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 0
    assert marker.pending_items() == []


def test_an_event_is_marked_only_after_its_item_was_sent(marker, deferring, monkeypatch):
    """The round sends first and marks after: a mark never stands for an item still in memory."""
    sent, _ = deferring
    row = publish({"n": 1})
    seen_at_send: list[bool] = []

    def send_and_look(items: list[dict]) -> None:
        seen_at_send.append(OutboxEvent.objects.get(pk=row.pk).dispatched_at is None)
        sent.append(items)

    monkeypatch.setattr(marker, "_deferred", [(i, send_and_look, it) for i, _, it in marker._deferred])
    assert events.outbox_marks_flush() == 1
    assert seen_at_send == [True]
    row.refresh_from_db()
    assert row.dispatched_at is not None


def test_an_item_that_could_not_be_sent_leaves_its_event_to_the_relay(marker, deferring):
    sent, state = deferring
    failing = publish({"n": 1})
    state["fail"] = True
    assert events.outbox_marks_flush() == 0
    failing.refresh_from_db()
    assert failing.dispatched_at is None
    assert "broker down" in failing.last_error
    assert failing.attempts == 1
    assert marker.pending() == []  # not kept: the relay owns it now

    state["fail"] = False
    result = outbox_relay(now=timezone.now() + timedelta(seconds=31))
    assert result.relayed == 1
    assert sent == [[{"event_id": failing.pk, "n": 1}]]  # the relay's dispatch sends at once
    failing.refresh_from_db()
    assert failing.dispatched_at is not None


def test_the_items_of_an_event_whose_other_subscriber_failed_are_sent_at_once(marker, deferring, monkeypatch):
    sent, _ = deferring
    (deferring_subscriber,) = events._subscribers[TOPIC]

    def fail(topic: str, payload: dict) -> None:
        raise ConnectionError("webhooks down")

    monkeypatch.setitem(events._subscribers, TOPIC, [deferring_subscriber, fail])
    row = publish({"n": 1})
    assert sent == [[{"event_id": row.pk, "n": 1}]]
    assert marker.pending_items() == []
    row.refresh_from_db()
    assert row.dispatched_at is None
    assert "webhooks down" in row.last_error


def test_without_a_delay_a_deferred_item_is_sent_at_once(settings, deferring):
    sent, _ = deferring
    settings.OMS_OUTBOX_MARK_DELAY_SECONDS = 0.0
    row = publish({"n": 1})
    assert sent == [[{"event_id": row.pk, "n": 1}]]
    row.refresh_from_db()
    assert row.dispatched_at is not None


def test_outside_a_dispatch_a_deferred_item_is_sent_at_once():
    calls: list[list[int]] = []
    events.defer_to_mark(calls.append, 7)
    assert calls == [[7]]
