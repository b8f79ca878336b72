"""Customer e-mails: a registry of builders, and the sending of one notification per event.

Imports run one way (returns -> fulfillment -> orders -> inventory -> oms), so the kernel knows
no order: the app that owns a topic's data registers a *builder* in its ``AppConfig.ready``::

    notification_register("order.created", order_confirmation_build, on_sent=order_email_sent_record)

A builder turns an event payload into ``Notification``s (recipient, template, context, language,
order id), or None when there is nothing to say. The wildcard subscriber in ``oms.subscribers``
enqueues ``oms.tasks.notification_send`` (queue ``notifications``) for every event with a builder
(in production, where dispatched events are marked in batches, it defers them to that round and
one ``oms.tasks.notification_send_many`` carries every event the round holds: ``notification_send_many``
below); the task calls ``notification_send`` below, which renders ``oms/email/<template>.subject.txt``,
``.txt`` and ``.html`` in the customer's language and sends them through Django's e-mail framework.

Exactly once per (topic, event, recipient): a ``NotificationLog`` row is claimed (unique key)
before sending, so a redelivered task or a re-dispatched event sends nothing twice. A claim left
by a worker that died while sending may be retaken after ``OMS_NOTIFICATION_CLAIM_SECONDS``.
``on_sent`` says what to write with the log's ``sent`` mark: unsaved rows (orders answers an
``email_sent`` row for the order's timeline), written with the mark in one statement on PostgreSQL,
in one transaction elsewhere. A customer without an e-mail address is skipped and logged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import NotificationLog, NotificationStatus
from .sql import insert_sql, mark_saved, update_sql, with_writes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """One e-mail to send. ``recipient`` is empty when the customer has no e-mail (skipped)."""

    recipient: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    language: str = ""
    order_id: int | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


Builder = Callable[[str, dict[str, Any]], "Notification | Iterable[Notification] | None"]
# A builder for many events of one topic at once: one answer per payload, in order.
ManyBuilder = Callable[[str, list[dict[str, Any]]], "Sequence[Notification | Iterable[Notification] | None]"]
# What to write with a log's ``sent`` mark: unsaved instances (or None). It must not write itself.
SentCallback = Callable[[Notification, NotificationLog], "Iterable[Model] | None"]


@dataclass(frozen=True)
class _Registration:
    builder: Builder
    on_sent: SentCallback | None
    build_many: ManyBuilder | None = None


_registry: dict[str, list[_Registration]] = defaultdict(list)


def notification_register(
    topic: str,
    builder: Builder,
    *,
    on_sent: SentCallback | None = None,
    build_many: ManyBuilder | None = None,
) -> None:
    """Send the notifications ``builder(topic, payload)`` makes for every ``topic`` event; for each
    e-mail sent, write the rows ``on_sent(notification, log)`` answers with the log's ``sent``
    mark. ``build_many(topic, payloads)``, if given, answers what ``builder`` would for each of
    several events, reading their data once (``notification_send_many``). Idempotent."""
    registration = _Registration(builder=builder, on_sent=on_sent, build_many=build_many)
    if registration not in _registry[topic]:
        _registry[topic].append(registration)


def notification_topics() -> frozenset[str]:
    """The topics with at least one registered notification."""
    return frozenset(topic for topic, registrations in _registry.items() if registrations)


def has_notifications(topic: str) -> bool:
    """Whether some notification is registered for ``topic``."""
    return bool(_registry.get(topic))


def language_for(code: str | None) -> str:
    """A language of settings.LANGUAGES for a customer's code ("vi", "vi-VN", "" ...)."""
    if code:
        try:
            return translation.get_supported_language_variant(code.strip().lower().replace("_", "-"))
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


# --- Rendering and sending ----------------------------------------------------------------------------


def notification_render(notification: Notification) -> Rendered:
    """Subject, text and HTML of a notification, in its language."""
    language = language_for(notification.language)
    context = {**notification.context, "language": language}
    name = f"oms/email/{notification.template}"
    with translation.override(language):
        subject = " ".join(render_to_string(f"{name}.subject.txt", context).split())
        text = render_to_string(f"{name}.txt", context)
        html = render_to_string(f"{name}.html", context)
    return Rendered(subject=subject[:300], text=text, html=html)


