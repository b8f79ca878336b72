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
