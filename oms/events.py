"""Domain events: how a lower app tells higher ones (and the outside world) that something happened.

``publish`` is called inside the transaction that made the change; subscribers run only after it
commits (``transaction.on_commit``), so a rolled-back change announces nothing. Higher apps
subscribe in their ``AppConfig.ready`` (e.g. fulfillment subscribes to ``order.created`` to route),
which keeps imports one way: returns -> fulfillment -> orders -> inventory -> oms.

Topics use the webhook names of design.md: ``order.created``, ``order.allocated``,
``order.cancelled``, ``fulfillment.shipped``, ``fulfillment.ready_for_pickup``, ``return.received``,
``refund.created``, ``stock.changed`` ...; payloads are JSON-serialisable dicts holding ids.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_in_transaction: dict[str, list[Handler]] = defaultdict(list)


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
    return [*_subscribers.get(topic, []), *_subscribers.get("*", [])]


def _dispatch(topic: str, payload: dict[str, Any]) -> None:
    for handler in subscribers(topic):
        try:
            handler(topic, payload)
        except Exception:  # one failing subscriber must not stop the others; sweepers repair
            logger.exception("event subscriber %r failed for %s", handler, topic)


def publish(*, topic: str, payload: dict[str, Any]) -> None:
    """Run the in-transaction handlers of ``topic`` now, and announce it to the others once the
    current transaction commits (at once outside a transaction)."""
    for handler in _in_transaction.get(topic, []):
        handler(topic, dict(payload))
    transaction.on_commit(partial(_dispatch, topic, dict(payload)))