def _key(topic: str, event_id: int, recipient: str) -> dict[str, Any]:
    return {"topic": topic, "event_id": event_id, "recipient": recipient}


def _claim_row(
    *, topic: str, event_id: int, notification: Notification, status: str, now: Any
) -> NotificationLog:
    """The log row (unsaved) that claims one e-mail."""
    return NotificationLog(
        **_key(topic, event_id, notification.recipient),
        template=notification.template,
        language=language_for(notification.language),
        order_id=notification.order_id,
        status=status,
        attempts=1 if status == NotificationStatus.SENDING else 0,
        claimed_at=now,
    )


def _claim(*, topic: str, event_id: int, notification: Notification, status: str) -> NotificationLog | None:
    """Insert the log row (the claim); None if this e-mail was sent, skipped or is being sent."""
    now = timezone.now()
    key = _key(topic, event_id, notification.recipient)
    row = _claim_row(topic=topic, event_id=event_id, notification=notification, status=status, now=now)
    if _insert_claim(row):
        return row
    if status != NotificationStatus.SENDING:
        return None
    return _retake(key, now)


def _retake(key: dict[str, Any], now: Any) -> NotificationLog | None:
    """Take over a claim whose e-mail failed, or whose sender died (stale); None otherwise."""
    stale = now - timedelta(seconds=settings.OMS_NOTIFICATION_CLAIM_SECONDS)
    retaken = (
        NotificationLog.objects.filter(**key)
        .filter(
            Q(status=NotificationStatus.FAILED) | Q(status=NotificationStatus.SENDING, claimed_at__lte=stale)
        )
        .update(status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1, error="")
    )
    return NotificationLog.objects.get(**key) if retaken else None


def _insert_claim(row: NotificationLog) -> bool:
    """Insert the claim; False if the (topic, event, recipient) row exists. On PostgreSQL one
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: no error to catch, so no savepoint even when
    an eager task runs inside its caller's transaction, and in a worker (autocommit) the statement
    commits on its own. Elsewhere ``save()``, in a savepoint inside a transaction."""
    if connection.vendor == "postgresql":
        sql, params = insert_sql(NotificationLog, [row], returning=("id",), ignore_conflicts=True)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted = cursor.fetchone()
        if inserted is None:
            return False
        row.pk = inserted[0]
        mark_saved([row])
        return True
    try:
        if connection.in_atomic_block:  # an eager task in its caller's transaction: a savepoint
            with transaction.atomic():
                row.save(force_insert=True)
        else:  # a worker, in autocommit: the INSERT commits on its own, no BEGIN/COMMIT around it
            row.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _mark_sent(log: NotificationLog, rows: list[Model]) -> None:
    """Mark the log sent and write ``rows`` (the ``on_sent`` rows): on PostgreSQL one statement
    (the UPDATE a data-modifying CTE before each model's INSERT), which needs no transaction
    around it; elsewhere the ORM in one transaction."""
    fields = ["status", "subject", "sent_at", "error"]
    if connection.vendor != "postgresql":
        with transaction.atomic():
            log.save(update_fields=fields)
            for obj in rows:
                obj.save(force_insert=True)
        return
    by_model: dict[type[Model], list[Model]] = defaultdict(list)
    for obj in rows:
        by_model[type(obj)].append(obj)
    *writes, last = [update_sql(log, fields), *(insert_sql(model, objs) for model, objs in by_model.items())]
    with connection.cursor() as cursor:
        cursor.execute(*with_writes(writes, last))
    mark_saved(rows)


def _send_one(
    *, topic: str, event_id: int, notification: Notification, on_sent: SentCallback | None
) -> NotificationLog | None:
    if not notification.recipient:
        log = _claim(
            topic=topic, event_id=event_id, notification=notification, status=NotificationStatus.SKIPPED
        )
        if log is not None:
            _log_skipped(topic, event_id, notification)
        return log
    log = _claim(topic=topic, event_id=event_id, notification=notification, status=NotificationStatus.SENDING)
    if log is None:
        return None  # sent (or being sent) by an earlier delivery of this task
    rows = _deliver(notification, log, on_sent)
    _mark_sent(log, rows)
    return log


