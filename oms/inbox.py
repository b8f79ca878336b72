"""Coalesced work: ids wait in a Redis list (on the broker) and a few tasks drain them in batches,
instead of one task message per id.

A Celery message costs its worker more than a small task does: the BRPOP that fetches it, the
unacked bookkeeping before the task and the ack after it (two Redis transactions), the request and
the trace around the call: ~45 % of the routing worker's CPU per order under py-spy
(docs/performance.md). An inbox pays that once per drain, and lets the drain do the work of many
ids at once (routing: one transaction and the statements of one order for the whole batch).
``add`` pushes ids and schedules a drain only when none runs (or the running ones are behind); a
drain takes the waiting ids in batches until none wait. Idle, an id is taken at once (nothing is
added to its latency); busy, the batches grow with the load, so the cost per id falls when the
machine has the least of it to spare.

Both sides are Lua scripts, atomic in Redis: ``add`` pushes and counts the running drains in one
step; ``take`` pops a batch or, the list being empty, gives its drain's slot back in the same step.
So an id pushed at any moment is either taken by a running drain or schedules a new one. The count
of drains expires (``ttl``) unless a drain keeps taking: a drain that died, or a drain message that
was lost, frees its slot within ``ttl``. What Redis itself loses (a restart) is gone from the list:
an inbox speeds work up, it does not own it. Its users keep the truth in the database and a sweeper
that re-enqueues what waited too long (routing: ``fulfillment.tasks.sweep``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

# KEYS: list, drains. ARGV: max drains, ids per running drain before another starts, ttl ms, ids...
_ADD = """
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
local active = tonumber(redis.call('GET', KEYS[2]) or '0')
if active < tonumber(ARGV[1]) and (active == 0 or n > active * tonumber(ARGV[2])) then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
"""

# KEYS: list, drains. ARGV: batch size, ttl ms. The ids, or false (and the slot given back).
_TAKE = """
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if ids then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return ids
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 1 then
  redis.call('DECR', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
return false
"""

# KEYS: drains. A drain's slot given back while ids may still wait.
_RELEASE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 1 then
  return redis.call('DECR', KEYS[1])
end
redis.call('DEL', KEYS[1])
return 0
"""

_clients: dict[str, redis.Redis] = {}
_scripts: dict[tuple[str, str], Any] = {}  # (url, source) -> registered script (its sha cached)
_clients_lock = threading.Lock()


def client_for(url: str) -> redis.Redis:
    """One client per URL and process. redis-py clients are thread-safe (each command takes a
    connection from the client's pool) and fork-aware (a forked child's pool starts empty)."""
    found = _clients.get(url)
    if found is None:
        with _clients_lock:
            found = _clients.get(url)
            if found is None:
                found = _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    return found


class Inbox:
    """Ids waiting for one kind of work. ``schedule`` sends one drain task, which must iterate
    ``drain()``. ``drains``: how many may run at once; ``batch``: how many ids a drain takes at a
    time, and how many may wait per running drain before another is scheduled. Settings are read
    at each call (tests and deployments change them)."""

    def __init__(
        self,
        name: str,
        *,
        url: Callable[[], str],
        schedule: Callable[[], Any],
        drains: Callable[[], int],
        batch: Callable[[], int],
        ttl_seconds: float = 30.0,
    ):
        self.name = name
        self.list_key = f"oms:inbox:{name}"
        self.drains_key = f"oms:inbox:{name}:drains"
        self._url = url
        self._schedule = schedule
        self._drains = drains
        self._batch = batch
        self.ttl_ms = int(ttl_seconds * 1000)

    def _run(self, source: str, keys: list[str], args: list[Any]) -> Any:
        url = self._url()
        script = _scripts.get((url, source))
        if script is None:
            script = _scripts[(url, source)] = client_for(url).register_script(source)
        return script(keys=keys, args=args)

    def add(self, ids: list[int]) -> bool:
        """Push ``ids``; schedule a drain if none runs or the running ones are behind. Returns
        whether one was scheduled. Raises what Redis or the broker raise: the caller (an event's
        subscriber) then fails, and its event stays undispatched for the outbox relay."""
        if not ids:
            return False
        scheduled = self._run(
            _ADD, [self.list_key, self.drains_key], [self._drains(), self._batch(), self.ttl_ms, *ids]
        )
        if scheduled:
            self._hand_over()
        return bool(scheduled)

    def _hand_over(self) -> None:
        """Send a drain task for a slot already counted; if it cannot be sent, give the slot back
        (the next ``add`` schedules one) and raise."""
        try:
            self._schedule()
        except Exception:
            self.release()
            raise

    def take(self) -> list[int]:
        """Up to ``batch`` waiting ids, oldest first. [] when none wait, which also ends the
        calling drain: its slot is given back in the same step."""
        taken = self._run(_TAKE, [self.list_key, self.drains_key], [self._batch(), self.ttl_ms])
        return [int(i) for i in taken or ()]

    def release(self) -> None:
        """Give a drain's slot back without emptying the list."""
        self._run(_RELEASE, [self.drains_key], [])

    def drain(self, *, max_seconds: float) -> Iterator[list[int]]:
        """The batches of one drain, until none wait. A drain still busy after ``max_seconds``
        hands its slot to a new drain task and stops, so a worker's warm shutdown is never held up
        by a drain that a steady stream of ids would keep alive."""
        deadline = time.monotonic() + max_seconds
        ended = False  # the slot was given back (list empty) or handed over
        try:
            while True:
                ids = self.take()
                if not ids:
                    ended = True
                    return
                yield ids
                if time.monotonic() >= deadline:
                    ended = True
                    self._hand_over()
                    return
        finally:
            if not ended:  # the caller stopped early or Redis failed: free the slot now, not at ttl
                with contextlib.suppress(redis.RedisError):
                    self.release()

    def waiting(self) -> int:
        return int(client_for(self._url()).llen(self.list_key))

    def running(self) -> int:
        return int(client_for(self._url()).get(self.drains_key) or 0)
