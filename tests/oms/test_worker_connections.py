"""A Celery worker child keeps its database connection across tasks, as a web process does across
requests (``CELERY_DB_REUSE_MAX``), and still drops one that broke or outlived its age.

Celery's Django fixup closes every connection, and the whole psycopg pool, after each task unless
``CELERY_DB_REUSE_MAX`` is set: each task then paid a new PostgreSQL backend (two, with the pool's
``min_size``), which was most of a routed order's cost on the worker (docs/performance.md). The
signal handlers are called here the way the worker calls them, around a task that is not eager."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.conf import settings
from django.db import connection

from config.celery_app import _after_task, _drop_unusable_connections, app
from fulfillment.tasks import route_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_task(fixup: DjangoWorkerFixup) -> int:
    """What the worker does around one task (fixup and our handlers, in signal order); the task
    itself asks PostgreSQL for its backend's pid."""
    _drop_unusable_connections(sender=route_order)
    fixup.on_task_prerun(sender=route_order)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fixup.on_task_postrun(sender=route_order)
    _after_task(sender=route_order)
    return pid


@pytest.fixture
def persistent():
    """The connection as production workers hold it: persistent (the pool, or CONN_MAX_AGE)."""
    connection.ensure_connection()
    connection.close_at = None
    yield
    connection.close()


def test_the_setting_reaches_celerys_django_fixup():
    assert settings.CELERY_DB_REUSE_MAX >= 100
    assert DjangoWorkerFixup(app).db_reuse_max == settings.CELERY_DB_REUSE_MAX


def test_one_backend_serves_many_tasks(persistent):
    assert not route_order.request.is_eager  # the signals' sender, as in a worker
    fixup = DjangoWorkerFixup(app)
    pids = {_run_task(fixup) for _ in range(5)}
    assert len(pids) == 1


def test_without_the_setting_every_task_opens_a_new_backend(persistent):
    """Celery's default, which the setting turns off: the reason it exists."""
    fixup = DjangoWorkerFixup(app)
    fixup.db_reuse_max = None
    pids = [_run_task(fixup) for _ in range(3)]
    assert len(set(pids)) == 3


def test_the_connection_is_recycled_every_n_tasks(persistent):
    fixup = DjangoWorkerFixup(app)
    fixup.db_reuse_max = 2
    pids = [_run_task(fixup) for _ in range(6)]
    assert 1 < len(set(pids)) < 6  # kept for a few tasks, then a new one


def test_a_broken_connection_is_dropped_before_the_next_task(persistent):
    fixup = DjangoWorkerFixup(app)
    first = _run_task(fixup)
    # The server ends the backend (a restart, a failover): the next query would fail.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.connection.close()
    connection.errors_occurred = True  # what Django notes when a query fails mid-task
    second = _run_task(fixup)  # would raise had the broken connection been kept
    assert second != first


def test_a_connection_past_its_age_is_closed_after_the_task(persistent):
    fixup = DjangoWorkerFixup(app)
    first = _run_task(fixup)
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE elapsed
    _after_task(sender=route_order)
    assert connection.connection is None
    assert _run_task(fixup) != first


def test_an_eager_task_leaves_its_callers_connection_alone(persistent):
    """Tests and the SQLite demo run tasks in the caller's process, often inside its transaction."""
    raw = connection.connection
    connection.close_at = time.monotonic() - 1
    route_order.push_request(is_eager=True)
    try:
        _drop_unusable_connections(sender=route_order)
        _after_task(sender=route_order)
    finally:
        route_order.pop_request()
    assert connection.connection is raw