def _log_skipped(topic: str, event_id: int, notification: Notification) -> None:
    logger.info(
        "notification %s for %s #%s skipped: the customer has no e-mail address (order %s)",
        notification.template,
        topic,
        event_id,
        notification.order_id,
    )


def _deliver(notification: Notification, log: NotificationLog, on_sent: SentCallback | None) -> list[Model]:
    """Render and send one claimed e-mail; note it sent on ``log`` (unsaved) and answer the rows to
    write with the mark. A failure marks the log failed and raises."""
    try:
        rendered = notification_render(notification)
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.recipient],
        )
        message.attach_alternative(rendered.html, "text/html")
        message.send()
    except Exception as exc:
        NotificationLog.objects.filter(pk=log.pk).update(
            status=NotificationStatus.FAILED, error=repr(exc)[:500]
        )
        raise
    log.status, log.subject, log.sent_at, log.error = (
        NotificationStatus.SENT,
        rendered.subject,
        timezone.now(),
        "",
    )
    return list((on_sent(notification, log) if on_sent is not None else None) or ())


def _as_list(built: Notification | Iterable[Notification] | None) -> list[Notification]:
    if built is None:
        return []
    if isinstance(built, Notification):
        return [built]
    return list(built)


def notification_send_many(
    items: Iterable[Mapping[str, Any]],
) -> tuple[list[NotificationLog], list[dict[str, Any]]]:
    """``notification_send`` for several events (``{"topic", "event_id", "payload"}`` each): their
    data read once per topic (a registration's ``build_many``), every claim one ``INSERT`` and every
    ``sent`` mark with its rows one statement on PostgreSQL; each e-mail rendered and sent on its
    own. One failing event does not hold back the others. Answer the logs written and the items
    that failed, for the caller to retry one by one."""
    logs: list[NotificationLog] = []
    failed: list[dict[str, Any]] = []
    planned: list[tuple[dict[str, Any], _Registration, Notification]] = []
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_topic[item["topic"]].append(dict(item))
    for topic, group in by_topic.items():
        for registration in list(_registry.get(topic, [])):
            for item, built in zip(group, _build_all(topic, registration, group), strict=True):
                if isinstance(built, Exception):
                    _failed(failed, item, built)
                else:
                    planned += [(item, registration, n) for n in _as_list(built)]
    claims = _claim_many([(item["topic"], item["event_id"], n) for item, _, n in planned])
    sent: list[tuple[NotificationLog, list[Model]]] = []
    for (item, registration, notification), log in zip(planned, claims, strict=True):
        if log is None:
            continue  # sent (or being sent) by an earlier delivery
        if log.status == NotificationStatus.SKIPPED:
            _log_skipped(item["topic"], item["event_id"], notification)
            logs.append(log)
            continue
        try:
            sent.append((log, _deliver(notification, log, registration.on_sent)))
        except Exception as exc:
            _failed(failed, item, exc)
    _mark_sent_many(sent)
    logs += [log for log, _ in sent]
    return logs, failed


def _failed(failed: list[dict[str, Any]], item: dict[str, Any], exc: BaseException) -> None:
    logger.error(
        "notification of %s #%s failed; retried on its own",
        item["topic"],
        item["event_id"],
        exc_info=exc,
    )
    if item not in failed:
        failed.append(item)


def _build_all(
    topic: str, registration: _Registration, group: list[dict[str, Any]]
) -> list[Notification | Iterable[Notification] | Exception | None]:
    """What the registration builds for each item of ``group`` (an exception for an item whose
    build failed): with ``build_many`` in one call, falling back to one call per item."""
    payloads = [dict(item["payload"]) for item in group]
    if registration.build_many is not None:
        try:
            return list(registration.build_many(topic, payloads))
        except Exception:
            logger.exception("build_many of %s failed; building one by one", topic)
    out: list[Notification | Iterable[Notification] | Exception | None] = []
    for payload in payloads:
        try:
            out.append(registration.builder(topic, payload))
        except Exception as exc:
            out.append(exc)
    return out


