"""kombu's Redis channel hands out one shared redis client (``config.celery_app``) instead of a new
one per publish and per task's bookkeeping; a replaced pool (a lost connection) gets a new one."""

from __future__ import annotations

import threading

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis

from tests.worker import redis_url


def test_the_patch_is_installed():
    import config.celery_app  # noqa: F401 - installs it

    assert getattr(kombu_redis.Channel.conn_or_acquire, "oms_shared", False)


@pytest.mark.celery_worker
def test_a_channel_shares_its_client_across_calls_and_threads_and_renews_it_with_its_pool():
    import config.celery_app  # noqa: F401

    with Connection(redis_url()) as conn:
        try:
            conn.ensure_connection(max_retries=1)
        except Exception:  # no Redis here
            pytest.skip("needs Redis")
        channel = conn.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        seen = []

        def grab() -> None:
            with channel.conn_or_acquire() as client:
                seen.append((client, client.ping()))

        threads = [threading.Thread(target=grab) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 4
        assert all(client is first and pong for client, pong in seen)
        given = object()
        with channel.conn_or_acquire(given) as client:  # a caller's own client is used as is
            assert client is given
        channel._pool = None  # what kombu does when it drops a broken pool
        with channel.conn_or_acquire() as renewed:
            assert renewed is not first
            assert renewed.connection_pool is channel.pool
            assert renewed.ping()
        # messages still go through it: a publish and a get on a scratch queue
        queue = conn.SimpleQueue("oms-test-shared-client")
        try:
            queue.put({"n": 1})
            assert queue.get(timeout=5).payload == {"n": 1}
        finally:
            queue.queue.delete()
            queue.close()
