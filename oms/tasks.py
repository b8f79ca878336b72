"""Thin Celery tasks of the kernel: the outbox relay (celery queue, beat every 30 s), webhook
deliveries (``webhooks`` queue) and customer e-mails (``notifications`` queue). Each loads what it
needs and calls one service; each is idempotent, so a redelivered task does no harm."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import notifications, outbox, webhooks
from .loyalty import services as loyalty_services


@shared_task(name="oms.tasks.outbox_relay", acks_late=True)
def outbox_relay() -> dict:
    """Beat: dispatch again the events a dead process or a lost broker left undispatched."""
    return outbox.outbox_relay().as_dict()


@shared_task(bind=True, name="oms.tasks.webhook_deliver", acks_late=True, max_retries=None)
def webhook_deliver(
    self,
    *,
    endpoint_id: int,
    delivery_id: str,
    event_id: int,
    topic: str,
    created_at: str,
    data: dict,
) -> dict:
    """One attempt to deliver an event to an endpoint; a failure is retried after 2**attempt
    seconds, at most OMS_WEBHOOK_MAX_RETRIES times (read at run time)."""
    max_retries = settings.OMS_WEBHOOK_MAX_RETRIES
    outcome = webhooks.webhook_deliver(
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        event_id=event_id,
        topic=topic,
        created_at=created_at,
        data=data,
        attempt=self.request.retries + 1,
        retries_left=self.request.retries < max_retries,
    )
    if outcome.retry_in is not None:
        if self.request.is_eager:
            # Eager mode (tests, the demo) has no broker to hold a countdown: the next attempt
            # runs at once, as Celery's own eager retries do.
            return self.apply(kwargs=self.request.kwargs, retries=self.request.retries + 1).get()
        raise self.retry(countdown=outcome.retry_in, max_retries=max_retries)
    return outcome.as_dict()


@shared_task(
    name="oms.tasks.notification_send",
    acks_late=True,
    autoretry_for=(OperationalError, OSError, smtplib.SMTPException),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def notification_send(*, topic: str, event_id: int, payload: dict) -> list[int]:
    """Send the customer e-mails of one event (each at most once)."""
    logs = notifications.notification_send(topic=topic, event_id=event_id, payload=payload)
    return [log.pk for log in logs]


@shared_task(
    name="oms.tasks.notification_send_many",
    acks_late=True,
    autoretry_for=(OperationalError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def notification_send_many(*, events: list[dict]) -> list[int]:
    """Send the customer e-mails of several events (``{"topic", "event_id", "payload"}``): one
    message for the events a process dispatched within a marking round. An event that fails is
    handed to its own ``notification_send`` (with that task's retries); a redelivered batch sends
    nothing twice (each e-mail is claimed)."""
    logs, failed = notifications.notification_send_many(events)
    for item in failed:
        notification_send.delay(topic=item["topic"], event_id=item["event_id"], payload=item["payload"])
    return [log.pk for log in logs]


@shared_task(name="oms.tasks.loyalty_expire", acks_late=True)
def loyalty_expire() -> int:
    """Beat: expire the loyalty points past their expiry (first in, first out)."""
    return loyalty_services.loyalty_expire()


@shared_task(name="oms.tasks.loyalty_accounts_repair", acks_late=True)
def loyalty_accounts_repair() -> int:
    """Beat: bring any account's balance and debt back to its ledger's sums."""
    return loyalty_services.loyalty_accounts_repair()
