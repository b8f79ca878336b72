"""What every benchmark shares: Django on a scratch PostgreSQL database, timing statistics, a load
generator, and the server processes (gunicorn, a Celery worker) started against that database.

The scratch database (``oms_bench`` unless told otherwise) is made with Django's test-database
machinery (tables from the models, no migrations) and dropped at the end; Redis database 14 is the
bench's broker and result backend (flushed before and after, no other database is touched)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
BENCH_DB = os.environ.get("OMS_BENCH_DB", "oms_bench")
REDIS_DB = int(os.environ.get("OMS_BENCH_REDIS_DB", "14"))
QUEUES = "celery,routing,notifications,webhooks,sync"


def redis_url() -> str:
    return f"redis://127.0.0.1:6379/{REDIS_DB}"


# --- Django on a scratch database ---------------------------------------------------------------


def setup_django() -> None:
    """Django in this process: PostgreSQL from DATABASE_URL (default: the local server), Celery not
    eager, tasks sent to the bench's Redis database (no worker listens until the routing row)."""
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms")
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        sys.exit("the benchmarks need PostgreSQL: set DATABASE_URL=postgres://user@host:port/db")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    # as in production: dispatched outbox rows are marked in batches by a background thread
    os.environ.setdefault("OMS_OUTBOX_MARK_DELAY_SECONDS", "1.0")
    os.environ["CELERY_BROKER_URL"] = redis_url()
    os.environ["CELERY_RESULT_BACKEND"] = redis_url()
    import django

    django.setup()


@contextlib.contextmanager
def scratch_database(name: str = BENCH_DB, *, keep: bool = False) -> Iterator[str]:
    """Create (or re-create) database ``name`` with the project's tables; yield its URL; drop it."""
    from django.db import connection

    connection.settings_dict["TEST"].update({"NAME": name, "MIGRATE": False})
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield database_url()
    finally:
        from oms.events import outbox_marks_flush

        outbox_marks_flush()  # the marks of what ran in process, before their database goes
        if keep:
            print(f"kept database {name}")
        else:
            connection.creation.destroy_test_db(original, verbosity=0)


def database_url() -> str:
    """The URL of the database this process is connected to (the scratch one once created)."""
    from django.db import connection

    s = connection.settings_dict
    user = quote(s.get("USER") or "postgres")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def psycopg_connect(url: str):  # type: ignore[no-untyped-def]
    """A plain psycopg connection (autocommit off), for the raw-SQL references."""
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://", 1))


def redis_flush() -> None:
    """Empty the bench's own Redis database (never another one)."""
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def wait_queues_empty(*, timeout: float = 120.0, settle: float = 1.0) -> bool:
    """Wait until every Celery queue in the bench's Redis database is empty (then ``settle`` more
    seconds for the tasks being run); False on timeout."""
    import redis

    client = redis.Redis.from_url(redis_url())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(client.llen(queue) for queue in QUEUES.split(",")):
            time.sleep(settle)
            return True
        time.sleep(0.1)
    return False


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- Who used the CPU (the machine may be shared) ----------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, CPU ticks used so far, command name), from /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return out


def cpu_split(before: dict[int, tuple[int, int, str]], after: dict[int, tuple[int, int, str]]) -> dict:
    """CPU seconds used between two snapshots by this bench (this process and its descendants),
    by PostgreSQL (every backend: other users' too), by Redis and by everything else (neighbours)."""
    return {k: round(v, 1) for k, v in cpu_by_tree(before, after, {}).items()}


