"""Start real Celery worker processes for tests: against Redis and the pytest-django PostgreSQL
test database (tests using them must be ``django_db(transaction=True)`` so the worker sees commits).

Each test session uses its own Redis database number (``OMS_TEST_REDIS_DB``, default 9) so that
parallel runs and a developer's own worker do not steal each other's tasks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
QUEUES = "celery,routing,notifications,webhooks,sync"


def redis_url() -> str:
    db = os.environ.get("OMS_TEST_REDIS_DB", "9")
    return os.environ.get("OMS_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{db}")


def test_database_url() -> str:
    """The URL of the database this test process uses (the test_ database pytest-django made)."""
    s = connection.settings_dict
    user = quote(s.get("USER") or "postgres")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


class WorkerProcess:
    """One ``celery -A config worker`` subprocess; ``kill()`` is a SIGKILL, as a crash would be."""

    def __init__(
        self,
        *,
        name: str,
        concurrency: int = 1,
        extra_env: dict[str, str] | None = None,
        pool: str = "threads",
    ):
        self.name = name
        self.concurrency = concurrency
        self.pool = pool  # as docker-compose.yml runs the workers
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / "artifacts" / f"celery-{name}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
                "DATABASE_URL": test_database_url(),
                "CELERY_BROKER_URL": redis_url(),
                "CELERY_RESULT_BACKEND": redis_url(),
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, *, timeout: float = 30.0) -> WorkerProcess:
        self.log_path.parent.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                QUEUES,
                "-n",
                f"{self.name}@%h",
                "--pool",
                self.pool,
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.kill()  # never leave a half-started worker behind to steal a later run's tasks
            raise
        return self

    def wait_ready(self, *, timeout: float) -> None:
        from config.celery_app import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited; see {self.log_path}")
            with app.connection_for_write(redis_url()) as conn:
                replies = app.control.ping(timeout=0.5, connection=conn) or []
            if any(f"{self.name}@" in next(iter(r)) for r in replies):
                return
        raise RuntimeError(f"worker {self.name} not ready after {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and its pool children)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL whatever is left of the group (pool children included)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


def wait_idle(worker: WorkerProcess, *, timeout: float = 20.0) -> None:
    """Wait until the test broker's queues are empty and the worker runs no task (so a test's
    teardown does not truncate tables under a running task)."""
    from config.celery_app import app

    deadline = time.monotonic() + timeout
    with app.connection_for_write(redis_url()) as conn:
        client = conn.default_channel.client
        while time.monotonic() < deadline:
            if any(client.llen(queue) for queue in QUEUES.split(",")):
                time.sleep(0.05)
                continue
            inspect = app.control.inspect(
                destination=[f"{worker.name}@{socket.gethostname()}"], timeout=1.0, connection=conn
            )
            active = inspect.active() or {}
            reserved = inspect.reserved() or {}
            if not any(active.values()) and not any(reserved.values()):
                return
            time.sleep(0.05)


def shutdown_strays() -> None:
    """Stop workers that a crashed earlier run left listening on this test broker."""
    from config.celery_app import app

    with app.connection_for_write(redis_url()) as conn:
        app.control.broadcast("shutdown", connection=conn)


def purge_queues() -> None:
    """Forget tasks left in the test broker by an earlier run."""
    from config.celery_app import app

    with app.connection_for_write(redis_url()) as conn:
        for queue in QUEUES.split(","):
            conn.default_channel.queue_purge(queue)
