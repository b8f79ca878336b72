"""``oms.inbox``: ids wait in Redis, drains are scheduled only when none runs (or the running ones
are behind), a drain takes batches until none wait and then gives its slot back in the same step,
and a lost drain's slot expires. Against the test Redis (no Celery: ``schedule`` is recorded)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from oms.inbox import Inbox, client_for
from tests.worker import redis_url

pytestmark = pytest.mark.celery_worker  # needs Redis


class Drains:
    def __init__(self) -> None:
        self.scheduled = 0
        self.fail = False

    def __call__(self) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.scheduled += 1


@pytest.fixture
def inbox():
    try:
        client_for(redis_url()).ping()
    except redis.RedisError:
        pytest.skip("needs Redis")
    drains = Drains()
    settings = {"drains": 2, "batch": 3}
    box = Inbox(
        f"test-{uuid.uuid4().hex[:8]}",
        url=redis_url,
        schedule=drains,
        drains=lambda: settings["drains"],
        batch=lambda: settings["batch"],
        ttl_seconds=5.0,
    )
    box.drains_scheduled = drains  # type: ignore[attr-defined]
    box.settings = settings  # type: ignore[attr-defined]
    yield box
    client_for(redis_url()).delete(box.list_key, box.drains_key)


def test_a_drain_takes_batches_oldest_first_then_gives_its_slot_back(inbox):
    assert inbox.add([1, 2]) is True
    assert inbox.add([3]) is False  # joins the drain to come
    assert inbox.running() == 1
    taken = []
    for batch in inbox.drain(max_seconds=60):
        taken.append(batch)
        if batch == [1, 2, 3]:
            assert inbox.add([4]) is False  # joins the running drain
    assert taken == [[1, 2, 3], [4]]
    assert inbox.running() == 0
    assert inbox.waiting() == 0
    assert inbox.add([5]) is True  # nothing runs: a new drain
    assert inbox.drains_scheduled.scheduled == 2


def test_the_first_id_schedules_a_drain_and_a_backlog_more_up_to_the_limit(inbox):
    assert inbox.add([1]) is True
    assert inbox.add([2, 3]) is False  # 3 waiting, one drain: not behind
    assert inbox.add([4]) is True  # 4 > 1 x 3
    assert inbox.add(list(range(5, 20))) is False  # at the limit of 2
    assert inbox.running() == 2
    assert inbox.drains_scheduled.scheduled == 2


def test_an_id_added_while_a_drain_finishes_is_never_stranded(inbox):
    inbox.add([1])
    (batch,) = list(inbox.drain(max_seconds=60))
    assert batch == [1]
    inbox.add([2])  # after the drain gave its slot back: a new one
    assert inbox.running() == 1
    assert inbox.drains_scheduled.scheduled == 2


def test_a_drain_past_its_time_hands_over_to_a_new_one(inbox):
    inbox.add([1, 2, 3, 4, 5])
    assert list(inbox.drain(max_seconds=0)) == [[1, 2, 3]]
    assert inbox.drains_scheduled.scheduled == 2  # the next drain has the slot
    assert inbox.running() == 1
    assert inbox.waiting() == 2
    assert list(inbox.drain(max_seconds=60)) == [[4, 5]]
    assert inbox.running() == 0


def test_a_drain_stopped_early_gives_its_slot_back(inbox):
    inbox.add([1, 2, 3, 4])
    batches = inbox.drain(max_seconds=60)
    assert next(batches) == [1, 2, 3]
    batches.close()  # the task stopped (an exception in its loop)
    assert inbox.running() == 0
    assert inbox.waiting() == 1
    assert inbox.add([5]) is True


def test_a_drain_that_cannot_be_sent_gives_its_slot_back(inbox):
    inbox.drains_scheduled.fail = True
    with pytest.raises(ConnectionError):
        inbox.add([1])
    assert inbox.running() == 0
    assert inbox.waiting() == 1
    inbox.drains_scheduled.fail = False
    assert inbox.add([2]) is True
    assert list(inbox.drain(max_seconds=60)) == [[1, 2]]


def test_a_lost_drain_s_slot_expires(inbox):
    short = Inbox(
        inbox.name,
        url=redis_url,
        schedule=inbox.drains_scheduled,
        drains=lambda: 1,
        batch=lambda: 3,
        ttl_seconds=0.2,
    )
    assert short.add([1]) is True  # and its drain never runs
    assert short.add([2]) is False
    time.sleep(0.4)
    assert short.running() == 0
    assert short.add([3]) is True
    assert list(short.drain(max_seconds=60)) == [[1, 2, 3]]