def cpu_by_tree(
    before: dict[int, tuple[int, int, str]],
    after: dict[int, tuple[int, int, str]],
    roots: dict[str, int],
) -> dict[str, float]:
    """CPU seconds used between two snapshots by each named process tree (``roots``: name -> pid of
    the tree's root, e.g. gunicorn's arbiter or a Celery worker's main process; its children
    count with it), by the rest of this bench, by PostgreSQL, by Redis and by everything else.
    Take both snapshots while the trees' processes live: an exited process's CPU is not seen."""
    me = os.getpid()
    names = {pid: name for name, pid in roots.items()}

    def owner(pid: int) -> str | None:
        seen = 0
        while pid and seen < 64:
            if pid in names:
                return names[pid]
            if pid == me:
                return "bench"
            pid = after.get(pid, before.get(pid, (0, 0, "")))[0]
            seen += 1
        return None

    split = dict.fromkeys([*roots, "bench", "postgres", "redis", "other"], 0.0)
    for pid, (_, ticks, comm) in after.items():
        used = (ticks - before.get(pid, (0, 0, ""))[1]) / _TICKS
        if used <= 0:
            continue
        name = owner(pid)
        if name is None:
            name = next((n for n in ("postgres", "redis") if comm.startswith(n)), "other")
        split[name] += used
    return {k: round(v, 2) for k, v in split.items()}


# --- Statistics ---------------------------------------------------------------------------------


def _statement_kind(sql: str) -> str:
    head = sql.lstrip().split(None, 1)[0].upper()
    if head in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return "savepoint"
    return head.lower()


def count_statements(captured: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``CaptureQueriesContext`` saw, counted without BEGIN/COMMIT (transaction control);
    savepoints count (each is a round trip), as do after-commit statements."""
    kinds = Counter(_statement_kind(q["sql"]) for q in captured)
    return {
        "total": sum(n for kind, n in kinds.items() if kind not in ("begin", "commit")),
        "with_begin_commit": len(captured),
        "by_kind": dict(kinds),
        "sql": [q["sql"][:200] for q in captured],
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else 0.0,
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else 0.0,
    }


def timed(fn: Callable[[], Any], *, repeat: int, warmup: int = 5) -> list[float]:
    """Call ``fn`` ``warmup + repeat`` times in this thread; the last ``repeat`` durations."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


# --- Load generation ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What a closed-loop run measured inside its window (after warm-up)."""

    workers: int
    window_s: float
    latencies: list[float] = field(default_factory=list)  # of the operations that succeeded
    outcomes: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return self.outcomes["ok"]

    @property
    def throughput(self) -> float:
        return self.ok / self.window_s if self.window_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "window_s": round(self.window_s, 2),
            "throughput_per_s": round(self.throughput, 1),
            "outcomes": dict(self.outcomes),
            **summary_ms(self.latencies),
        }


def merged(results: list[LoadResult]) -> LoadResult:
    """Several runs of the same load as one: their windows, operations and latencies added."""
    out = LoadResult(workers=results[0].workers, window_s=0.0)
    for result in results:
        out.window_s += result.window_s
        out.latencies += result.latencies
        out.outcomes.update(result.outcomes)
    return out


Operation = Callable[[Any, random.Random], str]  # (per-thread state, rng) -> "ok" or an error label