def _claim_status(notification: Notification) -> str:
    """A claim sends, or records a skip when the customer has no e-mail address."""
    return NotificationStatus.SENDING if notification.recipient else NotificationStatus.SKIPPED


def _claim_many(wanted: list[tuple[str, int, Notification]]) -> list[NotificationLog | None]:
    """``_claim`` for many e-mails: on PostgreSQL one ``INSERT ... ON CONFLICT DO NOTHING``, then
    a retake for those already claimed (rare: a redelivery); elsewhere one claim at a time."""
    if connection.vendor != "postgresql" or not wanted:
        return [
            _claim(
                topic=topic,
                event_id=event_id,
                notification=n,
                status=_claim_status(n),
            )
            for topic, event_id, n in wanted
        ]
    now = timezone.now()
    rows: dict[tuple[str, int, str], NotificationLog] = {}
    for topic, event_id, n in wanted:
        key = (topic, event_id, n.recipient)
        if key not in rows:  # the same e-mail twice in one batch: claimed once
            rows[key] = _claim_row(
                topic=topic, event_id=event_id, notification=n, status=_claim_status(n), now=now
            )
    sql, params = insert_sql(
        NotificationLog,
        list(rows.values()),
        returning=("id", "topic", "event_id", "recipient"),
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {(topic, event_id, recipient): pk for pk, topic, event_id, recipient in cursor.fetchall()}
    out: list[NotificationLog | None] = []
    handed: set[tuple[str, int, str]] = set()
    for topic, event_id, n in wanted:
        key = (topic, event_id, n.recipient)
        row = rows[key]
        if key in handed:
            out.append(None)
            continue
        handed.add(key)
        if key in inserted:
            row.pk = inserted[key]
            mark_saved([row])
            out.append(row)
        elif row.status == NotificationStatus.SENDING:
            out.append(_retake(_key(*key), now))
        else:
            out.append(None)
    return out


def _mark_sent_many(sent: list[tuple[NotificationLog, list[Model]]]) -> None:
    """``_mark_sent`` for many logs: on PostgreSQL one statement (one ``UPDATE`` of every log from
    arrays, a data-modifying CTE before each model's ``INSERT``); elsewhere one log at a time."""
    if not sent:
        return
    if connection.vendor != "postgresql":
        for log, rows in sent:
            _mark_sent(log, rows)
        return
    quote = connection.ops.quote_name
    meta = NotificationLog._meta
    written = ("id", "status", "subject", "sent_at", "error")
    column = {f.name: quote(f.column) for f in meta.concrete_fields if f.name in written}
    update = (
        f"UPDATE {quote(meta.db_table)} AS t SET {column['status']} = %s, {column['subject']} = v.subject, "  # noqa: S608 - the model's names
        f"{column['sent_at']} = v.sent_at, {column['error']} = %s "
        "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS v(id, subject, sent_at) "
        f"WHERE t.{column['id']} = v.id",
        (
            NotificationStatus.SENT,
            "",
            [log.pk for log, _ in sent],
            [log.subject for log, _ in sent],
            [log.sent_at for log, _ in sent],
        ),
    )
    by_model: dict[type[Model], list[Model]] = defaultdict(list)
    for _, rows in sent:
        for obj in rows:
            by_model[type(obj)].append(obj)
    *writes, last = [update, *(insert_sql(model, objs) for model, objs in by_model.items())]
    with connection.cursor() as cursor:
        cursor.execute(*with_writes(writes, last))
    mark_saved([obj for objs in by_model.values() for obj in objs])


def notification_send(*, topic: str, event_id: int, payload: dict[str, Any]) -> list[NotificationLog]:
    """Build and send every notification registered for ``topic`` for one event, each at most
    once; answer the logs written by this call (sent or skipped)."""
    logs: list[NotificationLog] = []
    for registration in list(_registry.get(topic, [])):
        for notification in _as_list(registration.builder(topic, dict(payload))):
            log = _send_one(
                topic=topic, event_id=event_id, notification=notification, on_sent=registration.on_sent
            )
            if log is not None:
                logs.append(log)
    return logs
