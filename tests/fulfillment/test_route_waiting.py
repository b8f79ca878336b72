"""The routing tasks around the inbox: ``route_soon`` picks the inbox only where a worker drains a
Redis broker, and a drain whose batch fails hands each order to its own ``route_order`` task."""

from __future__ import annotations

import pytest

from fulfillment import services, tasks
from oms.inbox import client_for


class Sent:
    def __init__(self) -> None:
        self.ids: list[int] = []

    def delay(self, order_id: int) -> None:
        self.ids.append(order_id)


def test_with_eager_tasks_each_order_is_its_own_task(monkeypatch, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    sent = Sent()
    monkeypatch.setattr(tasks, "route_order", sent)
    pushed: list[list[int]] = []
    monkeypatch.setattr(tasks.ROUTING_INBOX, "add", pushed.append)
    tasks.route_soon([3, 4])
    assert sent.ids == [3, 4]
    assert pushed == []


@pytest.mark.celery_worker
def test_with_a_redis_broker_orders_go_through_the_inbox(celery_broker, monkeypatch, settings):
    sent = Sent()
    monkeypatch.setattr(tasks, "route_order", sent)
    pushed: list[list[int]] = []
    monkeypatch.setattr(tasks.ROUTING_INBOX, "add", pushed.append)
    tasks.route_soon([5])
    assert pushed == [[5]]
    settings.OMS_ROUTING_INBOX = False  # switched off: one task per order again
    tasks.route_soon([6])
    assert pushed == [[5]]
    assert sent.ids == [6]


@pytest.mark.celery_worker
def test_a_failing_batch_hands_each_order_to_its_own_task(celery_broker, monkeypatch, settings):
    sent = Sent()
    monkeypatch.setattr(tasks, "route_order", sent)
    routed: list[list[int]] = []

    def route_orders(*, order_ids):
        if 2 in order_ids:
            raise RuntimeError("a bug in one batch")
        routed.append(list(order_ids))
        return []

    monkeypatch.setattr(services, "route_orders", route_orders)
    inbox = tasks.ROUTING_INBOX
    inbox_client = client_for(celery_broker.conf.broker_url)
    inbox_client.delete(inbox.list_key, inbox.drains_key)
    monkeypatch.setattr(tasks.route_waiting, "delay", lambda: None)  # the drain runs here, below
    settings.OMS_ROUTING_BATCH = 2
    try:
        inbox.add([1, 2, 3])  # one drain, batches of 2
        assert tasks.route_waiting() == 3
        assert sent.ids == [1, 2]  # the failed batch, one task each
        assert routed == [[3]]  # and the drain went on
        assert inbox.waiting() == 0
        assert inbox.running() == 0
    finally:
        inbox_client.delete(inbox.list_key, inbox.drains_key)