def closed_loop(
    *,
    operation: Operation,
    make_state: Callable[[int], Any],
    close_state: Callable[[Any], None] = lambda state: None,
    workers: int,
    duration: float,
    warmup: float,
    seed: int = 1,
) -> LoadResult:
    """``workers`` threads each run ``operation`` back to back for ``warmup + duration`` seconds;
    operations that finish inside the last ``duration`` seconds are counted."""
    result = LoadResult(workers=workers, window_s=duration)
    lock = threading.Lock()
    ready = threading.Barrier(workers + 1)
    window: dict[str, float] = {}
    failures: list[BaseException] = []

    def run(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        state = make_state(index)
        latencies: list[float] = []
        outcomes: Counter = Counter()
        try:
            ready.wait()
            start, end = window["start"], window["end"]
            while True:
                began = time.perf_counter()
                if began >= end:
                    break
                outcome = operation(state, rng)
                finished = time.perf_counter()
                if start <= finished <= end:
                    outcomes[outcome] += 1
                    if outcome == "ok":
                        latencies.append(finished - began)
        except BaseException as exc:
            failures.append(exc)
        finally:
            close_state(state)
            with lock:
                result.latencies.extend(latencies)
                result.outcomes.update(outcomes)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window["start"] = now + warmup
    window["end"] = now + warmup + duration
    ready.wait()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return result


# --- HTTP -----------------------------------------------------------------------------------------


class HttpClient:
    """One keep-alive-capable connection per thread (gunicorn's sync workers close it after each
    response; http.client then reconnects by itself)."""

    def __init__(self, port: int, key: str):
        self.port = port
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, payload, {**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()  # a closed keep-alive socket: retry once on a fresh connection
            self.conn.request(method, path, payload, {**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data[:200]

    def close(self) -> None:
        self.conn.close()


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-shaped process (gunicorn, worker) on the bench database."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on the loopback
            "DJANGO_DEBUG": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            # no line per task either (production's default logs one at INFO): a log line per
            # order is the access log's cost, which the bench leaves out of the web tier too
            "CELERY_TRACE_LOG_LEVEL": "WARNING",
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": redis_url(),
            "CELERY_RESULT_BACKEND": redis_url(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "OMS_API_THROTTLE_RATE": "1000000/second",  # the load test is not the abuse it guards against
            # Notification e-mails are rendered as in production but not sent (no SMTP server here,
            # and the console backend would write every HTML e-mail to the log).
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


# The kernel's CFS weight of each nice value, -20 .. 19 (kernel/sched/core.c, sched_prio_to_weight);
# nice 0 is 1024, as is a container's default ``cpu_shares``.
CFS_WEIGHTS = (
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
    9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
    1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
    110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
)  # fmt: skip


def nice_for_cpu_shares(shares: int) -> int:
    """The nice value whose CFS weight is nearest to a container's ``cpu_shares``."""
    return min(range(-20, 20), key=lambda nice: abs(CFS_WEIGHTS[nice + 20] - shares))


class Process:
    """A child in its own process group and session: ``stop()`` ends the group (pool children
    included). ``nice`` lowers its CPU weight as a container's ``cpu_shares`` would: the kernel
    schedules each session as one group (autogroups) when no cgroup does, so the session's group
    gets the nice value too, and every process and thread of it inherits it (``nice -n``)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], *, nice: int = 0):
        self.name = name
        self.argv = argv
        self.env = env
        self.nice = nice
        self.proc: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / f"bench-{name}.log"

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        argv = ["nice", "-n", str(self.nice), *self.argv] if self.nice else self.argv
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.nice:
            # absent without autogroups (a cgroup per service then, as with containers)
            with contextlib.suppress(OSError):
                Path(f"/proc/{self.proc.pid}/autogroup").write_text(str(self.nice))

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{self.name} exited; log {self.log_path}:\n{tail}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the group
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


class Gunicorn(Process):
    """``gunicorn config.wsgi:application`` with N sync workers (as docker-compose runs it, minus
    the access log) on a free loopback port."""

    def __init__(self, db_url: str, *, workers: int = 4):
        self.port = free_port()
        self.workers = workers
        super().__init__(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--timeout",
                "120",
            ],
            server_env(db_url),
        )

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/bench-ready")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.2)
                continue
            if status in (401, 404):
                return
            raise RuntimeError(f"gunicorn answered {status} to a readiness probe; see {self.log_path}")
        raise RuntimeError(f"gunicorn not ready after {timeout}s; see {self.log_path}")


class CeleryWorker(Process):
    """A real ``celery -A config worker`` on the bench database and Redis database, with the
    bench's no-op task imported (``-I bench.tasks``); nothing of it is in production code."""

    def __init__(self, db_url: str, *, concurrency: int = 2):
        self.node = f"bench-{os.getpid()}"
        super().__init__(
            "celery",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-I",
                "bench.tasks",
                "-Q",
                QUEUES,
                "-n",
                f"{self.node}@%h",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                os.environ.get("OMS_BENCH_WORKER_LOGLEVEL", "WARNING"),
                "--without-gossip",
                "--without-mingle",
            ],
            server_env(db_url),
        )

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        from config.celery_app import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with app.connection_for_write(redis_url()) as conn:
                replies = app.control.ping(timeout=0.5, connection=conn) or []
            if any(f"{self.node}@" in next(iter(r)) for r in replies):
                return
        raise RuntimeError(f"celery worker not ready after {timeout}s; see {self.log_path}")
