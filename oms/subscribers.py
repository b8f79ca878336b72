"""The kernel's after-commit subscribers: every event fans out to the webhook endpoints that want
it and to the customer notifications registered for its topic. They only enqueue tasks (no query
for notifications; at most one cached query for webhooks), so they stay cheap on hot paths; e-mails
are enqueued in batches where dispatched events are marked in batches (``events.defer_to_mark``)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from . import events, notifications, webhooks
from .tasks import notification_send, notification_send_many, webhook_deliver

logger = logging.getLogger(__name__)


def _webhooks(topic: str, payload: dict[str, Any]) -> None:
    endpoint_ids = webhooks.webhook_endpoints_for_topic(topic)
    if not endpoint_ids:
        return
    event = events.current_event()
    if event is None:  # called outside a dispatch: nothing to key the delivery on
        logger.warning("webhook fan-out of %s outside an outbox dispatch ignored", topic)
        return
    for endpoint_id in endpoint_ids:
        webhook_deliver.delay(
            endpoint_id=endpoint_id,
            delivery_id=str(uuid.uuid4()),
            event_id=event.id,
            topic=topic,
            created_at=event.created_at.isoformat(),
            data=payload,
        )


def _notifications_send(items: list[dict[str, Any]]) -> None:
    """Enqueue the e-mails of ``items``: one task for one event, one task for many."""
    if len(items) == 1:
        notification_send.delay(**items[0])
    else:
        notification_send_many.delay(events=items)


def _notifications(topic: str, payload: dict[str, Any]) -> None:
    if not notifications.has_notifications(topic):
        return
    event = events.current_event()
    if event is None:
        logger.warning("notification of %s outside an outbox dispatch ignored", topic)
        return
    # E-mails may wait for the process's next marking round (at most OMS_OUTBOX_MARK_DELAY_SECONDS),
    # which enqueues every e-mail waiting with one message: a worker then pays Celery's cost per
    # message once for all of them. Sent at once when nothing waits (tests, the demo, the relay).
    events.defer_to_mark(_notifications_send, {"topic": topic, "event_id": event.id, "payload": payload})


def connect() -> None:
    events.subscribe("*", _webhooks)
    events.subscribe("*", _notifications)
