"""Domain events: how a lower app tells higher ones (and the outside world) that something happened.

``publish`` is called inside the transaction that made the change. It runs the in-transaction
subscribers at once, and writes one ``OutboxEvent`` row in that same transaction (the transactional
outbox). The after-commit subscribers run only once the transaction commits
(``transaction.on_commit``), after which the row is marked dispatched; a rolled-back change leaves
neither a row nor an announcement.

Marking: with ``OMS_OUTBOX_MARK_DELAY_SECONDS`` at 0 (tests, the demo) one UPDATE right after the
dispatch; above 0 (production) the dispatched ids wait in the process and a background thread
marks them with one UPDATE per batch (at most that many seconds later, or as soon as
``MARK_BATCH`` ids wait; at exit too). A Celery worker child does the same while it keeps its
database connections across tasks (``CELERY_DB_REUSE_MAX``); when Celery closes them after every
task it marks after each task instead, with no thread (``outbox_marks_in_caller``). The request
path then writes nothing after its COMMIT. A mark lost with its process only means the relay
announces the event once more (after ``OMS_OUTBOX_RELAY_AFTER_SECONDS``, which must stay well above
the delay).

A subscriber whose work may wait that long and batches well (customer e-mails) hands it to the
marking round with ``defer_to_mark``: the round first sends every item waiting in one call (one
Celery message for many e-mails), then marks the events whose items went out; an event whose
item could not be sent stays undispatched, for the relay.

If the process dies between the commit and the dispatch, or a subscriber fails (the broker is
down), the row stays undispatched and ``oms.outbox.outbox_relay`` dispatches it again: every event
reaches its subscribers at least once, so subscribers must be idempotent (they only enqueue
idempotent tasks).

Higher apps subscribe in their ``AppConfig.ready`` (e.g. fulfillment subscribes to
``order.created`` to route), which keeps imports one way: returns -> fulfillment -> orders ->
inventory -> oms. While a subscriber runs, ``current_event()`` tells it the outbox event's id and
time (webhooks and notifications key their deliveries on it).

Topics use the webhook names of design.md: ``order.created``, ``order.allocated``,
``order.cancelled``, ``fulfillment.shipped``, ``fulfillment.ready_for_pickup``, ``return.received``,
``refund.created``, ``stock.changed`` ...; payloads are JSON-serialisable dicts holding ids.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboxEvent
from .sql import insert_sql, mark_saved, with_writes

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]
# Sends many deferred items at once (one Celery message for all of them, say); raises if it could not.
Deferred = Callable[[list[Any]], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_in_transaction: dict[str, list[Handler]] = defaultdict(list)


@dataclass(frozen=True)
class Event:
    """The outbox row of an event being dispatched."""

    id: int
    topic: str
    created_at: datetime


_current: ContextVar[Event | None] = ContextVar("oms_current_event", default=None)
# While an after-commit dispatch whose mark waits for the marking round runs: the items its
# subscribers defer to that round (None: nothing may wait, send at once).
_deferred_here: ContextVar[list[tuple[Deferred, Any]] | None] = ContextVar("oms_deferred", default=None)


def subscribe(topic: str, handler: Handler) -> None:
    """Register ``handler(topic, payload)`` for a topic (``"*"`` for every topic). Idempotent."""
    if handler not in _subscribers[topic]:
        _subscribers[topic].append(handler)


def subscribe_in_transaction(topic: str, handler: Handler) -> None:
    """Register ``handler(topic, payload)`` to run at once, inside the publisher's transaction.

    For work that must commit or roll back with the change (a cancelled order cancels its
    fulfilment orders); a handler may raise a DomainError to refuse the change. Idempotent."""
    if handler not in _in_transaction[topic]:
        _in_transaction[topic].append(handler)


def subscribers(topic: str) -> list[Handler]:
    """The after-commit handlers of ``topic``: its own, then those of every topic (``"*"``)."""
    return [*_subscribers.get(topic, []), *_subscribers.get("*", [])]


def current_event() -> Event | None:
    """The outbox event whose after-commit subscribers are running (None outside a dispatch)."""
    return _current.get()


def dispatch(event: Event, payload: Mapping[str, Any]) -> list[str]:
    """Run the after-commit subscribers of one event; answer the errors of those that failed.

    One failing subscriber does not stop the others; the caller keeps the event undispatched so
    that the relay tries again (every subscriber again: they are idempotent)."""
    errors: list[str] = []
    token = _current.set(event)
    try:
        for handler in subscribers(event.topic):
            try:
                handler(event.topic, dict(payload))
            except Exception as exc:
                logger.exception("event subscriber %r failed for %s #%s", handler, event.topic, event.id)
                name = getattr(handler, "__qualname__", repr(handler))
                errors.append(f"{name}: {exc!r}"[:500])
    finally:
        _current.reset(token)
    return errors


def defer_to_mark(send: Deferred, item: Any) -> None:
    """For an after-commit subscriber: have ``send(items)`` called with ``item`` and every other
    item waiting for the same ``send`` when this process next marks its dispatched events (the
    marking thread, at most ``OMS_OUTBOX_MARK_DELAY_SECONDS`` later), before the marks. If ``send``
    raises, the events of those items are not marked: the relay dispatches them again. Sent at
    once (``send([item])``) when nothing waits for a marking round: no delay (tests, the demo), a
    relay's dispatch, outside a dispatch. Only for work that may wait that long (e-mails, not
    routing), by idempotent receivers."""
    waiting = _deferred_here.get()
    if waiting is None:
        send([item])
        return
    waiting.append((send, item))


MARK_BATCH = 200  # ids per marking UPDATE
MARK_BACKLOG = 20_000  # ids kept while the database refuses the marks; older ones are left to the relay


class _Marker:
    """Dispatched outbox ids of this process, marked by a background thread in batches, and the
    items their subscribers deferred to the marking round (sent first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._ids: list[int] = []
        self._deferred: list[tuple[int, Deferred, Any]] = []
        self._pid: int | None = None
        self.threaded = True  # False: the caller flushes (a Celery worker, after each task)

    def add(self, event_id: int, delay: float, deferred: Sequence[tuple[Deferred, Any]] = ()) -> None:
        """Mark ``event_id`` in the next round, once its ``deferred`` items are sent."""
        with self._lock:
            if self.threaded and self._pid != os.getpid():
                # first use in this process (or a forked child): its own thread
                self._pid, self._ids, self._deferred = os.getpid(), [], []
                thread = threading.Thread(target=self._run, args=(delay,), name="outbox-marker", daemon=True)
                thread.start()
            self._ids.append(event_id)
            self._deferred.extend((event_id, send, item) for send, item in deferred)
            full = len(self._ids) >= MARK_BATCH
        if full and self.threaded:
            self._wake.set()

    def pending(self) -> list[int]:
        with self._lock:
            return list(self._ids)

    def pending_items(self) -> list[Any]:
        with self._lock:
            return [item for _, _, item in self._deferred]

    def _run(self, delay: float) -> None:
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self.pending():
                try:
                    self.flush()
                finally:
                    # the thread's own connection: handed back (or closed) between rounds, so it
                    # never holds a session the database would have to wait for
                    connections.close_all()

    def _send(self, deferred: list[tuple[int, Deferred, Any]]) -> set[int]:
        """Send the deferred items, one call per ``send`` and batch; answer the events of those
        that could not be sent (their error recorded for the relay)."""
        by_send: dict[Deferred, list[tuple[int, Any]]] = defaultdict(list)
        for event_id, send, item in deferred:
            by_send[send].append((event_id, item))
        unsent: dict[int, str] = {}
        for send, entries in by_send.items():
            for start in range(0, len(entries), MARK_BATCH):
                chunk = entries[start : start + MARK_BATCH]
                try:
                    send([item for _, item in chunk])
                except Exception as exc:
                    logger.exception("could not send %s deferred item(s); the relay will", len(chunk))
                    name = getattr(send, "__qualname__", repr(send))
                    unsent.update((event_id, f"{name}: {exc!r}"[:500]) for event_id, _ in chunk)
        by_error: dict[str, list[int]] = defaultdict(list)
        for event_id, error in unsent.items():
            by_error[error].append(event_id)
        for error, event_ids in by_error.items():  # one UPDATE per failed send, not per event
            try:
                close_old_connections()
                OutboxEvent.objects.filter(pk__in=event_ids).update(
                    attempts=F("attempts") + 1, last_error=error
                )
            except DatabaseError:  # undispatched all the same: the relay takes them
                logger.exception("could not record the error of outbox events %s", event_ids)
        return set(unsent)

    def flush(self) -> int:
        """Send the deferred items, then mark every waiting id dispatched whose items went out
        (one UPDATE per batch); answer how many were marked."""
        with self._lock:
            ids, self._ids = self._ids, []
            deferred, self._deferred = self._deferred, []
        if deferred:
            unsent = self._send(deferred)
            ids = [event_id for event_id in ids if event_id not in unsent]
        marked = 0
        for start in range(0, len(ids), MARK_BATCH):
            chunk = ids[start : start + MARK_BATCH]
            try:
                close_old_connections()
                OutboxEvent.objects.filter(pk__in=chunk, dispatched_at__isnull=True).update(
                    dispatched_at=timezone.now(), attempts=F("attempts") + 1
                )
                marked += len(chunk)
            except DatabaseError:
                logger.exception("could not mark %s outbox event(s) dispatched; trying again", len(chunk))
                with self._lock:
                    self._ids = [*ids[start:], *self._ids][-MARK_BACKLOG:]
                break
        return marked


_marker = _Marker()


def outbox_marks_in_caller() -> None:
    """No marking thread in this process: its owner calls ``outbox_marks_after_task`` itself. For
    Celery worker processes that close their database connections (and a pool) after every task
    (``CELERY_DB_REUSE_MAX`` unset): a thread of their own would race with that; one UPDATE after
    each task marks what it published."""
    _marker.threaded = False


def outbox_marks_after_task() -> int:
    """The end of a worker's task: mark what it dispatched now if this process has no marking
    thread; with one, the thread marks them in its next batch (no statement per task)."""
    return 0 if _marker.threaded else _marker.flush()


def outbox_marks_flush() -> int:
    """Mark now what this process dispatched and has not marked yet (exit, worker shutdown, tests)."""
    return _marker.flush()


atexit.register(outbox_marks_flush)


def _dispatch_committed(event: Event, payload: dict[str, Any]) -> None:
    """After commit: announce the event, then mark its outbox row (at once, or in a batch with
    what its subscribers deferred to it)."""
    delay = settings.OMS_OUTBOX_MARK_DELAY_SECONDS
    deferred: list[tuple[Deferred, Any]] = []
    token = _deferred_here.set(deferred if delay > 0 else None)
    try:
        errors = dispatch(event, payload)
    finally:
        _deferred_here.reset(token)
    if not errors and delay > 0:
        _marker.add(event.id, delay, deferred)
        return
    for send, item in deferred:  # the event stays for the relay: send what was deferred now
        try:
            send([item])
        except Exception as exc:
            logger.exception("deferred item of %s #%s failed", event.topic, event.id)
            errors.append(f"{getattr(send, '__qualname__', repr(send))}: {exc!r}"[:500])
    rows = OutboxEvent.objects.filter(pk=event.id)
    try:
        if errors:
            rows.update(attempts=F("attempts") + 1, last_error="\n".join(errors)[:4000])
        else:
            rows.update(dispatched_at=timezone.now(), attempts=F("attempts") + 1)
    except DatabaseError:
        # The change is committed and announced; the relay will announce it once more.
        logger.exception("could not mark outbox event %s dispatched", event.id)


def outbox_rows(items: Sequence[tuple[str, dict[str, Any]]]) -> list[OutboxEvent]:
    """The first half of ``publish_many``, for a caller that writes the outbox rows with other rows
    in one statement (routing on PostgreSQL): run the in-transaction handlers, in order, and
    answer the unsaved rows. Once they are written (with their ids), ``outbox_announce`` them."""
    for topic, payload in items:
        for handler in _in_transaction.get(topic, []):
            handler(topic, dict(payload))
    return [OutboxEvent(topic=topic, payload=payload) for topic, payload in items]


def outbox_announce(rows: Sequence[OutboxEvent]) -> None:
    """The second half: announce each written row once the current transaction commits."""
    for row in rows:
        if row.pk is None or row.created_at is None:
            raise ValueError("outbox_announce needs rows that are written (id and created_at)")
        event = Event(id=row.pk, topic=row.topic, created_at=row.created_at)
        transaction.on_commit(partial(_dispatch_committed, event, dict(row.payload)))


def publish_many_with(
    writes: Sequence[tuple[str, Sequence[Any]]], items: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """``publish_many`` in one statement with the caller's other ``writes`` (PostgreSQL only;
    ``(sql, params)`` as ``oms.sql.insert_sql`` / ``update_sql`` give them): each write a
    data-modifying CTE, the outbox rows' ``INSERT`` last, their ids and times returned to announce
    them after COMMIT. In-transaction handlers run first, as with ``publish_many``; with no event,
    the writes alone make the statement."""
    rows = outbox_rows(items)
    last: tuple[str, Sequence[Any]]
    if rows:
        last = insert_sql(OutboxEvent, rows, returning=("id", "created_at"))
    elif writes:
        *writes, last = writes
    else:
        return
    with connection.cursor() as cursor:
        cursor.execute(*with_writes(writes, last))
        returned = cursor.fetchall() if rows else []
    for row, (pk, created_at) in zip(rows, returned, strict=True):
        row.pk, row.created_at = pk, created_at
    mark_saved(rows)
    outbox_announce(rows)


def publish_many(items: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """``publish`` for several events of one transaction, with one INSERT for their outbox rows.
    In-transaction handlers run first, in order; each event is announced after commit as with
    ``publish``."""
    if not items:
        return
    new = outbox_rows(items)
    if connection.features.can_return_rows_from_bulk_insert:
        rows = OutboxEvent.objects.bulk_create(new)
    else:  # a database that cannot say the ids of a multi-row INSERT (an old SQLite)
        rows = [OutboxEvent.objects.create(topic=row.topic, payload=row.payload) for row in new]
    outbox_announce(rows)


def publish(*, topic: str, payload: dict[str, Any]) -> None:
    """Run the in-transaction handlers of ``topic`` now, record the event in the outbox (same
    transaction), and announce it to the others once the current transaction commits (at once
    outside a transaction)."""
    publish_many([(topic, payload)])
